"""Self-attention through `scaled_dot_product_attention`, for `nn.MultiheadAttention` modules.

A batch-first `nn.MultiheadAttention` in inference takes PyTorch's "fast path"
(`_native_multi_head_attention`: explicit q·kᵀ, softmax and ·v products, and copies between
layouts); a sequence-first one, as in OpenAI's CLIP that VBench runs, computes the same attention
with the fused `scaled_dot_product_attention` kernel. On an AVX2-only EPYC, one ViT-L/14 attention
layer on 16 images (257 tokens) took 0.80× the fast path's time through the fused kernel; outputs
differ at the rounding level (7e-8). Which is faster is measured per host
(`choose_attention_route`), not assumed.
"""

from __future__ import annotations

import os
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from vbench_lite.dimensions.backbones.route_cache import best_time, cached_choice, host_key

ModuleT = TypeVar("ModuleT", bound=nn.Module)
ATTENTION_ROUTES = ("native", "sdpa")


class SdpaSelfAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention for self-attention with an optional float mask: input projection,
    scaled dot-product attention and output projection, as PyTorch's own slow path computes them,
    with the two projections through `project`. Any other use goes through PyTorch's forward."""

    def project(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return F.linear(x, weight, bias)

    def takes_sdpa(self, query: torch.Tensor) -> bool:
        return True

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
            and self.takes_sdpa(query)
        )
        if not plain:
            return super().forward(
                query, key, value, key_padding_mask=key_padding_mask, need_weights=need_weights,
                attn_mask=attn_mask, average_attn_weights=average_attn_weights, is_causal=is_causal,
            )
        x = query if self.batch_first else query.transpose(0, 1)  # [batch, tokens, width]
        batch, tokens, width = x.shape
        qkv = self.project(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(batch, tokens, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        out = self.project(out.transpose(1, 2).reshape(batch, tokens, width), self.out_proj.weight, self.out_proj.bias)
        return (out if self.batch_first else out.transpose(0, 1)), None


def fast_path_attentions(model: nn.Module) -> list[nn.MultiheadAttention]:
    """The model's batch-first `nn.MultiheadAttention` modules (the ones PyTorch's fast path takes)."""
    return [m for m in model.modules() if type(m) is nn.MultiheadAttention and m.batch_first]


def choose_attention_route(model: ModuleT, tokens: int, images: int) -> str:
    """Switch the model's fast-path attentions to `SdpaSelfAttention` where that measures faster
    on this host for `images` inputs of `tokens` tokens (`VBL_ATTENTION_ROUTE=native|sdpa` forces one).
    Returns the route taken ("native" when the model has no such module)."""
    modules = fast_path_attentions(model)
    if not modules:
        return "native"
    route = os.environ.get("VBL_ATTENTION_ROUTE", "auto")
    if route not in ATTENTION_ROUTES:
        shapes = sorted({(m.embed_dim, m.num_heads) for m in modules})
        key = host_key("attention", f"{images}x{tokens}", ",".join(f"{w}x{h}" for w, h in shapes))
        route = cached_choice(key, ATTENTION_ROUTES, lambda: time_attention_routes(shapes, tokens, images))
    if route == "sdpa":
        for module in modules:
            module.__class__ = SdpaSelfAttention
    return route


def time_attention_routes(shapes: list[tuple[int, int]], tokens: int, images: int) -> dict[str, float]:
    """Seconds per call of each route, summed over the (width, heads) shapes."""
    totals = dict.fromkeys(ATTENTION_ROUTES, 0.0)
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for width, heads in shapes:
            native = nn.MultiheadAttention(width, heads, batch_first=True).eval()
            fused = nn.MultiheadAttention(width, heads, batch_first=True).eval()
            fused.__class__ = SdpaSelfAttention
            x = torch.randn(images, tokens, width, generator=generator)
            totals["native"] += best_time(lambda: native(x, x, x, need_weights=False), repeats=2)  # noqa: B023 (called at once)
            totals["sdpa"] += best_time(lambda: fused(x, x, x, need_weights=False), repeats=2)  # noqa: B023
    return totals
