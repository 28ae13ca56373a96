"""DINO ViT-B/16 (subject_consistency's VBench backbone), loaded from DINO's own file or an HF folder.

The module follows DINO's `vision_transformer.py`: its attribute names are the checkpoint keys of
`dino_vitbase16_pretrain.pth` (cls_token, pos_embed, patch_embed.proj, blocks.N.{norm1, attn.qkv,
attn.proj, norm2, mlp.fc1, mlp.fc2}, norm), so that file loads with a plain strict
`load_state_dict`. The Hugging Face `facebook/dino-vitb16` folder (transformers `ViTModel`) is
converted by an explicit key map. VBench feeds frames resized to a 224 short side with the aspect
kept, so the position embeddings are interpolated exactly as DINO does (bicubic, with its 0.1
offset on the scale factor).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.kernel_routes import choose_kernel_routes
from vbench_lite.weights import WeightSpec, require_weight

DINO_SPEC = WeightSpec(
    key="dino_vitb16",
    file="dino_vitbase16_pretrain.pth",
    backend="vbench",
    vbench_subdir="dino_model",
    hf_repo="facebook/dino-vitb16",
    url="https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
    licence="Apache-2.0",
    what="DINO ViT-B/16, subject_consistency",
)
DINO_HEAD_DIM = 64  # every DINO ViT (S/B) uses 64-wide heads; the .pth does not store the count
DINO_LAYER_NORM_EPS = 1e-6


class PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, embed_dim: int):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        # softmax(q·kᵀ/√d)·v, DINO's scale; the fused kernel is the same arithmetic, batched.
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, dim))

    def forward_cls(self, x: torch.Tensor) -> torch.Tensor:
        """The CLS token's output only: it attends to every token, no other token's output is made."""
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q[:, :, :1], k, v)
        return self.proj(out.transpose(1, 2).reshape(batch, 1, dim))


class Mlp(nn.Module):
    row_wise = True  # each token's output depends on that token alone (see mlp_rows.py)

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act: nn.Module = nn.GELU()  # DreamSim's CLIP branch swaps in QuickGELU
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, hidden: int, eps: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))

    def forward_cls(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output at the CLS token alone (what the last block needs: only CLS is read)."""
        cls = x[:, :1] + self.attn.forward_cls(self.norm1(x))
        return cls + self.mlp(self.norm2(cls))


class DinoViT(nn.Module):
    """DINO's VisionTransformer with `num_classes=0`: forward returns the normed CLS token."""

    def __init__(
        self,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_hidden: int = 3072,
        patch_size: int = 16,
        num_patches: int = 196,
        eps: float = DINO_LAYER_NORM_EPS,
    ):
        super().__init__()
        self.patch_embed = PatchEmbed(patch_size, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_hidden, eps) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=eps)

    def interpolate_pos_encoding(self, tokens: int, height: int, width: int) -> torch.Tensor:
        """DINO's `interpolate_pos_encoding`: bicubic with scale (h0+0.1)/√N, (w0+0.1)/√N."""
        grid = self.pos_embed.shape[1] - 1
        if tokens - 1 == grid and height == width:
            return self.pos_embed
        side = int(math.sqrt(grid))
        dim = self.pos_embed.shape[-1]
        h0 = height // self.patch_embed.patch_size + 0.1  # DINO's offset: the interpolated size must not floor below
        w0 = width // self.patch_embed.patch_size + 0.1
        patch_pos = F.interpolate(
            self.pos_embed[:, 1:].reshape(1, side, side, dim).permute(0, 3, 1, 2),
            scale_factor=(h0 / math.sqrt(grid), w0 / math.sqrt(grid)),
            mode="bicubic",
        )
        patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, -1, dim)
        return torch.cat((self.pos_embed[:, :1], patch_pos), dim=1)

    def embed_tokens(self, pixels: torch.Tensor) -> torch.Tensor:
        """Patch tokens with the CLS token in front and the position embeddings added."""
        height, width = pixels.shape[-2:]
        x = self.patch_embed(pixels)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        return x + self.interpolate_pos_encoding(x.shape[1], height, width).to(x.dtype)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.embed_tokens(pixels)
        *first, last = self.blocks
        for block in first:
            x = block(x)
        # Only the CLS token leaves the network: the last block computes nothing else (~7 % of DINO).
        return self.norm(cast(Block, last).forward_cls(x))[:, 0]


