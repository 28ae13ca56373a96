"""Seeded random Tag2Text weights, rebuilt key by key, shared by the tests and the oracle script.

Plain torch and the standard library only: scripts/fidelity/tag2text_oracle.py imports this file
in VBench's environment, where vbench_lite is not installed. A tensor depends only on the seed,
its key and its shape, so VBench's model and ours get identical weights whatever order their
state dicts list the keys in; tied keys get their owner's tensor, as in a saved checkpoint.

Scales: BERT-style N(0, 0.02) weights make every caption the same word soup. These weights are
larger where the image has to reach the words (the tag head's scores, the cross-attention
values and outputs, the decoder's LM head), so that the tags and captions change from frame to
frame of a real clip; tests/data/tag2text_golden.json records what VBench made of them.
"""

from __future__ import annotations

import re
import zlib

import torch

# The sizes of the fidelity model: the real layout (key names, tag list, vocabulary, 768-wide
# BERTs, 384-px Swin with 12-px windows and four stages), fewer and narrower layers.
FIDELITY_SWIN = {"embed_dim": 32, "depths": [2, 2, 2, 2], "num_heads": [1, 2, 4, 8], "window_size": 12}
FIDELITY_TEXT = {"num_hidden_layers": 2, "intermediate_size": 768}  # tag encoder and decoder (12 heads)
FIDELITY_TAG_HEAD = {"num_hidden_layers": 2, "intermediate_size": 768}  # 4 heads, as the real one

# later key → the earlier key of the same tensor (a checkpoint of tied modules holds it twice)
TIES = (
    (r"^text_decoder\.cls\.predictions\.decoder\.weight$", "text_decoder.bert.embeddings.word_embeddings.weight"),
    (r"^text_decoder\.cls\.predictions\.decoder\.bias$", "text_decoder.cls.predictions.bias"),
    (r"^vision_multi\.encoder\.layer\.([01])\.((crossattention|intermediate|output)\..*)$",
     r"tag_encoder.encoder.layer.\1.\2"),
)
DERIVED = ("relative_position_index", "attn_mask", "position_ids")


def owner_of(key: str) -> str | None:
    for pattern, owner in TIES:
        if re.match(pattern, key):
            return re.sub(pattern, owner, key)
    return None


def _scale(key: str) -> float:
    if key.startswith("fc."):
        return 0.06  # tag scores with a spread of a few units: some tags on, most off
    if "crossattention.self.value" in key or "crossattention.output.dense" in key:
        return 0.12
    if key.startswith("text_decoder.cls.") or "word_embeddings" in key:
        return 0.05
    if "relative_position_bias_table" in key:
        return 0.5
    return 0.03


def random_tensor(key: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(key.encode()))
    noise = torch.randn(shape, generator=generator)
    leaf = key.rsplit(".", 1)[-1]
    is_norm = re.search(r"(LayerNorm|norm\d?)\.(weight|bias)$", key) is not None
    if is_norm and leaf == "weight":
        return 1.0 + 0.1 * noise
    if leaf in ("bias", "b") or is_norm:
        return 0.02 * noise
    return _scale(key) * noise


def random_state(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Weights for every key of `shapes` (derived buffers excluded), ties shared."""
    state: dict[str, torch.Tensor] = {}
    for key, shape in shapes.items():
        if key.rsplit(".", 1)[-1] in DERIVED or owner_of(key):
            continue
        state[key] = random_tensor(key, tuple(shape), seed)
    for key in shapes:
        owner = owner_of(key)
        if owner is not None:
            state[key] = state[owner]
    return state
