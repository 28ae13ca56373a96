"""VBench's frame transforms (tabulated in docs/dimensions.md) as batched tensor functions.

VBench applies its torchvision `Compose` to the float32 tensor that `load_video` returns (values
0–255, not uint8), so the resize runs on floats, with `antialias=False` and no clamping. These
functions do the same operations in the same order on a batch of frames; the only difference is
that frames arrive here as uint8 and are cast once.
"""

from __future__ import annotations

import numpy as np
import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HALF_MEAN = (0.5, 0.5, 0.5)  # EfficientNet-Lite's input normalisation (its ImageNet training used ±1)
HALF_STD = (0.5, 0.5, 0.5)


def frames_to_tensor(frames: np.ndarray | torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 [T, H, W, 3] frames → float32 [T, 3, H, W] with values 0–255 (VBench's `load_video`)."""
    if isinstance(frames, np.ndarray) and not frames.flags.writeable:
        frames = frames.copy()  # torch warns on read-only arrays (decoded frames are shared)
    tensor = torch.as_tensor(frames).to(device)
    return tensor.permute(0, 3, 1, 2).float()


def _normalise(pixels: torch.Tensor, mean: tuple, std: tuple) -> torch.Tensor:
    return TF.normalize(pixels.div(255.0), mean, std)


def dino_transform(pixels: torch.Tensor, size: int = 224) -> torch.Tensor:
    """Short side → `size` (bilinear, aspect kept, no crop), ÷255, ImageNet normalisation."""
    resized = TF.resize(pixels, size, interpolation=InterpolationMode.BILINEAR, antialias=False)
    return _normalise(resized, IMAGENET_MEAN, IMAGENET_STD)


def clip_transform(pixels: torch.Tensor, size: int = 224) -> torch.Tensor:
    """Short side → `size` (bicubic), centre crop `size`², ÷255, CLIP normalisation."""
    resized = TF.resize(pixels, size, interpolation=InterpolationMode.BICUBIC, antialias=False)
    return _normalise(TF.center_crop(resized, size), CLIP_MEAN, CLIP_STD)


def efficientnet_transform(pixels: torch.Tensor, size: int = 224, crop: bool = False) -> torch.Tensor:
    """The embedded backbone's input: short side → `size` (bilinear), optional centre crop, ±1 range."""
    resized = TF.resize(pixels, size, interpolation=InterpolationMode.BILINEAR, antialias=False)
    if crop:
        resized = TF.center_crop(resized, size)
    return _normalise(resized, HALF_MEAN, HALF_STD)


# ---- VBench++ image-to-video transforms ----------------------------------------------------------
# `vbench2_beta_i2v` builds its Resize without `antialias`, so torchvision's default (True) applies
# to the float frame tensors; the conditioning image goes through the same steps as a PIL image
# (PIL's own filters) and `ToTensor`. Both give [0, 1] pixels; each backbone normalises its own way.


def i2v_center_frames(pixels: torch.Tensor, resize: int = 256, crop: int = 224) -> torch.Tensor:
    """i2v_subject's frames: short side → `resize` (bicubic, antialiased), centre crop, ÷255."""
    resized = TF.resize(pixels, resize, interpolation=InterpolationMode.BICUBIC, antialias=True)
    return TF.center_crop(resized, crop).div(255.0)


def i2v_square_frames(pixels: torch.Tensor, size: int = 224) -> torch.Tensor:
    """i2v_background's frames: resize to `size`² (bicubic, antialiased, aspect squashed), ÷255."""
    return TF.resize(pixels, [size, size], interpolation=InterpolationMode.BICUBIC, antialias=True).div(255.0)


def i2v_center_image(image: np.ndarray, resize: int = 256, crop: int = 224) -> torch.Tensor:
    """The conditioning image (uint8 [H, W, 3]) through PIL: short side → `resize`, centre crop,
    ToTensor; [1, 3, crop, crop] in [0, 1]."""
    from PIL import Image

    resized = TF.resize(Image.fromarray(image), resize, interpolation=InterpolationMode.BICUBIC)
    return TF.to_tensor(TF.center_crop(resized, crop)).unsqueeze(0)


def i2v_square_image(image: np.ndarray, size: int = 224) -> torch.Tensor:
    """The conditioning image through PIL: resize to `size`² (bicubic), ToTensor; [1, 3, size, size]."""
    from PIL import Image

    resized = TF.resize(Image.fromarray(image), [size, size], interpolation=InterpolationMode.BICUBIC)
    return TF.to_tensor(resized).unsqueeze(0)
