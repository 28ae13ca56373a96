"""Tiny randomly initialised DINO, RAFT and AMT-S models written in their real on-disk formats.

Test helper (not a test). Shapes are small; key layouts, containers and file names are the real
ones, so the loading code users run is what the tests exercise.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vbench_lite.dimensions.backbones.amt import AMTS
from vbench_lite.dimensions.backbones.dino import DinoViT


def randomise_norms(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial LayerNorm / embedding values, so that a wrongly mapped key changes outputs."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(("norm1.weight", "norm2.weight", "norm.weight")):
                param.copy_(0.5 + torch.rand(param.shape, generator=generator))
            elif name in ("cls_token", "pos_embed"):
                param.copy_(0.5 * torch.randn(param.shape, generator=generator))
            elif name == "patch_embed.proj.weight":
                # Strong patch embeddings, so that frame content (not the constant CLS and
                # position terms) drives the CLS feature and the test values spread out.
                param.mul_(20.0)
    return model


def tiny_dino(seed: int = 0) -> DinoViT:
    """A 2-block, 64-wide DINO ViT/16 (one 64-wide head, as DINO's head width)."""
    torch.manual_seed(seed)
    return randomise_norms(DinoViT(embed_dim=64, depth=2, num_heads=1, mlp_hidden=128), seed).eval()


def write_tiny_dino_pth(root: Path, seed: int = 0, prefix: str = "") -> tuple[Path, DinoViT]:
    """`<root>/dino_model/dino_vitbase16_pretrain.pth`, DINO's own key layout."""
    model = tiny_dino(seed)
    path = Path(root) / "dino_model" / "dino_vitbase16_pretrain.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({prefix + k: v for k, v in model.state_dict().items()}, path)
    return path, model


def write_tiny_dino_hf(root: Path, seed: int = 0, safetensors: bool = True, folder: Path | None = None):
    """`<root>/dino-vitb16/` (or `folder`) as transformers' ViTModel writes facebook/dino-vitb16,
    pooler included."""
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(seed)
    config = ViTConfig(
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=256,
        image_size=224,
        patch_size=16,
        qkv_bias=True,
    )
    model = ViTModel(config, add_pooling_layer=True).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "layernorm" in name and name.endswith("weight"):
                param.uniform_(0.5, 1.5)
            elif name.startswith("embeddings.") and "patch" not in name:
                param.normal_(0, 0.5)
    folder = Path(folder) if folder else Path(root) / "dino-vitb16"
    model.save_pretrained(folder)  # writes the hub's key names (transformers ≥ 5 renames in memory)
    if not safetensors:  # the hub's older `pytorch_model.bin` holds the same keys
        from safetensors.torch import load_file

        weights = folder / "model.safetensors"
        torch.save(load_file(str(weights)), folder / "pytorch_model.bin")
        weights.unlink()
    return folder, model


def tiny_raft_original_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random RAFT (large) in the original repository's layout, as `raft-things.pth` stores it
    (DataParallel's `module.` prefix included). Needs VBench's vendored RAFT code."""
    from easydict import EasyDict
    from vbench.third_party.RAFT.core.raft import RAFT

    torch.manual_seed(seed)
    model = RAFT(EasyDict(small=False, mixed_precision=False, alternate_corr=False)).eval()
    return {"module." + k: v for k, v in model.state_dict().items()}


def write_tiny_raft_things(root: Path, seed: int = 0) -> Path:
    path = Path(root) / "raft_model" / "models" / "raft-things.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(tiny_raft_original_state(seed), path)
    return path


def write_torchvision_raft(folder: Path, seed: int = 0) -> tuple[Path, torch.nn.Module]:
    """torchvision's own raft_large state dict, under its published file name."""
    from torchvision.models.optical_flow import raft_large

    torch.manual_seed(seed)
    model = raft_large(weights=None).eval()
    path = Path(folder) / "raft_large_C_T_V1-22a6c225.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path, model


def write_tiny_amt(root: Path, seed: int = 0) -> tuple[Path, AMTS]:
    """`<root>/amt_model/amt-s.pth`: {"state_dict": ...} as AMT's trainer saves it. AMT-S is small
    (≈3 M parameters), so the real architecture is used with random weights."""
    torch.manual_seed(seed)
    model = AMTS().eval()
    path = Path(root) / "amt_model" / "amt-s.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict()}, path)
    return path, model
