"""ContentV's MMDiT: SD3.5-Large's joint-attention transformer run over video tokens.

Attribute names are the diffusers names, so `state_dict()` keys equal the keys of the public
`ByteDance/ContentV-8B` `transformer/` folder and loading is a strict `load_state_dict`.
Parameter-free norms register no parameters. Numerical traps handled here (numbered as in
docs/architecture.md): 1 (AdaLN chunk orders), 2 (per-head fp32 QK RMSNorm), 3 (float timestep,
cos-first sinusoid), 5 ([video; text] joint order).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vbench_lite.reference_models.contentv.config import MMDiTConfig
from vbench_lite.reference_models.contentv.posenc import sincos_3d

NORM_EPS = 1e-6
TIMESTEP_CHANNELS = 256


def timestep_sinusoid(timesteps: torch.Tensor, channels: int = TIMESTEP_CHANNELS) -> torch.Tensor:
    """[B] float timesteps (1000·σ', not an index) -> [B, channels] float32 as [cos | sin] (trap 3).

    Frequencies exp(−ln(10000)·k/half), k < half, with no frequency shift.
    """
    half = channels // 2
    exponent = -math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=timesteps.device)
    freqs = torch.exp(exponent / half)
    angles = timesteps.float()[:, None] * freqs[None, :]
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


class TwoLayerMLP(nn.Module):
    """Linear -> SiLU -> Linear (`linear_1`, `linear_2`)."""

    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))


class TimestepTextEmbed(nn.Module):
    """temb = MLP(sinusoid256(t)) + MLP(pooled text)."""

    def __init__(self, dim: int, pooled_dim: int):
        super().__init__()
        self.timestep_embedder = TwoLayerMLP(TIMESTEP_CHANNELS, dim)
        self.text_embedder = TwoLayerMLP(pooled_dim, dim)

    def forward(self, timesteps: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        t_emb = self.timestep_embedder(timestep_sinusoid(timesteps).to(pooled.dtype))
        return t_emb + self.text_embedder(pooled)


class PatchEmbedFrames(nn.Module):
    """Per-frame Conv2d patchify (kernel = stride = patch) plus the 3-D sin-cos encoding."""

    def __init__(self, config: MMDiTConfig):
        super().__init__()
        self.config = config
        self.proj = nn.Conv2d(config.in_channels, config.inner_dim, config.patch_size, stride=config.patch_size)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        batch, channels, frames, height, width = latents.shape
        per_frame = latents.permute(0, 2, 1, 3, 4).reshape(batch * frames, channels, height, width)
        tokens = self.proj(per_frame)  # [B·T, D, H', W']
        rows, cols = tokens.shape[-2:]
        tokens = tokens.flatten(2).transpose(1, 2).reshape(batch, frames * rows * cols, -1)
        position = sincos_3d(
            frames,
            rows,
            cols,
            self.config.inner_dim,
            t_scale=self.config.temporal_interpolation_scale,
            s_scale=self.config.spatial_interpolation_scale,
            dtype=tokens.dtype,
            device=tokens.device,
        )
        return tokens + position[None]


class AdaLayerNormZero(nn.Module):
    """SiLU(temb) -> Linear to 6D, chunks (shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp,
    gate_mlp): shift first (trap 1). LayerNorm without affine."""

    def __init__(self, dim: int):
        super().__init__()
        self.linear = nn.Linear(dim, 6 * dim)

    def forward(self, x: torch.Tensor, temb: torch.Tensor):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.linear(F.silu(temb)).chunk(6, dim=1)
        normed = F.layer_norm(x, x.shape[-1:], eps=NORM_EPS)
        return normed * (1 + scale_msa[:, None]) + shift_msa[:, None], gate_msa, shift_mlp, scale_mlp, gate_mlp


class AdaLayerNormContinuous(nn.Module):
    """SiLU(cond) -> Linear to 2D, chunks (scale, shift): scale first (trap 1)."""

    def __init__(self, dim: int, cond_dim: int):
        super().__init__()
        self.linear = nn.Linear(cond_dim, 2 * dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.linear(F.silu(cond).to(x.dtype)).chunk(2, dim=1)
        normed = F.layer_norm(x, x.shape[-1:], eps=NORM_EPS)
        return normed * (1 + scale[:, None]) + shift[:, None]


class HeadRMSNorm(nn.Module):
    """RMSNorm over one head's channels, computed in fp32, cast to the weight dtype, then scaled
    by the learned weight (trap 2)."""

    def __init__(self, head_dim: int, eps: float = NORM_EPS):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(head_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.float().pow(2).mean(-1, keepdim=True)
        normed = x.float() * torch.rsqrt(variance + self.eps)
        if self.weight.dtype in (torch.float16, torch.bfloat16):
            return normed.to(self.weight.dtype) * self.weight
        return (normed * self.weight).to(x.dtype)


class JointAttention(nn.Module):
    """Joint self-attention over [video ; text] tokens (trap 5), no mask, scale 1/sqrt(head_dim)."""

    def __init__(self, dim: int, heads: int, head_dim: int, context_pre_only: bool):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.context_pre_only = context_pre_only
        self.to_q, self.to_k, self.to_v = (nn.Linear(dim, heads * head_dim) for _ in range(3))
        self.add_q_proj, self.add_k_proj, self.add_v_proj = (nn.Linear(dim, heads * head_dim) for _ in range(3))
        self.norm_q, self.norm_k = HeadRMSNorm(head_dim), HeadRMSNorm(head_dim)
        self.norm_added_q, self.norm_added_k = HeadRMSNorm(head_dim), HeadRMSNorm(head_dim)
        # `to_out.0`: diffusers keeps a ModuleList [Linear, Dropout]; dropout has no keys.
        self.to_out = nn.ModuleList([nn.Linear(heads * head_dim, dim), nn.Dropout(0.0)])
        if not context_pre_only:
            self.to_add_out = nn.Linear(heads * head_dim, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], -1, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, video: torch.Tensor, text: torch.Tensor):
        q = torch.cat(
            [self.norm_q(self._heads(self.to_q(video))), self.norm_added_q(self._heads(self.add_q_proj(text)))], dim=2
        )
        k = torch.cat(
            [self.norm_k(self._heads(self.to_k(video))), self.norm_added_k(self._heads(self.add_k_proj(text)))], dim=2
        )
        v = torch.cat([self._heads(self.to_v(video)), self._heads(self.add_v_proj(text))], dim=2)
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(1, 2).reshape(video.shape[0], -1, self.heads * self.head_dim).to(q.dtype)
        video_len = video.shape[1]  # split by the video length: video tokens come first
        video_out = self.to_out[0](out[:, :video_len])
        text_out = None if self.context_pre_only else self.to_add_out(out[:, video_len:])
        return video_out, text_out


class GeluTanh(nn.Module):
    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.proj = nn.Linear(dim, inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.proj(x), approximate="tanh")


class FeedForward(nn.Module):
    """`net.0.proj` (GELU-tanh), `net.1` dropout (no keys), `net.2`."""

    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.net = nn.ModuleList([GeluTanh(dim, mult * dim), nn.Dropout(0.0), nn.Linear(mult * dim, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.net:
            x = layer(x)
        return x


class JointBlock(nn.Module):
    """One dual-stream block; the last one (`context_pre_only`) gives the text stream K/V only."""

    def __init__(self, dim: int, heads: int, head_dim: int, context_pre_only: bool = False):
        super().__init__()
        self.context_pre_only = context_pre_only
        self.norm1 = AdaLayerNormZero(dim)
        self.norm1_context = AdaLayerNormContinuous(dim, dim) if context_pre_only else AdaLayerNormZero(dim)
        self.attn = JointAttention(dim, heads, head_dim, context_pre_only)
        self.ff = FeedForward(dim)
        if not context_pre_only:
            self.ff_context = FeedForward(dim)

    def forward(self, video: torch.Tensor, text: torch.Tensor, temb: torch.Tensor):
        normed, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.norm1(video, temb)
        if self.context_pre_only:
            normed_text = self.norm1_context(text, temb)
        else:
            normed_text, c_gate_msa, c_shift_mlp, c_scale_mlp, c_gate_mlp = self.norm1_context(text, temb)
        attn_video, attn_text = self.attn(normed, normed_text)

        video = video + gate_msa[:, None] * attn_video
        normed = F.layer_norm(video, video.shape[-1:], eps=NORM_EPS)
        video = video + gate_mlp[:, None] * self.ff(normed * (1 + scale_mlp[:, None]) + shift_mlp[:, None])
        if self.context_pre_only:
            return video, None
        text = text + c_gate_msa[:, None] * attn_text
        normed_text = F.layer_norm(text, text.shape[-1:], eps=NORM_EPS)
        text = text + c_gate_mlp[:, None] * self.ff_context(
            normed_text * (1 + c_scale_mlp[:, None]) + c_shift_mlp[:, None]
        )
        return video, text


class VideoMMDiT(nn.Module):
    """5-D latents [B, C, T', H, W] + text [B, L, Dj] + pooled [B, Dp] + timestep [B] -> velocity."""

    def __init__(self, config: MMDiTConfig):
        super().__init__()
        self.config = config
        dim = config.inner_dim
        self.pos_embed = PatchEmbedFrames(config)
        self.time_text_embed = TimestepTextEmbed(dim, config.pooled_projection_dim)
        self.context_embedder = nn.Linear(config.joint_attention_dim, config.caption_projection_dim)
        self.transformer_blocks = nn.ModuleList(
            JointBlock(
                dim, config.num_attention_heads, config.attention_head_dim, context_pre_only=i == config.num_layers - 1
            )
            for i in range(config.num_layers)
        )
        self.norm_out = AdaLayerNormContinuous(dim, dim)
        self.proj_out = nn.Linear(dim, config.patch_size**2 * config.out_channels)

    def forward(
        self,
        latents: torch.Tensor,
        text: torch.Tensor,
        pooled: torch.Tensor,
        timesteps: torch.Tensor,
    ) -> torch.Tensor:
        batch, _, frames, height, width = latents.shape
        p = self.config.patch_size
        video = self.pos_embed(latents)
        temb = self.time_text_embed(timesteps, pooled)
        text = self.context_embedder(text)
        for block in self.transformer_blocks:
            video, text = block(video, text, temb)
        video = self.proj_out(self.norm_out(video, temb))
        return unpatchify(video, frames, height // p, width // p, p, self.config.out_channels)


def unpatchify(tokens: torch.Tensor, frames: int, rows: int, cols: int, patch: int, channels: int) -> torch.Tensor:
    """[B, T'·H'·W', p·p·C] with outputs ordered (p_row, q_col, c) -> [B, C, T', H'·p, W'·p]."""
    batch = tokens.shape[0]
    x = tokens.reshape(batch, frames, rows, cols, patch, patch, channels)
    x = x.permute(0, 6, 1, 2, 4, 3, 5)  # B, C, T, H', p, W', q
    return x.reshape(batch, channels, frames, rows * patch, cols * patch)
