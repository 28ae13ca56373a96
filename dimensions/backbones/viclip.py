"""ViCLIP (InternVid), VBench's video–text model for overall_consistency and temporal_style.

As VBench loads it (docs/dimensions.md, overall_consistency): a CLIP ViT-L/14 whose patch embedding
is a Conv3d with temporal kernel 1, with a learned temporal position embedding, attending jointly
over all patches of the 8 frames ("space-time joint" attention, one [CLS] token per video), and
CLIP's text transformer with a 32-token context. Written here from VBench's `third_party/ViCLIP`
(viclip.py, viclip_vision.py, viclip_text.py) so that module attribute names equal the checkpoint
keys and `ViClip-InternVid-10M-FLT.pth` (`{"model": state_dict}`) loads with a plain strict
`load_state_dict`. Left out: training-only parts (token masking, drop path, dropout, gradient
checkpointing), which are identity at inference.

The sizes are read from the checkpoint (widths, depths, patch, frames, context; heads = width/64,
as in CLIP), so the real file builds ViT-L/14 and a tiny test file builds a tiny model through the
same code. VBench runs ViCLIP in fp32 on every device; so does this module.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import torch
from torch import nn

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.kernel_routes import choose_kernel_routes
from vbench_lite.dimensions.backbones.tokenizer import VICLIP_CONTEXT_LENGTH, clip_tokenizer
from vbench_lite.errors import InputError
from vbench_lite.weights import WeightSpec, require_weight, sha256_of

VICLIP_WEIGHTS = WeightSpec(
    key="viclip_internvid_10m_flt",
    file="ViClip-InternVid-10M-FLT.pth",
    backend="vbench",
    vbench_subdir="ViCLIP",
    url="https://huggingface.co/OpenGVLab/VBench_Used_Models/resolve/main/ViClip-InternVid-10M-FLT.pth",
    licence="MIT",
    what="ViCLIP ViT-L/14 trained on InternVid-10M-FLT",
)
HEAD_WIDTH = 64  # CLIP's attention head width: heads = width / 64


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """Pre-norm transformer block; sequence-first tensors [L, N, D] as in CLIP."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, width * 4)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(width * 4, width)),
        ]))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.ln_2(x))

    def forward_cls(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output at the first token alone ([1, N, D]), no mask (the vision tower)."""
        y = self.ln_1(x)
        cls = x[:1] + self.attn(y[:1], y, y, need_weights=False)[0]
        return cls + self.mlp(self.ln_2(cls))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads) for _ in range(layers))

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, attn_mask)
        return x


@dataclass(frozen=True)
class ViClipConfig:
    vision_width: int
    vision_layers: int
    patch_size: int
    image_size: int
    num_frames: int
    text_width: int
    text_layers: int
    context_length: int
    vocab_size: int
    embed_dim: int

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> ViClipConfig:
        def depth(prefix: str) -> int:
            return len({k.split(".")[3] for k in state_dict if k.startswith(prefix)})

        conv = state_dict["vision_encoder.conv1.weight"]  # [width, 3, 1, patch, patch]
        grid = round((state_dict["vision_encoder.positional_embedding"].shape[0] - 1) ** 0.5)
        return cls(
            vision_width=conv.shape[0],
            vision_layers=depth("vision_encoder.transformer.resblocks."),
            patch_size=conv.shape[-1],
            image_size=grid * conv.shape[-1],
            num_frames=state_dict["vision_encoder.temporal_positional_embedding"].shape[1],
            text_width=state_dict["text_encoder.ln_final.weight"].shape[0],
            text_layers=depth("text_encoder.transformer.resblocks."),
            context_length=state_dict["text_encoder.positional_embedding"].shape[0],
            vocab_size=state_dict["text_encoder.token_embedding.weight"].shape[0],
            embed_dim=state_dict["text_encoder.text_projection"].shape[1],
        )


# The sizes of `ViClip-InternVid-10M-FLT.pth` (VBench's `ViCLIP.__init__`: vit_l14 vision, CLIP
# ViT-L/14 text tower with a 32-token context).
VICLIP_L14 = ViClipConfig(vision_width=1024, vision_layers=24, patch_size=14, image_size=224,
                          num_frames=8, text_width=768, text_layers=12, context_length=32,
                          vocab_size=49408, embed_dim=768)


class VisionEncoder(nn.Module):
    """VBench's `VisionTransformer` (viclip_vision.py) at inference."""

    def __init__(self, config: ViClipConfig):
        super().__init__()
        width, patch = config.vision_width, config.patch_size
        self.conv1 = nn.Conv3d(3, width, (1, patch, patch), (1, patch, patch), bias=False)
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        grid = config.image_size // patch
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.temporal_positional_embedding = nn.Parameter(torch.zeros(1, config.num_frames, width))
        self.transformer = Transformer(width, config.vision_layers, width // HEAD_WIDTH)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, config.embed_dim))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """[B, 3, T, H, W] normalised pixels -> [B, embed_dim]."""
        x = self.conv1(video)  # [B, width, T, grid, grid]
        batch, width, frames = x.shape[:3]
        x = x.permute(0, 2, 3, 4, 1).reshape(batch * frames, -1, width)  # [(B T), N, width]
        cls = self.class_embedding.to(x.dtype) + torch.zeros(
            x.shape[0], 1, width, dtype=x.dtype, device=x.device)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        cls_tokens, x = x[:batch, :1], x[:, 1:]  # every frame's [CLS] is the same vector
        x = x.reshape(batch, frames, -1, width).permute(0, 2, 1, 3)  # [B, N, T, width]
        # VBench adds the mean temporal embedding to single-frame inputs (viclip_vision.py).
        temporal = (self.temporal_positional_embedding.mean(1) if frames == 1
                    else self.temporal_positional_embedding)
        x = (x + temporal).reshape(batch, -1, width)  # tokens in (patch, frame) order
        x = self.ln_pre(torch.cat([cls_tokens, x], dim=1)).permute(1, 0, 2)
        # Only the [CLS] token leaves: the last block computes that row alone (keys and values
        # still from every token), 1/24 of the network and most of its last 2049-token attention.
        *body, last = self.transformer.resblocks
        for block in body:
            x = block(x)
        return self.ln_post(cast(ResidualAttentionBlock, last).forward_cls(x))[0] @ self.proj


class TextEncoder(nn.Module):
    """VBench's `CLIP_TEXT` (viclip_text.py): CLIP's causal text transformer, EOT token pooled."""

    def __init__(self, config: ViClipConfig):
        super().__init__()
        width = config.text_width
        self.transformer = Transformer(width, config.text_layers, width // HEAD_WIDTH)
        self.token_embedding = nn.Embedding(config.vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(config.context_length, width))
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, config.embed_dim))
        causal = torch.full((config.context_length, config.context_length), float("-inf")).triu_(1)
        self.register_buffer("causal_mask", causal, persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """[N, context] token ids -> [N, embed_dim]."""
        x = self.token_embedding(tokens) + self.positional_embedding
        x = self.transformer(x.permute(1, 0, 2), self.causal_mask.to(x.dtype)).permute(1, 0, 2)
        x = self.ln_final(x)
        # The end-of-text token has the largest id in CLIP's vocabulary.
        return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ self.text_projection


class ViClip(nn.Module):
    """Module names equal the checkpoint's keys: vision_encoder.*, text_encoder.*, temp."""

    def __init__(self, config: ViClipConfig):
        super().__init__()
        self.config = config
        self.vision_encoder = VisionEncoder(config)
        self.text_encoder = TextEncoder(config)
        self.temp = nn.Parameter(torch.ones([]) / 100.0)  # training temperature; unused here


VIDEO_CACHE_ENTRIES = 4096  # 768 floats each: a few MB


@dataclass
class ViClipModel:
    network: ViClip
    device: torch.device
    weights_path: Path
    # Normalised video features by digest of the 8 input frames: overall_consistency and
    # temporal_style share them when both score the same video (custom-input runs).
    video_cache: OrderedDict[bytes, torch.Tensor] = field(default_factory=OrderedDict)

    def remember(self, key: bytes, features: torch.Tensor) -> None:
        self.video_cache[key] = features
        while len(self.video_cache) > VIDEO_CACHE_ENTRIES:
            self.video_cache.popitem(last=False)

    @torch.inference_mode()
    def encode_video(self, frames: torch.Tensor) -> torch.Tensor:
        """[B, T, 3, H, W] clip_transform-ed frames -> [B, D] fp32 features (unnormalised)."""
        video = frames.to(self.device, torch.float32).permute(0, 2, 1, 3, 4).contiguous()
        return self.network.vision_encoder(video).float()

    @torch.inference_mode()
    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """Texts -> [N, D] fp32 features (unnormalised), 32-token context as ViCLIP's."""
        tokens = clip_tokenizer(VICLIP_CONTEXT_LENGTH)(list(texts)).to(self.device)
        return self.network.text_encoder(tokens).float()

    def weights_sha256(self) -> str:
        return sha256_of(self.weights_path)


def build_viclip(path: Path, device: str) -> ViClipModel:
    """ViCLIP from a checkpoint holding `{"model": state_dict}` (or the bare state dict)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:  # objects other than tensors and plain containers
        raise InputError(f"{path} is not a plain ViCLIP checkpoint (refused by weights_only "
                         f"loading): {' '.join(str(error).split())[:200]}") from error
    state_dict = checkpoint.get("model", checkpoint)
    try:
        network = ViClip(ViClipConfig.from_state_dict(state_dict))
        network.load_state_dict(state_dict)
    except (KeyError, RuntimeError) as error:
        detail = " ".join(str(error).split())[:300]
        raise InputError(f"{path} is not a ViCLIP checkpoint: {detail}") from error
    if network.config.context_length != VICLIP_CONTEXT_LENGTH:
        raise InputError(f"{path}: ViCLIP's text context is {VICLIP_CONTEXT_LENGTH} tokens, "
                         f"this file has {network.config.context_length}")
    config = network.config  # one call: every frame's patches and one [CLS] token
    tokens = config.num_frames * (config.image_size // config.patch_size) ** 2 + 1
    network = choose_kernel_routes(network.float().eval().to(device), device, tokens=tokens, images=1)
    return ViClipModel(network=network, device=torch.device(device),
                       weights_path=Path(path))


def load_viclip(context: ScoringContext) -> ViClipModel:
    """The process-wide ViCLIP; raises WeightsMissing naming the file when it is absent."""
    path = require_weight(VICLIP_WEIGHTS, context.weights_dir)
    return context.backbones.get(("viclip", str(path), context.device),
                                 lambda: build_viclip(path, context.device))
