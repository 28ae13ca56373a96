"""OpenAI CLIP (ViT-B/32, ViT-L/14), loaded once per process from a local file. Nothing downloads.

Used by background_consistency and appearance_style (ViT-B/32, one shared instance), aesthetic_quality
(ViT-L/14) and clip_score (either). VBench keeps the files in its cache's `clip_model/`.

Accepted on-disk formats, all read into OpenAI's state-dict layout and built with open_clip's
`build_model_from_openai_state_dict` (open_clip's CLIP has the same module names as OpenAI's, so
loading is strict):
- OpenAI's published `ViT-B-32.pt` / `ViT-L-14.pt`: TorchScript archives. They are opened with
  `torch.jit.load` on the CPU, whose unpickler only rebuilds TorchScript modules and tensors (no
  arbitrary Python callables); only `.state_dict()` is read, the scripted code is never run.
- the same weights as a plain state dict (`torch.load(weights_only=True)`);
- open_clip checkpoints of the `openai` pretrained tag: the Hugging Face folder of
  `timm/vit_base_patch32_clip_224.openai` (`..._large_patch14_...` for L/14), holding
  `open_clip_model.safetensors` or `open_clip_pytorch_model.bin`, in the HF cache or as
  `$VBL_WEIGHTS_DIR/vit_base_patch32_clip_224.openai/` (the spec's `hf_repo`, so `vbl weights`
  and the runner's readiness check see it too).

Precision follows VBench (`clip.load`): fp16 weights on CUDA, fp32 on CPU. `encode_image` and
`encode_text` return features in that dtype, unnormalised, so each dimension casts and
normalises exactly where VBench does.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.kernel_routes import choose_kernel_routes
from vbench_lite.dimensions.backbones.preprocess import CLIP_MEAN, CLIP_STD
from vbench_lite.dimensions.backbones.tokenizer import CLIP_CONTEXT_LENGTH, clip_tokenizer
from vbench_lite.errors import InputError
from vbench_lite.weights import WeightSpec, require_weight, sha256_of

if TYPE_CHECKING:
    from open_clip.model import CLIP

# OpenAI's files are published under their own sha256 (the URL's folder); VBench downloads these
# URLs (`vbench/utils.py:init_submodules`), and `vbl weights download` may too.
_OPENAI_SHA256 = {
    "ViT-B-32": "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
    "ViT-L-14": "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836",
}
_OPENAI_URLS = {arch: f"https://openaipublic.azureedge.net/clip/models/{digest}/{arch}.pt"
                for arch, digest in _OPENAI_SHA256.items()}
# The same weights as open_clip checkpoints on the Hugging Face hub (an accepted alternative).
_OPEN_CLIP_REPOS = {
    "ViT-B-32": "timm/vit_base_patch32_clip_224.openai",
    "ViT-L-14": "timm/vit_large_patch14_clip_224.openai",
}
_OPEN_CLIP_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
# Patch size per architecture: a cheap check that the file found is the architecture asked for.
_PATCH_SIZE = {"ViT-B-32": 32, "ViT-L-14": 14}
# Scalars OpenAI's TorchScript archives keep in their state dict; not network weights.
_OPENAI_EXTRA_ENTRIES = ("input_resolution", "context_length", "vocab_size")


def clip_weight_spec(arch: str) -> WeightSpec:
    """The OpenAI CLIP file VBench loads for `arch` ("ViT-B-32" or "ViT-L-14")."""
    if arch not in _OPENAI_URLS:
        raise InputError(f"unknown CLIP architecture '{arch}'; known: {', '.join(_OPENAI_URLS)}")
    return WeightSpec(
        key=f"clip_{arch.lower().replace('-', '_')}",
        file=f"{arch}.pt",
        backend="vbench",
        vbench_subdir="clip_model",
        hf_repo=_OPEN_CLIP_REPOS[arch],
        sha256=_OPENAI_SHA256[arch],
        url=_OPENAI_URLS[arch],
        licence="MIT",
        what=f"OpenAI CLIP {arch}",
    )


def find_clip_weights(arch: str, explicit: Path | None = None) -> Path:
    """The OpenAI `.pt` file or the open_clip HF folder; WeightsMissing names the `.pt` file."""
    return require_weight(clip_weight_spec(arch), explicit)


def _is_torchscript_archive(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("constants.pkl") or "/code/" in name for name in archive.namelist())


def read_openai_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """CLIP weights in OpenAI's key layout, from any accepted format (see module docstring)."""
    path = Path(path)
    if path.is_dir():
        found = [path / name for name in _OPEN_CLIP_FILES if (path / name).exists()]
        if not found:
            raise InputError(f"{path} holds none of {', '.join(_OPEN_CLIP_FILES)}")
        path = found[0]
    state_dict: dict[str, torch.Tensor]
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state_dict = load_file(str(path))
    elif _is_torchscript_archive(path):
        state_dict = torch.jit.load(str(path), map_location="cpu").state_dict()
    else:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if "state_dict" in checkpoint:  # an open_clip training checkpoint, keys prefixed "module."
            checkpoint = {k.removeprefix("module."): v for k, v in checkpoint["state_dict"].items()}
        state_dict = checkpoint
    return dict(state_dict)


