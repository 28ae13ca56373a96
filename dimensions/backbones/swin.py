"""Swin Transformer (shifted-window ViT), as Tag2Text's image encoder uses it.

Attribute names are the checkpoint keys under `visual_encoder.` in `tag2text_swin_14m.pth`:
patch_embed.{proj, norm}, layers.N.blocks.N.{norm1, attn.{relative_position_bias_table, qkv, proj},
norm2, mlp.{fc1, fc2}}, layers.N.downsample.{norm, reduction}, norm. The relative-position index
and the shifted-window masks are derived from the geometry, so they are non-persistent buffers
(the checkpoint's copies are dropped by the loader, as Tag2Text's own loader does).

Tag2Text's variant returns, after the final LayerNorm, the mean of the patch tokens prepended to
them: (B, 1 + H/32·W/32, C).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

SHIFTED_WINDOW_MASK = -100.0  # what Swin adds between tokens from different image regions
LAYER_NORM_EPS = 1e-5


@dataclass(frozen=True)
class SwinConfig:
    image_size: int = 384
    patch_size: int = 4
    embed_dim: int = 128
    depths: tuple[int, ...] = (2, 2, 18, 2)
    num_heads: tuple[int, ...] = (4, 8, 16, 32)
    window_size: int = 12
    mlp_ratio: float = 4.0

    @property
    def num_features(self) -> int:
        return self.embed_dim * 2 ** (len(self.depths) - 1)


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, H, W, C) → (B·nW, window², C), windows in row-major order."""
    batch, height, width, channels = x.shape
    x = x.view(batch, height // window, window, width // window, window, channels)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, channels)


def window_reverse(windows: torch.Tensor, window: int, height: int, width: int) -> torch.Tensor:
    """Inverse of `window_partition`: (B·nW, window², C) → (B, H, W, C)."""
    channels = windows.shape[-1]
    x = windows.view(-1, height // window, width // window, window, window, channels)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, height, width, channels)


def relative_position_index(window: int) -> torch.Tensor:
    """Index into the (2w−1)² bias table for every (query, key) pair of a window."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return relative[:, :, 0] * (2 * window - 1) + relative[:, :, 1]


def shifted_window_mask(height: int, width: int, window: int, shift: int) -> torch.Tensor:
    """(nW, window², window²): 0 within a region, −100 across the regions that the roll wrapped."""
    regions = torch.zeros(1, height, width, 1)
    label = 0
    for rows in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
        for cols in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
            regions[:, rows, cols, :] = label
            label += 1
    windows = window_partition(regions, window).squeeze(-1)
    different = windows.unsqueeze(1) != windows.unsqueeze(2)
    return torch.zeros(different.shape).masked_fill(different, SHIFTED_WINDOW_MASK)


class WindowAttention(nn.Module):
    relative_position_index: torch.Tensor

    def __init__(self, dim: int, window: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, num_heads))
        self.window = window
        self.register_buffer("relative_position_index", relative_position_index(window), persistent=False)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        windows, tokens, channels = x.shape
        qkv = self.qkv(x).reshape(windows, tokens, 3, self.num_heads, channels // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # (windows, heads, tokens, head width)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(tokens, tokens, -1).permute(2, 0, 1)  # (heads, tokens, tokens)
        if mask is not None:  # per window of an image: (images, windows per image, …)
            per_image = mask.shape[0]
            q, k, v = (t.reshape(windows // per_image, per_image, *t.shape[1:]) for t in (q, k, v))
            bias = bias + mask[:, None]
        # softmax(q·kᵀ·scale + bias + mask)·v, fused
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), scale=self.scale)
        out = out.reshape(windows, self.num_heads, tokens, -1)
        return self.proj(out.transpose(1, 2).reshape(windows, tokens, channels))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class SwinBlock(nn.Module):
    attn_mask: torch.Tensor | None

    def __init__(self, dim: int, resolution: int, num_heads: int, window: int, shift: int, mlp_ratio: float):
        super().__init__()
        if resolution <= window:  # one window covers the map: nothing to shift
            window, shift = resolution, 0
        self.resolution, self.window, self.shift = resolution, window, shift
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attn = WindowAttention(dim, window, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        mask = shifted_window_mask(resolution, resolution, window, shift) if shift else None
        self.register_buffer("attn_mask", mask, persistent=False)

    def reset_derived_buffers(self) -> None:
        """Recompute the geometry buffers in place (after `to_empty` left them uninitialised)."""
        self.attn.relative_position_index.copy_(relative_position_index(self.window))
        if self.attn_mask is not None:
            self.attn_mask.copy_(shifted_window_mask(self.resolution, self.resolution, self.window, self.shift))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, channels = x.shape
        side = self.resolution
        shifted = self.norm1(x).view(batch, side, side, channels)
        if self.shift:
            shifted = torch.roll(shifted, shifts=(-self.shift, -self.shift), dims=(1, 2))
        windows = self.attn(window_partition(shifted, self.window), self.attn_mask)
        shifted = window_reverse(windows, self.window, side, side)
        if self.shift:
            shifted = torch.roll(shifted, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x + shifted.reshape(batch, tokens, channels)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """2×2 neighbours concatenated (order: (0,0), (1,0), (0,1), (1,1)), normed, projected to 2C."""

    def __init__(self, dim: int, resolution: int):
        super().__init__()
        self.resolution = resolution
        self.norm = nn.LayerNorm(4 * dim, eps=LAYER_NORM_EPS)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, channels = x.shape
        x = x.view(batch, self.resolution, self.resolution, channels)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x.view(batch, -1, 4 * channels)))


class SwinStage(nn.Module):
    def __init__(self, config: SwinConfig, index: int):
        super().__init__()
        dim = config.embed_dim * 2**index
        resolution = config.image_size // config.patch_size // 2**index
        window = config.window_size
        self.blocks = nn.ModuleList(
            SwinBlock(dim, resolution, config.num_heads[index], window, 0 if i % 2 == 0 else window // 2,
                      config.mlp_ratio)
            for i in range(config.depths[index])
        )
        last = index == len(config.depths) - 1
        self.downsample = None if last else PatchMerging(dim, resolution)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x if self.downsample is None else self.downsample(x)


class PatchEmbed(nn.Module):
    def __init__(self, config: SwinConfig):
        super().__init__()
        self.proj = nn.Conv2d(3, config.embed_dim, kernel_size=config.patch_size, stride=config.patch_size)
        self.norm = nn.LayerNorm(config.embed_dim, eps=LAYER_NORM_EPS)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(pixels).flatten(2).transpose(1, 2))


class SwinTransformer(nn.Module):
    def __init__(self, config: SwinConfig):
        super().__init__()
        self.config = config
        self.patch_embed = PatchEmbed(config)
        self.layers = nn.ModuleList(SwinStage(config, i) for i in range(len(config.depths)))
        self.norm = nn.LayerNorm(config.num_features, eps=LAYER_NORM_EPS)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) normalised pixels → (B, 1 + (S/32)², C): [mean token; patch tokens]."""
        size = self.config.image_size
        if tuple(pixels.shape[-2:]) != (size, size):
            raise ValueError(f"Swin expects {size}×{size} inputs, got {tuple(pixels.shape[-2:])}")
        x = self.patch_embed(pixels)
        for stage in self.layers:
            x = stage(x)
        x = self.norm(x)
        return torch.cat([x.mean(dim=1, keepdim=True), x], dim=1)
