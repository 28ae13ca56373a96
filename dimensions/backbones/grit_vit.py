"""GRiT-B's backbone: a ViTDet ViT-B/16 and its simple feature pyramid (p3–p7).

Attribute names are the checkpoint's keys under `backbone.`: `bottom_up.{pos_embed, patch_embed.proj,
blocks.N.{norm1, attn.{qkv, proj, rel_pos_h, rel_pos_w}, norm2, mlp.{fc1, fc2}}}`,
`fpn_stride_16_8`, `fpn_stride{8,16,32}_{conv1, norm1, conv2, norm2}` and `top_block.{p6, p7}`.

ViTDet as GRiT configures it: 12 blocks, LayerNorm eps 1e-6, exact-GELU MLP, decomposed relative
positions in every block; blocks 0, 1, 3, 4, 6, 7, 9, 10 attend inside 14×14 windows (tokens
zero-padded to whole windows, the padding attended like any token), blocks 2, 5, 8, 11 attend
globally with their 127-entry tables (a 64×64 grid) linearly resized to the frame's grid. The
224-grid absolute position embedding (class token dropped) is resized bicubically to the grid.
The pyramid: p3 = 2× transposed conv, p4 = the stride-16 map, p5 = 2× max-pool, each followed by
1×1 conv → LN → 3×3 conv → LN (channels-last LayerNorm); p6, p7 = stride-2 convs on p5 (ReLU between).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

WINDOW_SIZE = 14
PRETRAIN_GRID = 14  # 224 / 16: the grid `pos_embed` was trained on
PYRAMID_STRIDES = (8, 16, 32, 64, 128)
SIZE_DIVISIBILITY = 32  # frames are zero-padded (bottom/right, after normalising) to a multiple of this


class PatchEmbed(nn.Module):
    def __init__(self, embed_dim: int, patch_size: int = 16):
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.proj(pixels).permute(0, 2, 3, 1)  # [B, h, w, C]


def relative_table(size: int, table: torch.Tensor) -> torch.Tensor:
    """ViTDet's `get_rel_pos` for equal query and key sizes: [size, size, C] embeddings of i − j."""
    length = 2 * size - 1
    if table.shape[0] != length:
        table = F.interpolate(table.t()[None].float(), size=length, mode="linear")[0].t().to(table.dtype)
    coords = torch.arange(size, device=table.device)
    return table[coords[:, None] - coords[None, :] + (size - 1)]


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int, table_length: int):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos_h = nn.Parameter(torch.zeros(table_length, head_dim))
        self.rel_pos_w = nn.Parameter(torch.zeros(table_length, head_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, height, width, dim = x.shape
        qkv = self.qkv(x).reshape(batch, height * width, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, batch * self.num_heads, height * width, -1).unbind(0)
        # attn = softmax(q·scale·kᵀ + rel_h + rel_w); rel_* use the unscaled q (decomposed rel-pos).
        r_q = q.reshape(batch * self.num_heads, height, width, -1)
        rel_h = torch.einsum("bhwc,hkc->bhwk", r_q, relative_table(height, self.rel_pos_h).to(q.dtype))
        rel_w = torch.einsum("bhwc,wkc->bhwk", r_q, relative_table(width, self.rel_pos_w).to(q.dtype))
        bias = (rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]).reshape(
            batch * self.num_heads, height * width, height * width)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=self.scale)
        out = out.view(batch, self.num_heads, height, width, -1).permute(0, 2, 3, 1, 4)
        return self.proj(out.reshape(batch, height, width, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def window_partition(x: torch.Tensor, window: int) -> tuple[torch.Tensor, tuple[int, int]]:
    batch, height, width, dim = x.shape
    pad_h, pad_w = (window - height % window) % window, (window - width % window) % window
    x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    padded = (height + pad_h, width + pad_w)
    x = x.view(batch, padded[0] // window, window, padded[1] // window, window, dim)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window, window, dim), padded


def window_unpartition(windows: torch.Tensor, window: int, padded: tuple[int, int],
                       size: tuple[int, int]) -> torch.Tensor:
    rows, cols = padded[0] // window, padded[1] // window
    batch = windows.shape[0] // (rows * cols)
    x = windows.view(batch, rows, cols, window, window, -1).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(batch, padded[0], padded[1], -1)[:, : size[0], : size[1]]


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_hidden: int, window: int, table_length: int):
        super().__init__()
        self.window = window  # 0: global attention
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, table_length)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, mlp_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.window:
            size = (x.shape[1], x.shape[2])
            windows, padded = window_partition(x, self.window)
            x = window_unpartition(self.attn(windows), self.window, padded, size)
        else:
            x = self.attn(x)
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """ViTDet's plain ViT: [B, 3, H, W] normalised pixels → [B, C, H/16, W/16]."""

    def __init__(self, embed_dim: int, depth: int, num_heads: int, global_blocks: tuple[int, ...],
                 global_table: int = 127, mlp_ratio: int = 4):
        super().__init__()
        self.patch_embed = PatchEmbed(embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, PRETRAIN_GRID * PRETRAIN_GRID + 1, embed_dim))
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, embed_dim * mlp_ratio,
                  window=0 if i in global_blocks else WINDOW_SIZE,
                  table_length=global_table if i in global_blocks else 2 * WINDOW_SIZE - 1)
            for i in range(depth)
        )

    def absolute_positions(self, height: int, width: int) -> torch.Tensor:
        grid = self.pos_embed[:, 1:]
        side = int(math.sqrt(grid.shape[1]))
        grid = grid.reshape(1, side, side, -1)
        if (side, side) != (height, width):
            grid = F.interpolate(grid.permute(0, 3, 1, 2).float(), size=(height, width), mode="bicubic",
                                 align_corners=False).permute(0, 2, 3, 1)
        return grid

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(pixels)
        x = x + self.absolute_positions(x.shape[1], x.shape[2]).to(x.dtype)
        for block in self.blocks:
            x = block(x)
        return x.permute(0, 3, 1, 2)


