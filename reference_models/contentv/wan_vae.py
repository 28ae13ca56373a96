"""The Wan2.1 causal 3-D VAE (`AutoencoderKLWan` naming): 4× time, 8×8 space, 16 ch.

Execution is chunked and causal, as in the official code, for numerical parity and bounded memory:
encode takes frame 0 alone and then chunks of 4 frames; decode takes one latent frame at a time.
Every causal conv keeps its last `CACHE_FRAMES` input frames in a `StreamCache` between chunks, so
a chunk sees exactly the past a whole-sequence causal conv would see.

The first latent frame is special (trap 6): it decodes to one frame, because each temporal
upsampler skips its time conv on the first chunk; later latent frames give 2 frames per temporal
stage, so 1 + 4·(T'−1) frames in all. The temporal upsampler's causal conv therefore sees latent
frames 1…T'−1 only, zero-padded on the left; its 2C outputs are interleaved as consecutive frames
(first C channels = earlier frame). The decoded video is clamped to [−1, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vbench_lite.reference_models.contentv.config import WanVAEConfig

CACHE_FRAMES = 2  # a kernel-3 causal conv needs the 2 previous frames
ENCODE_CHUNK_FRAMES = 4
_SKIPPED_FIRST_CHUNK = "skipped-first-chunk"  # marker: the upsampler has passed its first chunk


class StreamCache(dict):
    """Per-module state carried from one chunk to the next (past frames, or a marker)."""


class CausalConv3d(nn.Conv3d):
    """Conv3d padded only on the past side in time (2·pad frames), symmetrically in space."""

    def __init__(self, in_ch: int, out_ch: int, kernel, stride=1, padding=0):
        super().__init__(in_ch, out_ch, kernel, stride=stride, padding=0)
        pad = (padding,) * 3 if isinstance(padding, int) else tuple(padding)
        self.time_pad, self.space_pad = 2 * pad[0], (pad[1], pad[2])

    def forward(self, x: torch.Tensor, past: torch.Tensor | None = None) -> torch.Tensor:
        left = self.time_pad
        if past is not None and left > 0:
            x = torch.cat([past.to(x.device), x], dim=2)
            left -= past.shape[2]
        h, w = self.space_pad
        return super().forward(F.pad(x, (w, w, h, h, left, 0)))


def _streamed(conv: CausalConv3d, x: torch.Tensor, cache: StreamCache | None) -> torch.Tensor:
    """Apply a stride-1 causal conv to one chunk, using and updating its cached past frames."""
    if cache is None:
        return conv(x)
    past = cache.get(conv)
    cache[conv] = _last_frames(past, x)
    return conv(x, past)


def _last_frames(past: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    """The last CACHE_FRAMES frames of [past ; x], concatenating only when x alone is too short."""
    if x.shape[2] >= CACHE_FRAMES or past is None:
        return x[:, :, -CACHE_FRAMES:].clone()
    return torch.cat([past[:, :, -(CACHE_FRAMES - x.shape[2]) :].to(x.device), x], dim=2)


class ChannelRMSNorm(nn.Module):
    """L2-normalise over channels, times sqrt(C) and a learned `gamma`; no bias (Wan's RMS_norm)."""

    def __init__(self, dim: int, images: bool = False):
        super().__init__()
        self.scale = dim**0.5
        self.gamma = nn.Parameter(torch.ones(dim, 1, 1) if images else torch.ones(dim, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low_precision = x.dtype in (torch.float16, torch.bfloat16)
        normed = F.normalize(x.float() if low_precision else x, dim=1).to(x.dtype)
        return normed * self.scale * self.gamma


class ResidualBlock(nn.Module):
    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.norm1 = ChannelRMSNorm(in_dim)
        self.conv1 = CausalConv3d(in_dim, out_dim, 3, padding=1)
        self.norm2 = ChannelRMSNorm(out_dim)
        self.dropout = nn.Dropout(0.0)
        self.conv2 = CausalConv3d(out_dim, out_dim, 3, padding=1)
        self.conv_shortcut = CausalConv3d(in_dim, out_dim, 1) if in_dim != out_dim else nn.Identity()

    def forward(self, x: torch.Tensor, cache: StreamCache | None = None) -> torch.Tensor:
        shortcut = self.conv_shortcut(x)
        x = _streamed(self.conv1, F.silu(self.norm1(x)), cache)
        x = _streamed(self.conv2, self.dropout(F.silu(self.norm2(x))), cache)
        return x + shortcut


class FrameAttention(nn.Module):
    """Single-head self-attention within each frame (not across time), 1×1 Conv2d qkv/proj."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = ChannelRMSNorm(dim, images=True)
        self.to_qkv = nn.Conv2d(dim, 3 * dim, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, frames, height, width = x.shape
        frames_2d = x.permute(0, 2, 1, 3, 4).reshape(batch * frames, channels, height, width)
        qkv = self.to_qkv(self.norm(frames_2d)).reshape(batch * frames, 1, 3 * channels, -1)
        q, k, v = qkv.permute(0, 1, 3, 2).contiguous().chunk(3, dim=-1)
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.squeeze(1).permute(0, 2, 1).reshape(batch * frames, channels, height, width)
        out = self.proj(out).view(batch, frames, channels, height, width).permute(0, 2, 1, 3, 4)
        return out + x


class MidBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.attentions = nn.ModuleList([FrameAttention(dim)])
        self.resnets = nn.ModuleList([ResidualBlock(dim, dim), ResidualBlock(dim, dim)])

    def forward(self, x: torch.Tensor, cache: StreamCache | None = None) -> torch.Tensor:
        x = self.resnets[0](x, cache)
        return self.resnets[1](self.attentions[0](x), cache)


class NearestExactUpsample(nn.Module):
    """2× nearest-exact in float32, back to the input dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x.float(), scale_factor=2.0, mode="nearest-exact").type_as(x)


class Resample(nn.Module):
    """down/upsample in 2-D (per frame) or 3-D (+ a temporal conv `time_conv`); the spatial conv
    sits at `resample.1` because `resample.0` is the pad or the upsample."""

    def __init__(self, dim: int, mode: str):
        super().__init__()
        self.mode = mode
        if mode.startswith("upsample"):
            self.resample = nn.Sequential(NearestExactUpsample(), nn.Conv2d(dim, dim // 2, 3, padding=1))
        else:
            self.resample = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(dim, dim, 3, stride=2))
        if mode == "upsample3d":
            self.time_conv = CausalConv3d(dim, 2 * dim, (3, 1, 1), padding=(1, 0, 0))
        elif mode == "downsample3d":
            self.time_conv = CausalConv3d(dim, dim, (3, 1, 1), stride=(2, 1, 1))

    def forward(self, x: torch.Tensor, cache: StreamCache | None = None) -> torch.Tensor:
        if self.mode == "upsample3d":
            x = self._upsample_time(x, cache)
        batch, channels, frames = x.shape[:3]
        frames_2d = x.permute(0, 2, 1, 3, 4).reshape(batch * frames, channels, *x.shape[3:])
        y = self.resample(frames_2d)
        x = y.view(batch, frames, *y.shape[1:]).permute(0, 2, 1, 3, 4)
        if self.mode == "downsample3d":
            x = self._downsample_time(x, cache)
        return x

    def _upsample_time(self, x: torch.Tensor, cache: StreamCache | None) -> torch.Tensor:
        if cache is not None and self not in cache:
            cache[self] = _SKIPPED_FIRST_CHUNK  # first latent frame: one frame out (trap 6)
            return x
        if cache is None:
            doubled = self.time_conv(x)
        else:
            past = cache[self]
            past = None if isinstance(past, str) else past  # zero-padded left of latent frame 1
            cache[self] = _last_frames(past, x)
            doubled = self.time_conv(x, past)
        batch, channels, frames, height, width = x.shape
        # [B, 2C, T] -> [B, C, 2T]: the first C channels are the earlier of the two frames.
        pairs = doubled.reshape(batch, 2, channels, frames, height, width)
        return torch.stack((pairs[:, 0], pairs[:, 1]), dim=3).reshape(batch, channels, 2 * frames, height, width)

    def _downsample_time(self, x: torch.Tensor, cache: StreamCache | None) -> torch.Tensor:
        if cache is None:  # whole sequence: frame 0 passes, then kernel 3 stride 2 over [x0..]
            return torch.cat([x[:, :, :1], self.time_conv(x)], dim=2) if x.shape[2] > 1 else x
        if self not in cache:
            cache[self] = x[:, :, -1:].clone()
            return x  # the first chunk is frame 0 alone; it passes unchanged
        previous = cache[self]
        cache[self] = x[:, :, -1:].clone()
        return self.time_conv(torch.cat([previous, x], dim=2))


class Encoder3d(nn.Module):
    def __init__(self, config: WanVAEConfig):
        super().__init__()
        dims = [config.base_dim * m for m in (1, *config.dim_mult)]
        self.conv_in = CausalConv3d(3, dims[0], 3, padding=1)
        blocks: list[nn.Module] = []
        levels = len(config.dim_mult)
        for level, (in_dim, out_dim) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            for _ in range(config.num_res_blocks):
                blocks.append(ResidualBlock(in_dim, out_dim))
                in_dim = out_dim
            if level != levels - 1:
                temporal = config.temperal_downsample[level]
                blocks.append(Resample(out_dim, "downsample3d" if temporal else "downsample2d"))
        self.down_blocks = nn.ModuleList(blocks)
        self.mid_block = MidBlock(dims[-1])
        self.norm_out = ChannelRMSNorm(dims[-1])
        self.conv_out = CausalConv3d(dims[-1], 2 * config.z_dim, 3, padding=1)

    def forward(self, x: torch.Tensor, cache: StreamCache | None = None) -> torch.Tensor:
        x = _streamed(self.conv_in, x, cache)
        for block in self.down_blocks:
            x = block(x, cache)
        x = self.mid_block(x, cache)
        return _streamed(self.conv_out, F.silu(self.norm_out(x)), cache)


class UpBlock(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, num_resnets: int, upsample: str | None):
        super().__init__()
        self.resnets = nn.ModuleList(ResidualBlock(in_dim if i == 0 else out_dim, out_dim) for i in range(num_resnets))
        self.upsamplers = nn.ModuleList([Resample(out_dim, upsample)]) if upsample else None

    def forward(self, x: torch.Tensor, cache: StreamCache | None = None) -> torch.Tensor:
        for resnet in self.resnets:
            x = resnet(x, cache)
        return self.upsamplers[0](x, cache) if self.upsamplers is not None else x


class Decoder3d(nn.Module):
    def __init__(self, config: WanVAEConfig):
        super().__init__()
        mult = config.dim_mult
        dims = [config.base_dim * m for m in (mult[-1], *mult[::-1])]
        temporal_up = config.temperal_downsample[::-1]
        self.conv_in = CausalConv3d(config.z_dim, dims[0], 3, padding=1)
        self.mid_block = MidBlock(dims[0])
        blocks = []
        for level, (in_dim, out_dim) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            if level > 0:
                in_dim //= 2  # the previous level's upsampler halved the channels
            upsample = None
            if level != len(mult) - 1:
                upsample = "upsample3d" if temporal_up[level] else "upsample2d"
            blocks.append(UpBlock(in_dim, out_dim, config.num_res_blocks + 1, upsample))
        self.up_blocks = nn.ModuleList(blocks)
        self.norm_out = ChannelRMSNorm(dims[-1])
        self.conv_out = CausalConv3d(dims[-1], 3, 3, padding=1)

    def forward(self, z: torch.Tensor, cache: StreamCache | None = None) -> torch.Tensor:
        x = _streamed(self.conv_in, z, cache)
        x = self.mid_block(x, cache)
        for block in self.up_blocks:
            x = block(x, cache)
        return _streamed(self.conv_out, F.silu(self.norm_out(x)), cache)


class WanVAE(nn.Module):
    """`encoder`, `quant_conv`, `post_quant_conv`, `decoder`; latents normalised by mean/std."""

    def __init__(self, config: WanVAEConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder3d(config)
        self.quant_conv = CausalConv3d(2 * config.z_dim, 2 * config.z_dim, 1)
        self.post_quant_conv = CausalConv3d(config.z_dim, config.z_dim, 1)
        self.decoder = Decoder3d(config)

    def _stats(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, self.config.z_dim, 1, 1, 1)
        mean = torch.tensor(self.config.latents_mean, dtype=like.dtype, device=like.device)
        std = torch.tensor(self.config.latents_std, dtype=like.dtype, device=like.device)
        return mean.view(shape), std.view(shape)

    def encode_moments(self, video: torch.Tensor) -> torch.Tensor:
        """[B, 3, 1+4k, H, W] in [-1, 1] -> [B, 2·z, 1+k, H/8, W/8] (mean ; logvar), chunks 1, 4, 4…"""
        cache = StreamCache()
        chunks = [self.encoder(video[:, :, :1], cache)]
        for start in range(1, video.shape[2], ENCODE_CHUNK_FRAMES):
            chunks.append(self.encoder(video[:, :, start : start + ENCODE_CHUNK_FRAMES], cache))
        return self.quant_conv(torch.cat(chunks, dim=2))

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """Posterior mode, normalised: z' = (mu − mean) / std."""
        mu = self.encode_moments(video)[:, : self.config.z_dim]
        mean, std = self._stats(mu)
        return (mu - mean) / std

    def decode_raw(self, z: torch.Tensor, chunk_frames: int = 1) -> torch.Tensor:
        """Un-normalised latents [B, z, T', h, w] -> video [B, 3, 1+4(T'−1), 8h, 8w] in [−1, 1].

        `chunk_frames=1` is the official schedule (one latent frame at a time); larger chunks after
        the first frame are the same computation with fewer, bigger convolutions.
        """
        x = self.post_quant_conv(z)
        cache = StreamCache()
        outputs = [self.decoder(x[:, :, :1], cache)]  # the first latent frame, alone
        for start in range(1, x.shape[2], chunk_frames):
            outputs.append(self.decoder(x[:, :, start : start + chunk_frames], cache))
        return torch.cat(outputs, dim=2).clamp(-1.0, 1.0)

    def decode(self, latents: torch.Tensor, chunk_frames: int = 1) -> torch.Tensor:
        """Normalised latents z' -> z = z'·std + mean -> video in [−1, 1]."""
        mean, std = self._stats(latents)
        return self.decode_raw(latents * std + mean, chunk_frames)