@dataclass
class ClipModel:
    """A loaded CLIP with the two calls the dimensions need."""

    arch: str
    network: CLIP  # eval mode
    device: torch.device
    dtype: torch.dtype
    weights_path: Path

    @cached_property
    def cls_only(self) -> bool:
        return takes_cls_only(self.network.visual)

    @torch.inference_mode()
    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """[N,3,224,224] CLIP-normalised pixels -> [N,D] image features (model dtype, unnormalised)."""
        pixels = pixels.to(self.device, self.dtype)
        if self.cls_only:
            return encode_image_cls_only(self.network.visual, pixels)
        return self.network.encode_image(pixels)

    @torch.inference_mode()
    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """Texts -> [N,D] text features (model dtype, unnormalised), 77-token CLIP context."""
        tokens = clip_tokenizer(CLIP_CONTEXT_LENGTH)(list(texts)).to(self.device)
        return self.network.encode_text(tokens)

    @property
    def logit_scale(self) -> torch.Tensor:
        """exp(logit_scale) as CLIP's forward applies it (0-dim fp32; 100 for OpenAI's weights)."""
        return self.network.logit_scale.detach().exp()

    def weights_sha256(self) -> str:
        return sha256_of(self.weights_path)


def takes_cls_only(visual: Any) -> bool:
    """Whether `visual` is the plain CLIP ViT that `encode_image_cls_only` reproduces: the CLS
    token pooled (OpenAI's layout), no attention pooling, batch-first blocks without cross-attention."""
    blocks = getattr(getattr(visual, "transformer", None), "resblocks", None)
    return (
        type(visual).__name__ == "VisionTransformer"
        and getattr(visual, "attn_pool", None) is None
        and not getattr(visual, "final_ln_after_pool", True)
        and getattr(visual, "pool_type", None) == "tok"
        and not getattr(visual, "output_tokens", True)
        and getattr(visual.transformer, "batch_first", False)
        and blocks is not None
        and len(blocks) > 0
        and all(type(b).__name__ == "ResidualAttentionBlock" and not hasattr(b, "ln_1_kv") for b in blocks)
    )


def encode_image_cls_only(visual: Any, pixels: torch.Tensor) -> torch.Tensor:
    """open_clip's `VisionTransformer.forward` where the last block computes the CLS token alone.

    Only the CLS token's output is pooled, so the last block's query, attention output and MLP
    are needed for that row only (its keys and values still come from every token): 1/24 of
    ViT-L/14's work saved, 1/12 of ViT-B/32's. The CLS row's products are the same arithmetic
    on fewer rows, so features move at the rounding level only.
    """
    x = visual._embeds(pixels)
    *body, last = visual.transformer.resblocks
    for block in body:
        x = block(x)
    keys = last.ln_1(x)
    cls = x[:, :1] + last.ls_1(last.attn(keys[:, :1], keys, keys, need_weights=False)[0])
    cls = cls + last.ls_2(last.mlp(last.ln_2(cls)))
    pooled = visual.ln_post(cls[:, 0])
    return pooled @ visual.proj if visual.proj is not None else pooled


def build_clip(path: Path, arch: str, device: str) -> ClipModel:
    """Read `path`, build the network strictly, put it on `device` in VBench's precision."""
    from open_clip.model import build_model_from_openai_state_dict

    target = torch.device(device)
    dtype = torch.float16 if target.type == "cuda" else torch.float32
    state_dict = read_openai_state_dict(path)
    patch = state_dict["visual.conv1.weight"].shape[-1]
    if patch != _PATCH_SIZE[arch]:
        raise InputError(f"{path} holds a CLIP with {patch}-px patches, not {arch}")
    try:
        network = build_model_from_openai_state_dict(
            dict(state_dict), quick_gelu=True, cast_dtype=dtype if dtype == torch.float16 else None
        )  # strict load_state_dict inside; the matrices end up fp16, as in OpenAI's files
        if dtype == torch.float32:
            # Reload in fp32 so that fp32 checkpoints (open_clip's) keep their full precision.
            network.float().load_state_dict(
                {k: v for k, v in state_dict.items() if k not in _OPENAI_EXTRA_ENTRIES})
    except (KeyError, RuntimeError) as error:  # a key missing, surplus or of the wrong shape
        detail = " ".join(str(error).split())[:300]
        raise InputError(f"{path} is not an OpenAI CLIP checkpoint: {detail}") from error
    network = choose_kernel_routes(network.to(target), device, tokens=257 if arch == "ViT-L-14" else 50)
    return ClipModel(arch=arch, network=network.eval(), device=target, dtype=dtype,
                     weights_path=Path(path))


def load_clip(context: ScoringContext, arch: str = "ViT-B-32") -> ClipModel:
    """The process-wide CLIP for (arch, weights file, device); raises WeightsMissing if absent."""
    path = find_clip_weights(arch, context.weights_dir)
    key = (f"clip-{arch}", str(path), context.device)  # the label the manifest's kernel routes use
    return context.backbones.get(key, lambda: build_clip(path, arch, context.device))


def clip_transform_pil(frames: Sequence[np.ndarray], size: int = 224) -> torch.Tensor:
    """VBench's `clip_transform_Image` (appearance_style) on uint8 RGB frames [H, W, 3].

    Each frame goes through PIL, as in VBench: PIL's bicubic resize of the short side to `size`
    (PIL filters with antialiasing, unlike the tensor `clip_transform`), centre crop, ToTensor
    (÷255), CLIP normalisation. Returns float32 [T, 3, size, size].
    """
    import torchvision.transforms.functional as TF
    from PIL import Image
    from torchvision.transforms import InterpolationMode

    pixels = []
    for frame in frames:
        image = TF.resize(Image.fromarray(frame), size, interpolation=InterpolationMode.BICUBIC)
        pixels.append(TF.normalize(TF.to_tensor(TF.center_crop(image, size)), CLIP_MEAN, CLIP_STD))
    return torch.stack(pixels)