class LastLevelP6P7(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.p6 = nn.Conv2d(channels, channels, 3, 2, 1)
        self.p7 = nn.Conv2d(channels, channels, 3, 2, 1)

    def forward(self, p5: torch.Tensor) -> list[torch.Tensor]:
        p6 = self.p6(p5)
        return [p6, self.p7(F.relu(p6))]


def _channels_last_norm(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    return norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ViTFPN(nn.Module):
    """The simple feature pyramid over the ViT: returns [p3, p4, p5, p6, p7]."""

    def __init__(self, bottom_up: ViT, embed_dim: int, out_channels: int):
        super().__init__()
        self.bottom_up = bottom_up
        self.top_block = LastLevelP6P7(out_channels)
        self.maxpool = nn.MaxPool2d(2, stride=2)
        self.fpn_stride_16_8 = nn.ConvTranspose2d(embed_dim, embed_dim, 2, stride=2, bias=False)
        for stride in (8, 16, 32):
            setattr(self, f"fpn_stride{stride}_conv1", nn.Conv2d(embed_dim, out_channels, 1, bias=False))
            setattr(self, f"fpn_stride{stride}_norm1", nn.LayerNorm(out_channels))
            setattr(self, f"fpn_stride{stride}_conv2", nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False))
            setattr(self, f"fpn_stride{stride}_norm2", nn.LayerNorm(out_channels))

    def _level(self, stride: int, x: torch.Tensor) -> torch.Tensor:
        part = f"fpn_stride{stride}_"
        x = _channels_last_norm(getattr(self, part + "norm1"), getattr(self, part + "conv1")(x))
        return _channels_last_norm(getattr(self, part + "norm2"), getattr(self, part + "conv2")(x))

    def forward(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        features = self.bottom_up(pixels)
        p3 = self._level(8, self.fpn_stride_16_8(features))
        p4 = self._level(16, features)
        p5 = self._level(32, self.maxpool(features))
        return [p3, p4, p5, *self.top_block(p5)]
