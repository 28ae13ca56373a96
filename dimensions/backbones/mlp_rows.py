"""Transformer MLPs run over chunks of rows, when that measures faster on this host.

A ViT's MLP is row-wise: each token's output depends on that token alone. Over a whole batch its
hidden activation is large (16 ViT-L/14 images: 4112 rows × 4096 = 67 MB), so the activation
function streams it through memory and every call maps fresh pages for it. Chunks of rows keep
the hidden activation in cache; the products are the same per row (MKL gave identical outputs
here). On an AVX2-only EPYC, one ViT-L/14 MLP with QuickGELU on 16 images took 0.91× the time
in 1024-row chunks, and DINO's ViT-B/16 MLP 0.96×; smaller chunks were no better there. Whether
to chunk is measured per host on the model's own shapes (`choose_mlp_rows`).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from vbench_lite.dimensions.backbones.route_cache import best_time, cached_choice, host_key

CHUNK_ROWS = (1024,)
MLP_ROUTES = ("whole", *(str(rows) for rows in CHUNK_ROWS))
_ACTIVATIONS = ("GELU", "QuickGELU")
_CHUNKED_CLASSES: dict[type, type] = {}


def row_wise_mlps(model: nn.Module) -> list[nn.Module]:
    """The model's MLPs that are row-wise for sure: an `nn.Sequential` of Linear, GELU or QuickGELU,
    Linear (OpenAI CLIP's `mlp`), or a module whose class says `row_wise = True`."""
    found = []
    for module in model.modules():
        if getattr(type(module), "row_wise", False):
            found.append(module)
        elif type(module) is nn.Sequential and len(module) == 3:
            first, act, last = module
            if isinstance(first, nn.Linear) and isinstance(last, nn.Linear) and type(act).__name__ in _ACTIVATIONS:
                found.append(module)
    return found


def _first_linear(mlp: nn.Module) -> nn.Linear:
    return next(m for m in mlp.children() if isinstance(m, nn.Linear))


def _chunked_forward(self: Any, x: torch.Tensor) -> torch.Tensor:
    rows = self.vbl_mlp_rows
    flat = x.reshape(-1, x.shape[-1])
    whole = super(type(self), self).forward
    if flat.shape[0] <= rows:
        return whole(x)
    out = torch.cat([whole(part) for part in flat.split(rows)])
    return out.view(*x.shape[:-1], out.shape[-1])


def chunk_rows(mlp: nn.Module, rows: int) -> None:
    """Make `mlp` run over `rows`-row chunks (in place; parameters and state-dict keys unchanged)."""
    base = type(mlp)
    if base not in _CHUNKED_CLASSES:
        _CHUNKED_CLASSES[base] = type(f"RowChunked{base.__name__}", (base,), {"forward": _chunked_forward})
    mlp.__class__ = _CHUNKED_CLASSES[base]
    object.__setattr__(mlp, "vbl_mlp_rows", rows)


def choose_mlp_rows(model: nn.Module, rows: int) -> str:
    """Chunk the model's row-wise MLPs where that measures faster for calls of `rows` rows (tokens
    × images). `VBL_MLP_ROUTE=whole|1024` forces a route. Returns the route taken."""
    mlps = [m for m in row_wise_mlps(model) if type(m) not in _CHUNKED_CLASSES.values()]
    if not mlps:
        return "whole"
    route = os.environ.get("VBL_MLP_ROUTE", "auto")
    if route not in MLP_ROUTES:
        shapes = sorted({(first.in_features, first.out_features) for first in map(_first_linear, mlps)})
        key = host_key("mlp", str(rows), ",".join(f"{w}x{h}" for w, h in shapes))
        route = cached_choice(key, MLP_ROUTES, lambda: time_mlp_routes(mlps[0], rows))
    if route != "whole":
        for mlp in mlps:
            chunk_rows(mlp, int(route))
    return route


def time_mlp_routes(mlp: nn.Module, rows: int) -> dict[str, float]:
    """Seconds per call of `mlp` on `rows` random rows, whole and in each chunk size."""
    import copy

    first = _first_linear(mlp)
    x = torch.randn(rows, first.in_features, generator=torch.Generator().manual_seed(0),
                    dtype=first.weight.dtype, device=first.weight.device)
    timings = {}
    with torch.inference_mode():
        for route in MLP_ROUTES:
            trial = copy.deepcopy(mlp)
            if route != "whole":
                chunk_rows(trial, int(route))
            timings[route] = best_time(lambda: trial(x), repeats=2)  # noqa: B023 (called here, at once)
    return timings
