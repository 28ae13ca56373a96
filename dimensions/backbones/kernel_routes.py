"""Every kernel choice a transformer backbone makes on CPU, measured per host (see route_cache).

1. its linear layers' route: PyTorch's default (MKL) or oneDNN (onednn.py);
2. its batch-first `nn.MultiheadAttention`: PyTorch's fast path or the fused SDPA kernel
   (self_attention.py);
3. its row-wise MLPs: whole or over chunks of rows (mlp_rows.py).

Each keeps the faster choice on this machine, never assumes one. The choices are recorded on the
model as one label (`vbl_kernel_route`, e.g. "pytorch+sdpa+mlp1024"), which the backbone cache
collects for the run's manifest (`environment.kernel_routes`). On GPUs nothing changes.
"""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import nn

from vbench_lite.dimensions.backbones.mlp_rows import choose_mlp_rows
from vbench_lite.dimensions.backbones.onednn import choose_linear_route
from vbench_lite.dimensions.backbones.self_attention import choose_attention_route

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def choose_kernel_routes(model: ModuleT, device: str = "cpu", tokens: int = 197, images: int = 16) -> ModuleT:
    """Put `model` on the fastest routes for calls of `images` inputs of `tokens` tokens each."""
    model = choose_linear_route(model, device, rows=tokens)
    label = str(model.vbl_linear_route)
    if torch.device(device).type == "cpu":
        if choose_attention_route(model, tokens, images) == "sdpa":
            label += "+sdpa"
        mlp = choose_mlp_rows(model, tokens * images)
        if mlp != "whole":
            label += f"+mlp{mlp}"
    object.__setattr__(model, "vbl_kernel_route", label)  # a plain attribute, not a module or parameter
    return model
