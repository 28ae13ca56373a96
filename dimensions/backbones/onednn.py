"""The kernel route of fp32 linear layers on CPU, chosen per machine by measurement.

PyTorch sends an fp32 `nn.Linear` on CPU to MKL's sgemm; oneDNN's matmul is the other route. Which
is faster depends on the CPU: on a Zen 5 EPYC with AVX-512, a ViT-B linear layer (337×768 → 3072,
one thread) ran at about 85 GFLOPS through MKL and 210 through oneDNN; on an AVX2-only EPYC, 72
through MKL and 59 through oneDNN. So `choose_linear_route(model, …)` times both routes on the
model's own layer shapes, once per host (the result is cached in `~/.vbl/kernel-routes.json`),
keeps the faster and marks the model with it; the backbone cache collects the marks and the
runner records them in the run's manifest (`environment.kernel_routes`). oneDNN still multiplies
and accumulates in fp32; only the summation order differs, so outputs move at the rounding level
(about 1e-6 relative).

`use_onednn_linears(model)` switches a model's `nn.Linear` and self-attention
`nn.MultiheadAttention` modules in place; parameters, state-dict keys and the GPU path are
untouched. `VBL_LINEAR_ROUTE=pytorch|onednn` forces a route (for comparisons and tests; the older
`VBL_ONEDNN=0` means pytorch).
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from pathlib import Path
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

ModuleT = TypeVar("ModuleT", bound=nn.Module)

# Builds without oneDNN (or without this op) keep PyTorch's route.
_HAS_ONEDNN_LINEAR = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


ROUTES = ("pytorch", "onednn")
TIMING_REPEATS = 5


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
    (best of TIMING_REPEATS, after a warm-up), weighted by how many layers have it."""
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
    def run() -> torch.Tensor:
        if route == "pytorch":
            return F.linear(x, weight, bias)
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")

    run()  # warm-up: first calls allocate and pick kernels
    best = float("inf")
    for _ in range(TIMING_REPEATS):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def choose_linear_route(model: ModuleT, device: str = "cpu", rows: int = 197) -> ModuleT:
    """Put the model's linear layers on the faster route for this machine (see the module
    docstring); `rows` is the token count of a typical call. The choice is kept on the model as
    `vbl_linear_route`, where the backbone cache reads it for the manifest."""
    if torch.device(device).type != "cpu" or not _HAS_ONEDNN_LINEAR:
        route = "pytorch"
    else:
        route = forced_route() or _measured_route(linear_shapes(model), rows)
    if route == "onednn":
        use_onednn_linears(model)
    object.__setattr__(model, "vbl_linear_route", route)  # a plain attribute, not a module or parameter
    return model


def _measured_route(shapes: Counter[tuple[int, int]], rows: int) -> str:
    from vbench_lite.weights import vbl_home

    key = "|".join([_cpu_name(), torch.__version__, str(torch.get_num_threads()), str(rows),
                    ",".join(f"{i}x{o}x{c}" for (i, o), c in sorted(shapes.items()))])
    cache = vbl_home() / "kernel-routes.json"
    known = _read_routes(cache)
    if key not in known:
        timings = time_routes(shapes, rows)
        known[key] = min(timings, key=timings.__getitem__)
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(known, indent=1, sort_keys=True))
        except OSError:
            pass  # a read-only home: measure again next time
    return known[key]


def _read_routes(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items() if v in ROUTES} if isinstance(data, dict) else {}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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


class OneDnnSelfAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention for self-attention with an optional float mask: input projection,
    scaled dot-product attention and output projection, as PyTorch computes them, with the two
    projections through `linear`. Any other use falls back to PyTorch's own forward."""

    def forward(  # type: ignore[override]
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        plain = (
            query is key is value
            and not need_weights
            and key_padding_mask is None
            and not is_causal
            and (attn_mask is None or (attn_mask.dim() == 2 and attn_mask.is_floating_point()))
            and self._qkv_same_embed_dim
            and self.bias_k is None
            and not self.add_zero_attn
            and query.dim() == 3
            and _takes_onednn(query, self.in_proj_weight)
        )
        if not plain:
            return super().forward(
                query, key, value, key_padding_mask=key_padding_mask, need_weights=need_weights,
                attn_mask=attn_mask, average_attn_weights=average_attn_weights, is_causal=is_causal,
            )
        x = query if self.batch_first else query.transpose(0, 1)  # [batch, tokens, width]
        batch, tokens, width = x.shape
        qkv = linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(batch, tokens, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        out = linear(out.transpose(1, 2).reshape(batch, tokens, width), self.out_proj.weight, self.out_proj.bias)
        return (out if self.batch_first else out.transpose(0, 1)), None


def use_onednn_linears(model: ModuleT) -> ModuleT:
    """Switch the model's linear and self-attention modules to the oneDNN forwards, in place."""
    for module in model.modules():
        if type(module) is nn.Linear:
            module.__class__ = OneDnnLinear
        elif type(module) is nn.MultiheadAttention:
            module.__class__ = OneDnnSelfAttention
    return model
