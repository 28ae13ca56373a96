"""The kernel route of fp32 linear layers on CPU, chosen per machine by measurement.

PyTorch sends an fp32 `nn.Linear` on CPU to MKL's sgemm; oneDNN's matmul is the other route. Which
is faster depends on the CPU: on a Zen 5 EPYC with AVX-512, a ViT-B linear layer (337×768 → 3072,
one thread) ran at about 85 GFLOPS through MKL and 210 through oneDNN; on an AVX2-only EPYC, 72
through MKL and 59 through oneDNN. So `choose_linear_route(model, …)` times both routes on the
model's own layer shapes, once per host (the result is cached in `~/.vbl/kernel-routes.json`),
keeps the faster and marks the model with it; `kernel_routes.py` folds the mark into the label
the runner records in the run's manifest (`environment.kernel_routes`). oneDNN still multiplies
and accumulates in fp32; only the summation order differs, so outputs move at the rounding level
(about 1e-6 relative).

`use_onednn_linears(model)` switches a model's `nn.Linear` and self-attention
`nn.MultiheadAttention` modules in place; parameters, state-dict keys and the GPU path are
untouched. `VBL_LINEAR_ROUTE=pytorch|onednn` forces a route (for comparisons and tests; the older
`VBL_ONEDNN=0` means pytorch).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from vbench_lite.dimensions.backbones.route_cache import best_time, cached_choice, host_key
from vbench_lite.dimensions.backbones.self_attention import SdpaSelfAttention

ModuleT = TypeVar("ModuleT", bound=nn.Module)

# Builds without oneDNN (or without this op) keep PyTorch's route.
_HAS_ONEDNN_LINEAR = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


ROUTES = ("pytorch", "onednn")


def onednn_enabled() -> bool:
    return _HAS_ONEDNN_LINEAR and os.environ.get("VBL_ONEDNN", "1") != "0"


def forced_route() -> str | None:
    """The route `VBL_LINEAR_ROUTE` (or `VBL_ONEDNN=0`) imposes, if any."""
    if not onednn_enabled():
        return "pytorch"
    route = os.environ.get("VBL_LINEAR_ROUTE", "auto")
    return route if route in ROUTES else None


def linear_shapes(model: nn.Module) -> Counter[tuple[int, int]]:
    """(in, out) of every fp32 matrix product the model's linear and attention layers make."""
    shapes: Counter[tuple[int, int]] = Counter()
    for module in model.modules():
        if isinstance(module, nn.Linear):
            shapes[(module.in_features, module.out_features)] += 1
        elif isinstance(module, nn.MultiheadAttention) and module._qkv_same_embed_dim:
            shapes[(module.embed_dim, 3 * module.embed_dim)] += 1  # its in_proj (out_proj is a Linear)
    return shapes


def time_routes(shapes: Counter[tuple[int, int]], rows: int) -> dict[str, float]:
    """Seconds per model-worth of products on each route: each shape timed on `rows` tokens
    (the best of several calls, after a warm-up), weighted by how many layers have it."""
    totals = dict.fromkeys(ROUTES, 0.0)
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for (inputs, outputs), count in shapes.items():
            x = torch.randn(rows, inputs, generator=generator)
            weight, bias = torch.randn(outputs, inputs, generator=generator), torch.randn(outputs, generator=generator)
            for route in ROUTES:
                totals[route] += _best_time(route, x, weight, bias) * count
    return totals


def _best_time(route: str, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> float:
    if route == "pytorch":
        return best_time(lambda: F.linear(x, weight, bias))
    return best_time(lambda: torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], ""))


def choose_linear_route(model: ModuleT, device: str = "cpu", rows: int = 197) -> ModuleT:
    """Put the model's linear layers on the faster route for this machine (see the module
    docstring); `rows` is the token count of a typical call. The choice is kept on the model as
    `vbl_linear_route` (read by `choose_kernel_routes` for the manifest's label)."""
    if torch.device(device).type != "cpu" or not _HAS_ONEDNN_LINEAR:
        route = "pytorch"
    else:
        route = forced_route() or _measured_route(linear_shapes(model), rows)
    if route == "onednn":
        use_onednn_linears(model)
    object.__setattr__(model, "vbl_linear_route", route)  # a plain attribute, not a module or parameter
    return model


def _measured_route(shapes: Counter[tuple[int, int]], rows: int) -> str:
    key = host_key(str(rows), ",".join(f"{i}x{o}x{c}" for (i, o), c in sorted(shapes.items())))
    return cached_choice(key, ROUTES, lambda: time_routes(shapes, rows))


def _takes_onednn(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (
        x.device.type == "cpu"
        and x.dtype == weight.dtype == torch.float32
        and not (torch.is_grad_enabled() and weight.requires_grad)
        and onednn_enabled()
    )


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """`F.linear`, through oneDNN's matmul for CPU fp32 inference."""
    if _takes_onednn(x, weight):
        return torch.ops.mkldnn._linear_pointwise(x.contiguous(), weight, bias, "none", [], "")
    return F.linear(x, weight, bias)


class OneDnnLinear(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


class OneDnnSelfAttention(SdpaSelfAttention):
    """`SdpaSelfAttention` with its two projections through oneDNN (`linear`)."""

    def project(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return linear(x, weight, bias)

    def takes_sdpa(self, query: torch.Tensor) -> bool:
        return _takes_onednn(query, self.in_proj_weight)


def use_onednn_linears(model: ModuleT) -> ModuleT:
    """Switch the model's linear and self-attention modules to the oneDNN forwards, in place."""
    for module in model.modules():
        if type(module) is nn.Linear:
            module.__class__ = OneDnnLinear
        elif type(module) in (nn.MultiheadAttention, SdpaSelfAttention):
            module.__class__ = OneDnnSelfAttention
    return model
