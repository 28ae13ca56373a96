"""UMT's Kinetics test transform, as VBench's human_action applies it to its 16 uint8 frames.

1. Resize (UMT's `video_transforms.Resize(256, 'bilinear')`): OpenCV `INTER_LINEAR` on each uint8
   frame, the shorter side to 256 and the longer to int(256 · long / short); frames whose shorter
   side is already 256 are left as they are. OpenCV, not torchvision, because its fixed-point
   bilinear on uint8 is what VBench's numbers come from.
2. CenterCrop(224): offsets int(round((side − 224) / 2)) with Python's round (halves to even).
3. ClipToTensor + Normalize: [3, T, 224, 224] float32, ÷255, then (x − mean) / std with ImageNet's
   mean and std, in that order of float32 operations.

Only the 224² crop is converted to float; the resize writes into one preallocated uint8 buffer.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from vbench_lite.dimensions.backbones.preprocess import IMAGENET_MEAN, IMAGENET_STD

SHORT_SIDE = 256
CROP_SIZE = 224


def resized_size(height: int, width: int, short_side: int = SHORT_SIDE) -> tuple[int, int] | None:
    """(height, width) after UMT's Resize, or None when the shorter side already has the size."""
    if (width <= height and width == short_side) or (height <= width and height == short_side):
        return None
    if width < height:
        return int(short_side * height / width), short_side
    return short_side, int(short_side * width / height)


def centre_crop_offsets(height: int, width: int, size: int = CROP_SIZE) -> tuple[int, int]:
    """(top, left) of UMT's CenterCrop."""
    if height < size or width < size:
        raise ValueError(f"a {width}x{height} frame is smaller than the {size}x{size} crop")
    return int(round((height - size) / 2.0)), int(round((width - size) / 2.0))


def umt_clip(frames: np.ndarray) -> torch.Tensor:
    """uint8 [T, H, W, 3] RGB frames → the normalised clip [3, T, 224, 224] float32."""
    count, height, width = frames.shape[:3]
    target = resized_size(height, width)
    if target is not None:
        height, width = target
        resized = np.empty((count, height, width, 3), dtype=np.uint8)
        for index in range(count):
            cv2.resize(frames[index], (width, height), dst=resized[index], interpolation=cv2.INTER_LINEAR)
        frames = resized
    top, left = centre_crop_offsets(height, width)
    crop = np.ascontiguousarray(frames[:, top : top + CROP_SIZE, left : left + CROP_SIZE])
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32)[:, None, None, None]
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32)[:, None, None, None]
    pixels = torch.from_numpy(crop).permute(3, 0, 1, 2).to(torch.float32, memory_format=torch.contiguous_format)
    return pixels.div_(255).sub_(mean).div_(std)
