"""UMT ViT-L/16 video classifier with its Kinetics-400 head: human_action's VBench backbone.

Written from the arguments VBench's human_action passes to UMT's `vit_large_patch16_224`
(`all_frames=16, tubelet_size=1, use_learnable_pos_emb=False, use_mean_pooling=True`), at inference:
- patch embedding: Conv3d(3, 1024, kernel (1, 16, 16)) → 16 × 14 × 14 = 3136 tokens in (t, h, w) order;
- position embedding: the fixed sinusoid table of UMT's 8-frame pre-training grid (8 × 14 × 14),
  linearly interpolated in time to 16 frames (`sinusoid_positions`); a checkpoint that stores
  `pos_embed` overrides it;
- 24 pre-norm blocks (LayerNorm eps 1e-6, 16 heads of 64, `qkv` without bias plus `q_bias`/`v_bias`
  with a zero key bias, exact-GELU MLP 4096), no layer scale;
- head: LayerNorm (`fc_norm`) of the mean over all tokens, then Linear(1024, 400).

Module attribute names equal the checkpoint keys, so `l16_ptk710_ftk710_ftk400_f16_res224.pth` loads
with a plain strict `load_state_dict`. The sizes are read from the file (width, depth, MLP width,
classes; heads = width / 64), so a tiny test file builds a tiny model through the same code.

Loading is strict where VBench's is not: VBench calls `load_state_dict(..., strict=False)`, which
loads nothing from a file whose keys sit under 'model' or carry a 'module.' prefix and then scores
with random weights. Here UMT's own wrappers ('model', 'module', 'module.') are unwrapped, the only
key allowed to be absent is `pos_embed` (then the sinusoid table is used, as in VBench), and
anything else that does not fit is a one-line error naming the keys.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.kernel_routes import choose_kernel_routes
from vbench_lite.dimensions.backbones.onednn import linear
from vbench_lite.errors import InputError
from vbench_lite.weights import WeightSpec, require_weight

UMT_WEIGHTS = WeightSpec(
    key="umt_l16_k400",
    file="l16_ptk710_ftk710_ftk400_f16_res224.pth",
    backend="vbench",
    vbench_subdir="umt_model",
    # 607,024,201 bytes: fp16 tensors, no `pos_embed` (the size leaves no room for it).
    sha256="bfee78a03bf806fbc0c216309e8f92792011b7db6556fa860e9d869c1e69fecd",
    url="https://huggingface.co/OpenGVLab/VBench_Used_Models/resolve/main/l16_ptk710_ftk710_ftk400_f16_res224.pth",
    what="UMT ViT-L/16 fine-tuned on Kinetics-400, human_action",
)
HEAD_WIDTH = 64  # UMT's heads are 64 wide: 16 heads at width 1024
LAYER_NORM_EPS = 1e-6
NUM_FRAMES = 16  # VBench builds the model with all_frames=16
IMAGE_SIZE = 224
PRETRAIN_FRAMES = 8  # the sinusoid table is laid out for UMT's 8-frame pre-training grid
CHECKPOINT_WRAPPERS = ("model", "module")  # the keys UMT's own fine-tuning script unwraps


@dataclass(frozen=True)
class UmtConfig:
    width: int = 1024
    depth: int = 24
    mlp_width: int = 4096
    num_classes: int = 400
    patch_size: int = 16
    tubelet_size: int = 1
    num_frames: int = NUM_FRAMES
    image_size: int = IMAGE_SIZE

    @property
    def num_heads(self) -> int:
        return max(1, self.width // HEAD_WIDTH)

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_tokens(self) -> int:
        return (self.num_frames // self.tubelet_size) * self.grid * self.grid

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> UmtConfig:
        proj = state["patch_embed.proj.weight"]  # [width, 3, tubelet, patch, patch]
        return cls(
            width=proj.shape[0],
            depth=len({key.split(".")[1] for key in state if key.startswith("blocks.")}),
            mlp_width=state["blocks.0.mlp.fc1.weight"].shape[0],
            num_classes=state["head.weight"].shape[0],
            patch_size=proj.shape[-1],
            tubelet_size=proj.shape[2],
        )


def sinusoid_positions(config: UmtConfig) -> torch.Tensor:
    """UMT's `get_sinusoid_encoding_table` for VBench's model: [1, tokens, width] float32.

    The table is built in float64 for the 8-frame pre-training grid, cast to float32, then each
    (h, w, channel) row is linearly interpolated (align_corners=False) from 8 to `num_frames` frames.
    """
    width, grid = config.width, config.grid
    channel = np.arange(width)
    rates = np.power(10000, 2 * (channel // 2) / width)
    angles = np.arange(PRETRAIN_FRAMES * grid * grid)[:, None] / rates[None, :]
    angles[:, 0::2] = np.sin(angles[:, 0::2])
    angles[:, 1::2] = np.cos(angles[:, 1::2])
    table = torch.tensor(angles, dtype=torch.float32, device="cpu")  # [(t h w), C], also under a meta-device build
    frames = config.num_frames // config.tubelet_size
    if frames == PRETRAIN_FRAMES:
        return table[None]
    per_position = table.reshape(PRETRAIN_FRAMES, grid, grid, width).permute(1, 2, 3, 0)
    per_position = F.interpolate(per_position.reshape(-1, width, PRETRAIN_FRAMES), size=frames, mode="linear")
    return per_position.reshape(grid, grid, width, frames).permute(3, 0, 1, 2).reshape(1, -1, width)


class PatchEmbed(nn.Module):
    def __init__(self, config: UmtConfig):
        super().__init__()
        kernel = (config.tubelet_size, config.patch_size, config.patch_size)
        self.proj = nn.Conv3d(3, config.width, kernel_size=kernel, stride=kernel)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.proj(video).flatten(2).transpose(1, 2)  # [B, (t h w), width]


class Attention(nn.Module):
    def __init__(self, width: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(width, width * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(width))
        self.v_bias = nn.Parameter(torch.zeros(width))
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))  # keys get no bias
        qkv = linear(x, self.qkv.weight, bias)
        q, k, v = qkv.reshape(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        # softmax(q·kᵀ/√64)·v; the fused kernel never holds the 3136×3136 attention matrix.
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, width))


class Mlp(nn.Module):
    row_wise = True  # each token's output depends on that token alone (see mlp_rows.py)

    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, config: UmtConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(config.width, eps=LAYER_NORM_EPS)
        self.attn = Attention(config.width, config.num_heads)
        self.norm2 = nn.LayerNorm(config.width, eps=LAYER_NORM_EPS)
        self.mlp = Mlp(config.width, config.mlp_width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class UmtClassifier(nn.Module):
    """[B, 3, 16, 224, 224] normalised clips → [B, 400] Kinetics-400 logits."""

    def __init__(self, config: UmtConfig = UmtConfig()):
        super().__init__()
        self.config = config
        self.patch_embed = PatchEmbed(config)
        self.pos_embed = nn.Parameter(sinusoid_positions(config), requires_grad=False)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.fc_norm = nn.LayerNorm(config.width, eps=LAYER_NORM_EPS)
        self.head = nn.Linear(config.width, config.num_classes)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(video)
        x = x + self.pos_embed.to(x.dtype)
        for block in self.blocks:
            x = block(x)
        return self.head(self.fc_norm(x.mean(1)))


def unwrap_checkpoint(checkpoint: object, path: Path) -> dict[str, torch.Tensor]:
    """The state dict inside a UMT file: bare, under 'model' or 'module', keys maybe 'module.'-prefixed."""
    if not isinstance(checkpoint, dict):
        raise InputError(f"{path} is not a UMT checkpoint: it holds a {type(checkpoint).__name__}, not a state dict")
    found: dict[Any, Any] = checkpoint
    for wrapper in CHECKPOINT_WRAPPERS:
        if isinstance(found.get(wrapper), dict):
            found = found[wrapper]
            break
    state = {str(key).removeprefix("module."): value for key, value in found.items()}
    if not any(isinstance(value, torch.Tensor) for value in state.values()):
        keys = ", ".join(sorted(state)[:5])
        raise InputError(f"{path} is not a UMT checkpoint: no tensors at its top level (keys: {keys}); "
                         f"expected a state dict, bare or under {' or '.join(map(repr, CHECKPOINT_WRAPPERS))}")
    return state


def umt_from_state_dict(state: dict[str, torch.Tensor], path: Path) -> UmtClassifier:
    """A float32 UmtClassifier shaped like `state`, with its values (strict; `pos_embed` may be absent).

    The module is built on the meta device and takes the file's tensors as they are (no random
    initialisation of 300 M parameters that the file then overwrites).
    """
    try:
        config = UmtConfig.from_state_dict(state)
    except (KeyError, IndexError) as error:
        raise InputError(f"{path} is not a UMT video classifier checkpoint: no key {error}") from None
    with torch.device("meta"):
        model = UmtClassifier(config)
    expected = set(model.state_dict())
    missing = sorted(expected - set(state) - {"pos_embed"})
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        parts = [f"{what} {len(keys)} key(s) ({', '.join(keys[:3])}{', …' if len(keys) > 3 else ''})"
                 for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys]
        raise InputError(f"{path} does not fit UMT ViT-L/16: {'; '.join(parts)}")
    state = {"pos_embed": sinusoid_positions(config), **state}
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as error:  # a shape that does not fit
        detail = " ".join(str(error).split("\n", 1)[-1].split())[:300]
        raise InputError(f"{path} does not fit UMT ViT-L/16: {detail}") from None
    return model.float().eval()  # VBench's model is float32; the file's fp16 values widen exactly


def load_umt_file(path: Path) -> UmtClassifier:
    """The UMT classifier in `path`, on the CPU in float32 (the file's fp16 values widened)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:  # not a pickle, or objects other than tensors and containers
        reason = str(error).partition("WeightsUnpickler error:")[2].strip().split("\n")[0] or str(error)
        raise InputError(f"{path} is not a plain tensor checkpoint (weights_only loading refused it: "
                         f"{reason[:160]})") from None
    except (RuntimeError, OSError, EOFError) as error:
        raise InputError(f"{path} cannot be read as a PyTorch checkpoint: {' '.join(str(error).split())[:200]}") \
            from None
    return umt_from_state_dict(unwrap_checkpoint(checkpoint, Path(path)), Path(path))


def load_umt(context: ScoringContext) -> tuple[UmtClassifier, Path]:
    """The process-wide UMT classifier and its file; WeightsMissing names the file when it is absent."""
    path = require_weight(UMT_WEIGHTS, context.weights_dir)
    model = context.backbones.get(
        ("umt-l16-k400", str(path), context.device),
        lambda: choose_kernel_routes(load_umt_file(path).to(context.device), context.device, tokens=1568, images=1),
    )
    return model, path
