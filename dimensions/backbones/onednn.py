"""fp32 linear layers through oneDNN on CPU: the same products, about 2.5× faster here.

PyTorch sends an fp32 `nn.Linear` on CPU to MKL's sgemm, and MKL takes its AVX-512 kernels on
Intel CPUs only: on the AMD EPYC (Zen 5) machines this project runs on, a ViT-B linear layer runs
at about 85 GFLOPS on one core through MKL and 210 GFLOPS through oneDNN's AVX-512 kernel
(benchmarks/vs_vbench.py with and without `--no-onednn`). oneDNN still multiplies and accumulates
in fp32; only the summation order differs, so outputs move at the rounding level (about 1e-6
relative) and scores stay far inside the 1e-4 agreement with VBench.

`use_onednn_linears(model)` switches a loaded model's `nn.Linear` and self-attention
`nn.MultiheadAttention` modules in place. Parameters, state-dict keys and the GPU path are
untouched: anything that is not a CPU fp32 inference call takes PyTorch's own route.
`VBL_ONEDNN=0` turns the switch off (for comparisons).
"""

from __future__ import annotations

import os
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

ModuleT = TypeVar("ModuleT", bound=nn.Module)

# Builds without oneDNN (or without this op) keep PyTorch's route.
_HAS_ONEDNN_LINEAR = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def onednn_enabled() -> bool:
    return _HAS_ONEDNN_LINEAR and os.environ.get("VBL_ONEDNN", "1") != "0"


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
