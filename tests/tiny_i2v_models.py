"""Tiny random DreamSim ensemble files in DreamSim's real on-disk layout, rebuilt from a seed.

Test helper (not a test), also imported by `scripts/fidelity/i2v_background_golden.py`, which
records VBench's values on the same files. Every tensor is drawn key by key from its own seeded
generator, so CI rebuilds bit-identical weights instead of storing them.

Layout written under `<root>/dreamsim/` (DreamSim's cache folder after unzipping
`dreamsim_ensemble_checkpoint.zip` and running once, which leaves DINO in `checkpoints/`):
    clip_vitb16_pretrain.pth.tar        {"state_dict": DINO-style ViT keys + pos_drop + proj}
    open_clip_vitb16_pretrain.pth.tar   same layout
    dino_vitb16_pretrain.pth            {"student": {"module.head.*"}} (DINO's head; unused)
    checkpoints/dino_vitbase16_pretrain.pth   DINO's ViT state dict (torch.hub's file)
    ensemble_lora/adapter_config.json + adapter_model.safetensors   (PEFT's adapter format)
Shapes are small (width 64, one 64-wide head, as DINO/CLIP ViT-B heads are 64 wide); the DINO
branch has DreamSim's 12 blocks because its feature is block 11's output.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import torch

from vbench_lite.dimensions.backbones.dreamsim import ClipAsDinoViT, DinoBlockCls

WIDTH, MLP_HIDDEN, PROJ_DIM = 64, 128, 32
DINO_DEPTH, CLIP_DEPTH = 12, 3
LORA = {"r": 4, "lora_alpha": 0.5, "lora_dropout": 0.3, "bias": "none", "target_modules": ["qkv"]}
DINO_HEAD = {  # DINOHead(in, out, hidden 2048, bottleneck 256) at tiny size; DreamSim copies it, never uses it
    "module.head.mlp.0.weight": (32, WIDTH), "module.head.mlp.0.bias": (32,),
    "module.head.mlp.2.weight": (32, 32), "module.head.mlp.2.bias": (32,),
    "module.head.mlp.4.weight": (16, 32), "module.head.mlp.4.bias": (16,),
    "module.head.last_layer.weight": (8, 16),
}  # fmt: skip


def seeded(name: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """A tensor that depends only on (seed, key name, shape): values suited to the key's role."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))
    noise = torch.randn(shape, generator=generator)
    if name.endswith(("norm1.weight", "norm2.weight", "norm.weight", "pos_drop.weight")):
        return 0.75 + 0.5 * torch.rand(shape, generator=generator)
    if name.endswith("bias"):
        return 0.02 * noise
    if name == "patch_embed.proj.weight":
        return 0.5 * noise  # strong patch embeddings: frame content drives the features
    if name in ("cls_token", "pos_embed"):
        return 0.02 * noise
    if name.endswith("lora_B.weight"):
        return 2.0 * noise  # a visible adapter (scaling 0.5 / 4)
    fan_in = shape[-1] if len(shape) > 1 else 1
    return noise / fan_in**0.5


def tiny_state(module: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    return {name: seeded(name, tuple(t.shape), seed) for name, t in module.state_dict().items()}


def tiny_dino_branch(seed: int) -> dict[str, torch.Tensor]:
    model = DinoBlockCls(embed_dim=WIDTH, depth=DINO_DEPTH, num_heads=1, mlp_hidden=MLP_HIDDEN)
    return tiny_state(model, seed)


def tiny_clip_branch(seed: int, quick_gelu: bool) -> dict[str, torch.Tensor]:
    model = ClipAsDinoViT(
        proj_dim=PROJ_DIM, quick_gelu=quick_gelu, embed_dim=WIDTH, depth=CLIP_DEPTH, num_heads=1, mlp_hidden=MLP_HIDDEN
    )
    return tiny_state(model, seed)


def adapter_state(seed: int) -> dict[str, torch.Tensor]:
    """PEFT's saved keys for LoRA on every `qkv` of the three extractors (adapter name stripped)."""
    state = {}
    for index, depth in enumerate((DINO_DEPTH, CLIP_DEPTH, CLIP_DEPTH)):
        for block in range(depth):
            stem = f"base_model.model.extractor_list.{index}.model.blocks.{block}.attn.qkv"
            state[f"{stem}.lora_A.weight"] = seeded(f"{stem}.lora_A.weight", (LORA["r"], WIDTH), seed)
            state[f"{stem}.lora_B.weight"] = seeded(f"{stem}.lora_B.weight", (3 * WIDTH, LORA["r"]), seed)
    return state


def adapter_config() -> dict:
    """adapter_config.json as PEFT writes it for DreamSim's LoraConfig (DreamSim reads five keys)."""
    return {
        "peft_type": "LORA", "task_type": None, "base_model_name_or_path": None, "inference_mode": True,
        "fan_in_fan_out": False, "init_lora_weights": True, "modules_to_save": None, "revision": None,
        **LORA,
    }  # fmt: skip


def write_tiny_dreamsim(root: Path, seed: int = 0) -> Path:
    """Write the ensemble's files under `<root>/dreamsim/`; returns that folder."""
    from safetensors.torch import save_file

    folder = Path(root) / "dreamsim"
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    (folder / "ensemble_lora").mkdir(exist_ok=True)
    torch.save(tiny_dino_branch(seed), folder / "checkpoints" / "dino_vitbase16_pretrain.pth")
    head = {name: seeded(name, shape, seed) for name, shape in DINO_HEAD.items()}
    torch.save({"student": head}, folder / "dino_vitb16_pretrain.pth")
    for offset, (name, quick_gelu) in enumerate((("clip", True), ("open_clip", False)), start=1):
        state = tiny_clip_branch(seed + offset, quick_gelu=quick_gelu)
        torch.save({"state_dict": state}, folder / f"{name}_vitb16_pretrain.pth.tar")
    (folder / "ensemble_lora" / "adapter_config.json").write_text(json.dumps(adapter_config(), indent=2))
    save_file(adapter_state(seed + 3), str(folder / "ensemble_lora" / "adapter_model.safetensors"))
    return folder
