"""Seeded random UMT checkpoints in the real on-disk layout (test helper, not a test).

`l16_ptk710_ftk710_ftk400_f16_res224.pth` is a bare state dict of fp16 tensors without `pos_embed`
(its size leaves no room for one; VBench then uses the interpolated sinusoid table). The values here
are generated key by key, each key from its own seeded generator, so CI rebuilds the same weights at
any size (the full ViT-L from `tests/data/umt_keys.tsv`) instead of storing them.

The Kinetics head is shaped so that the rule under test is exercised: outputs 0, 1, 2 and 3 get
biases that put their probabilities clearly above, around, and below the 0.85 threshold, every other
class stays far below it, and the clip content moves each logit by about ±0.5.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import torch

from vbench_lite.dimensions.backbones.umt import UMT_WEIGHTS, UmtClassifier, UmtConfig

KEY_TABLE = Path(__file__).parent / "data" / "umt_keys.tsv"
TINY = UmtConfig(width=128, depth=2, mlp_width=512)  # two 64-wide heads, as UMT's head width
HEAD_BIASES = {0: 3.0, 1: 1.75, 2: 1.0, 3: 0.5}  # p ≈ 0.95, 0.85, 0.73, 0.62 before the content term
OTHER_CLASSES_BIAS = -2.0
NORM_WEIGHTS = ("norm1.weight", "norm2.weight", "fc_norm.weight")


def key_table() -> list[tuple[str, tuple[int, ...]]]:
    """The full-size keys and shapes of the key table (`blocks.N.*` expanded to N = 0..23)."""
    keys = []
    for line in KEY_TABLE.read_text().splitlines():
        name, shape, count = line.split("\t")
        dims = tuple(int(d) for d in re.findall(r"\d+", shape))
        repeats = int(count.removeprefix("x"))
        keys += [(name.replace(".N.", f".{i}."), dims) for i in range(repeats)] if ".N." in name else [(name, dims)]
    return keys


def model_keys(config: UmtConfig) -> list[tuple[str, tuple[int, ...]]]:
    """Keys and shapes of our module at `config`, read from a model built on the meta device."""
    with torch.device("meta"):
        model = UmtClassifier(config)
    return [(name, tuple(tensor.shape)) for name, tensor in model.state_dict().items()]


def seeded_value(name: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))
    noise = torch.randn(shape, generator=generator)
    if name.endswith(NORM_WEIGHTS):
        return 1.0 + 0.1 * noise
    if name == "head.weight":
        return noise * 0.5 * shape[1] ** -0.5
    if name == "head.bias":
        bias = torch.full(shape, OTHER_CLASSES_BIAS) + 0.02 * noise
        for index, value in HEAD_BIASES.items():
            bias[index] = value
        return bias
    return 0.02 * noise


def umt_state_dict(config: UmtConfig = TINY, seed: int = 0, pos_embed: bool = False,
                   dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    """A state dict in the real file's layout: fp16, no `pos_embed` unless asked for."""
    keys = key_table() if config == UmtConfig() else model_keys(config)
    return {name: seeded_value(name, shape, seed).to(dtype) for name, shape in keys
            if pos_embed or name != "pos_embed"}


def write_umt(root: Path, state: dict[str, torch.Tensor] | None = None, wrapper: str | None = None,
              prefix: str = "") -> Path:
    """`<root>/umt_model/l16_ptk710_ftk710_ftk400_f16_res224.pth` (VBench's cache layout)."""
    state = umt_state_dict() if state is None else state
    state = {prefix + name: value for name, value in state.items()}
    path = Path(root) / UMT_WEIGHTS.vbench_subdir / UMT_WEIGHTS.file
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({wrapper: state} if wrapper else state, path)
    return path
