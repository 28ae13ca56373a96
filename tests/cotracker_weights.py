"""Seeded random CoTracker2 weights in the released `cotracker2.pth` layout (test helper, not a test).

Every tensor is generated from its key alone (seed + CRC-32 of the key), so a key table is enough to
rebuild the same weights anywhere: CI rebuilds the full-size file that the golden tracks of
scripts/fidelity/camera_motion_golden.py were recorded with, instead of storing 180 MB of noise.
Plain random weights make CoTracker's refinement chaotic: a 1e-6 change of the input moves tracks by
pixels after six iterations, so no two correct implementations would agree. These weights are tame:
unit-variance linear maps, small biases, the transformer blind to the high-frequency sin-cos flow
embedding (its input columns 2…129 are zero) and coordinate steps 10× smaller than feature updates.
The released code then moves points by a few pixels, and a 1e-6 input change by about 1e-4 pixel.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import torch

KEY_TABLE = Path(__file__).parent / "data" / "cotracker2_keys.tsv"
FLOW_SINCOS = slice(2, 130)  # transformer input: [flow x, y | 128 sin-cos of the flow | correlations | …]
COORDINATE_GAIN = 0.1


def read_key_table(path: Path = KEY_TABLE) -> list[tuple[str, tuple[int, ...]]]:
    """(key, shape) rows of the released checkpoint, in its order (columns: key, shape, dtype)."""
    rows = []
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, shape, _dtype = line.split("\t")
            rows.append((key, tuple(int(n) for n in shape.split(",")) if shape else ()))
    return rows


def seeded_tensor(key: str, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(key.encode()))
    noise = torch.randn(shape, generator=generator)
    if key in ("time_emb", "pos_emb"):
        return torch.sin(3 * noise)  # in [−1, 1], as the sin-cos tables they replace
    if key.endswith(".bias"):
        return 0.02 * noise
    if len(shape) == 1:  # affine norm weights
        return 1 + 0.1 * noise
    if key.endswith("virual_tracks"):
        return noise
    weight = noise / math.sqrt(math.prod(shape[1:]))
    if key == "updateformer.input_transform.weight":
        weight[:, FLOW_SINCOS] = 0
    if key == "updateformer.flow_head.weight":
        weight[:2] *= COORDINATE_GAIN  # rows 0, 1: the Δx, Δy of each refinement step
    return weight


def seeded_state(rows: list[tuple[str, tuple[int, ...]]], seed: int = 0) -> dict[str, torch.Tensor]:
    return {key: seeded_tensor(key, shape, seed) for key, shape in rows}


def tiny_rows() -> list[tuple[str, tuple[int, ...]]]:
    """Key table of a tiny CoTracker2 (latent 16, one 48-wide head, 2+2 blocks, 64×96 model input)."""
    from vbench_lite.dimensions.backbones.cotracker import CoTracker2, CoTracker2Config

    config = CoTracker2Config(latent_dim=16, hidden_size=48, time_depth=2, space_depth=2, num_virtual_tracks=4,
                              mlp_hidden=96, window_len=8, model_resolution=(64, 96))
    with torch.device("meta"):
        model = CoTracker2(config)
    return [(key, tuple(value.shape)) for key, value in model.state_dict().items()]


def write_cotracker2(root: Path, state: dict[str, torch.Tensor], wrap: bool = False) -> Path:
    """`<root>/cotracker2.pth`, a flat state dict as the hub file (or co-tracker's {"model": …})."""
    path = Path(root) / "cotracker2.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": state} if wrap else state, path)
    return path