def dino_from_state_dict(
    state: dict[str, torch.Tensor],
    eps: float = DINO_LAYER_NORM_EPS,
    num_heads: int | None = None,
    model_class: type[DinoViT] = DinoViT,
) -> DinoViT:
    """Build a DinoViT (or a subclass with another feature) shaped like `state` and load it strictly."""
    embed_dim = state["cls_token"].shape[-1]
    depth = len({key.split(".")[1] for key in state if key.startswith("blocks.")})
    model = model_class(
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads or max(1, embed_dim // DINO_HEAD_DIM),
        mlp_hidden=state["blocks.0.mlp.fc1.weight"].shape[0],
        patch_size=state["patch_embed.proj.weight"].shape[-1],
        num_patches=state["pos_embed"].shape[1] - 1,
        eps=eps,
    )
    model.load_state_dict(state, strict=True)
    return model.eval()


# transformers ViTModel key → DINO key, per encoder layer (q, k, v are fused into qkv below).
_HF_LAYER_KEYS = {
    "layernorm_before": "norm1",
    "attention.output.dense": "attn.proj",
    "layernorm_after": "norm2",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
}
_HF_TOP_KEYS = {
    "embeddings.cls_token": "cls_token",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
}
# The HF checkpoint carries an untrained pooler that DINO's CLS feature never uses.
_HF_UNUSED_PREFIXES = ("pooler.",)


def dino_state_from_hf(hf_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a transformers `ViTModel` state dict onto DINO's key layout; unknown keys are an error."""
    state: dict[str, torch.Tensor] = {}
    hf_state = {k.removeprefix("vit."): v for k, v in hf_state.items()}
    qkv: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
    for key, value in hf_state.items():
        if key in _HF_TOP_KEYS:
            state[_HF_TOP_KEYS[key]] = value
            continue
        if key.startswith(_HF_UNUSED_PREFIXES):
            continue
        parts = key.split(".")
        if parts[:2] != ["encoder", "layer"]:
            raise KeyError(f"unexpected key in the HF DINO checkpoint: {key}")
        index, rest = int(parts[2]), ".".join(parts[3:])
        name, kind = rest.rsplit(".", 1)
        if name in ("attention.attention.query", "attention.attention.key", "attention.attention.value"):
            qkv.setdefault((index, kind), {})[name.rsplit(".", 1)[1]] = value
        elif name in _HF_LAYER_KEYS:
            state[f"blocks.{index}.{_HF_LAYER_KEYS[name]}.{kind}"] = value
        else:
            raise KeyError(f"unexpected key in the HF DINO checkpoint: {key}")
    for (index, kind), parts_ in qkv.items():
        state[f"blocks.{index}.attn.qkv.{kind}"] = torch.cat([parts_["query"], parts_["key"], parts_["value"]], dim=0)
    return state


def load_dino_file(path: Path) -> DinoViT:
    """A DINO `.pth` state dict, or an HF `facebook/dino-vitb16` folder (config.json + weights)."""
    path = Path(path)
    if not path.is_dir():
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = {k.removeprefix("module."): v for k, v in state.items()}
        return dino_from_state_dict(state)
    config = json.loads((path / "config.json").read_text())
    if (path / "model.safetensors").exists():
        from safetensors.torch import load_file

        hf_state = load_file(str(path / "model.safetensors"))
    else:
        hf_state = torch.load(path / "pytorch_model.bin", map_location="cpu", weights_only=True)
    return dino_from_state_dict(
        dino_state_from_hf(hf_state),
        eps=float(config.get("layer_norm_eps", 1e-12)),
        num_heads=int(config["num_attention_heads"]),
    )


def load_dino(context: ScoringContext) -> tuple[DinoViT, Path]:
    """The shared DINO instance for this process, and the file it came from (WeightsMissing if absent)."""
    path = require_weight(DINO_SPEC, context.weights_dir)
    model = context.backbones.get(
        ("dino-vitb16", str(path), context.device),
        lambda: choose_kernel_routes(load_dino_file(path).to(context.device), context.device, tokens=337),
    )
    return model, path
