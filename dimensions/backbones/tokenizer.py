"""CLIP's byte-pair tokenizer, from the vocabulary file that `open_clip_torch` ships (no download).

OpenAI CLIP, VBench's ViCLIP and open_clip all use the same BPE vocabulary
(`bpe_simple_vocab_16e6.txt.gz`) and the same cleaning (ftfy, HTML unescape, whitespace, lower case),
so one tokenizer serves them all; only the context length differs: 77 for CLIP, 32 for ViCLIP
(VBench's ViCLIP text encoder). Too-long texts are cut to the context length with the end-of-text token kept last,
which is what ViCLIP's own `tokenize(truncate=True)` does.
"""

from __future__ import annotations

from functools import cache

CLIP_CONTEXT_LENGTH = 77
VICLIP_CONTEXT_LENGTH = 32


@cache
def clip_tokenizer(context_length: int = CLIP_CONTEXT_LENGTH):
    """open_clip's SimpleTokenizer over its packaged vocabulary; call it with a list of texts."""
    from open_clip.tokenizer import SimpleTokenizer, default_bpe

    return SimpleTokenizer(bpe_path=default_bpe(), context_length=context_length)
