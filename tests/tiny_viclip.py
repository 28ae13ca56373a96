"""Tiny randomly initialised ViCLIPs in the real checkpoint format (test helper, not a test).

`ViClip-InternVid-10M-FLT.pth` holds `{"model": state_dict}` with VBench's module names. Two
writers: one builds our network (dimensions/backbones/viclip.py), the other VBench's own classes
from `vbench.third_party.ViCLIP` at tiny sizes, so that fidelity tests hand the very same weights
to both sides.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from vbench_lite.dimensions.backbones.viclip import ViClip, ViClipConfig

TINY = ViClipConfig(vision_width=64, vision_layers=2, patch_size=14, image_size=224, num_frames=8,
                    text_width=64, text_layers=2, context_length=32, vocab_size=49408, embed_dim=32)
FILE = "ViClip-InternVid-10M-FLT.pth"


def randomise(module: nn.Module, seed: int) -> nn.Module:
    """Random values everywhere, LayerNorm affines included, so a wrongly mapped key shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.endswith("weight") and param.ndim == 1:  # LayerNorm scales
                param.copy_(torch.rand(param.shape, generator=generator) + 0.5)
            else:
                std = 0.02 if param.ndim != 2 else param.shape[-1] ** -0.5
                param.copy_(torch.randn(param.shape, generator=generator) * std)
    return module.eval()


def write_checkpoint(folder: Path, state_dict: dict[str, torch.Tensor]) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE
    torch.save({"model": state_dict}, path)
    return path


def write_tiny_viclip(folder: Path, seed: int = 0) -> Path:
    return write_checkpoint(folder, randomise(ViClip(TINY), seed).state_dict())


def vbench_tiny_viclip(tokenizer, seed: int = 0) -> nn.Module:
    """VBench's ViCLIP class with tiny encoders built from VBench's own modules.

    `ViCLIP.__init__` hard-codes ViT-L/14, so the instance is assembled as its `__init__` does,
    with the same attributes, around tiny `VisionTransformer` and `CLIP_TEXT` encoders.
    """
    from vbench.third_party.ViCLIP.viclip import ViCLIP
    from vbench.third_party.ViCLIP.viclip_text import CLIP_TEXT
    from vbench.third_party.ViCLIP.viclip_vision import VisionTransformer

    model = ViCLIP.__new__(ViCLIP)
    nn.Module.__init__(model)
    model.tokenizer = tokenizer
    model.max_txt_l = TINY.context_length
    model.masking_prob = 0.9  # as VBench sets it; encode_vision(test=True) does not mask
    model.vision_encoder = VisionTransformer(
        input_resolution=TINY.image_size, patch_size=TINY.patch_size, width=TINY.vision_width,
        layers=TINY.vision_layers, heads=TINY.vision_width // 64, output_dim=TINY.embed_dim,
        kernel_size=1, num_frames=TINY.num_frames, drop_path=0.1).eval()
    model.text_encoder = CLIP_TEXT(
        TINY.embed_dim, TINY.context_length, TINY.vocab_size, TINY.text_width,
        TINY.text_width // 64, TINY.text_layers, checkpoint_num=0).eval()
    model.temp = nn.Parameter(torch.ones([]) / 100.0)
    return randomise(model, seed)
