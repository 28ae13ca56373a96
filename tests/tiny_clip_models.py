"""Tiny randomly initialised CLIPs written in the real on-disk formats (test helper, not a test).

The architecture is OpenAI's (built with the `clip` package that VBench itself uses); only the
sizes are small. Shapes differ from the real files; key layout, dtypes and container format do not:
- "torchscript": a traced TorchScript archive with fp16 weights and the `input_resolution`,
  `context_length`, `vocab_size` entries, like OpenAI's `ViT-B-32.pt`;
- "state_dict": the same weights as a plain fp16 state dict saved with `torch.save`;
- "open_clip_bin" / "open_clip_safetensors": an fp32 open_clip checkpoint of the `openai` tag.
"""

from __future__ import annotations

from pathlib import Path

import torch

PATCH = {"ViT-B-32": 32, "ViT-L-14": 14}
EMBED_DIM = 32


def tiny_openai_clip(arch: str = "ViT-B-32", seed: int = 0) -> torch.nn.Module:
    """An fp32 OpenAI-architecture CLIP with one 64-wide layer per tower (64 = one head)."""
    from clip.model import CLIP

    torch.manual_seed(seed)
    model = CLIP(embed_dim=EMBED_DIM, image_resolution=224, vision_layers=1, vision_width=64,
                 vision_patch_size=PATCH[arch], context_length=77, vocab_size=49408,
                 transformer_width=64, transformer_heads=1, transformer_layers=1)
    # Random LayerNorm affine parameters so that a wrongly mapped norm shows up in the outputs.
    for name, param in model.named_parameters():
        if name.endswith(("ln_pre.weight", "ln_post.weight", "ln_final.weight")):
            param.data.uniform_(0.5, 1.5)
    return model.eval()


def write_tiny_openai_clip(folder: Path, arch: str = "ViT-B-32", fmt: str = "torchscript",
                           seed: int = 0) -> Path:
    """Write a tiny CLIP under `folder` in `fmt` with the file name users put there; return it."""
    from clip.model import convert_weights

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = tiny_openai_clip(arch, seed)
    if fmt in ("open_clip_bin", "open_clip_safetensors"):
        state_dict = {k: v.float().contiguous() for k, v in model.state_dict().items()}
        if fmt == "open_clip_bin":
            path = folder / "open_clip_pytorch_model.bin"
            torch.save(state_dict, path)
        else:
            from safetensors.torch import save_file

            path = folder / "open_clip_model.safetensors"
            save_file(state_dict, str(path))
        return path
    convert_weights(model)  # OpenAI's files hold fp16 matrices and fp32 norms
    path = folder / f"{arch}.pt"
    if fmt == "state_dict":
        torch.save(model.state_dict(), path)
        return path
    assert fmt == "torchscript", fmt
    # OpenAI's archives carry these three scalars in their state dict; loaders must drop them.
    for name, value in (("input_resolution", 224), ("context_length", 77), ("vocab_size", 49408)):
        if hasattr(model, name):
            delattr(model, name)  # a plain int attribute on the Python class
        model.register_buffer(name, torch.tensor(value))
    model.float()
    image = torch.zeros(1, 3, 224, 224)
    text = torch.zeros(1, 77, dtype=torch.long)
    traced = torch.jit.trace(model, (image, text), check_trace=False)
    traced.half()
    traced.save(str(path))
    return path


def write_tiny_aesthetic_head(folder: Path, in_features: int = EMBED_DIM, seed: int = 0) -> Path:
    """A LAION-style head: the state dict of nn.Linear(in_features, 1), saved with torch.save."""
    torch.manual_seed(seed)
    head = torch.nn.Linear(in_features, 1)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sa_0_4_vit_l_14_linear.pth"
    torch.save(head.state_dict(), path)
    return path
