"""Fixed 3-D sin-cos position encoding of ContentV's video tokens (trap 4 of docs/architecture.md).

Not learned and not RoPE: rebuilt from the latent grid (T', H', W') on every forward pass and added
once to the patch embeddings. Channel layout of the D channels, each group as [sin | cos]:

    [ time (D/4) | column x (3D/8) | row y (3D/8) ]

with frequencies ω_k = 10000^(−k / (n/2)) for a group of width n, computed in float64. Grid index i
becomes position i / scale: spatial scale 0.5 (position 2i), temporal scale 1.0. Token order is
(t, row, column), the order of the per-frame patchify in `mmdit.PatchEmbedFrames`.
"""

from __future__ import annotations

from functools import lru_cache

import torch

SPATIAL_INTERPOLATION_SCALE = 0.5
TEMPORAL_INTERPOLATION_SCALE = 1.0


def sincos_1d(positions: torch.Tensor, width: int) -> torch.Tensor:
    """[N] float64 positions -> [N, width] as [sin(pos·ω_k) for all k | cos(pos·ω_k) for all k]."""
    if width % 2:
        raise ValueError(f"a sin-cos group needs an even width, got {width}")
    half = width // 2
    omega = 1.0 / 10000.0 ** (torch.arange(half, dtype=torch.float64) / half)
    angles = positions.to(torch.float64)[:, None] * omega[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


@lru_cache(maxsize=16)
def _sincos_3d_float64(frames: int, rows: int, cols: int, dim: int, t_scale: float, s_scale: float) -> torch.Tensor:
    if dim % 16:
        raise ValueError(f"3-D sin-cos needs the width to be a multiple of 16, got {dim}")
    time_width, space_width = dim // 4, 3 * dim // 4
    t = sincos_1d(torch.arange(frames, dtype=torch.float64) / t_scale, time_width)  # [T, D/4]
    x = sincos_1d(torch.arange(cols, dtype=torch.float64) / s_scale, space_width // 2)  # [W, 3D/8]
    y = sincos_1d(torch.arange(rows, dtype=torch.float64) / s_scale, space_width // 2)  # [H, 3D/8]
    grid = torch.cat(
        [
            t[:, None, None, :].expand(frames, rows, cols, time_width),
            x[None, None, :, :].expand(frames, rows, cols, space_width // 2),
            y[None, :, None, :].expand(frames, rows, cols, space_width // 2),
        ],
        dim=-1,
    )
    return grid.reshape(frames * rows * cols, dim)


def sincos_3d(
    frames: int,
    rows: int,
    cols: int,
    dim: int,
    *,
    t_scale: float = TEMPORAL_INTERPOLATION_SCALE,
    s_scale: float = SPATIAL_INTERPOLATION_SCALE,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """[T'·H'·W', D] encoding in (t, row, column) token order, cast to `dtype` at the end."""
    table = _sincos_3d_float64(frames, rows, cols, dim, float(t_scale), float(s_scale))
    return table.to(device=device, dtype=dtype)
