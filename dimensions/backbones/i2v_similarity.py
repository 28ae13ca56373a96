"""VBench++'s video–image consistency score, shared by i2v_subject and i2v_background.

With L2-normalised features g of the conditioning image and f_0..f_{N−1} of every decoded frame:
    conformity_i  = max(0, cos(g, f_i))             i = 0..N−1
    consecutive_i = max(0, cos(f_{i−1}, f_i))       i = 1..N−1
    value = 0.4·max_i conformity_i + 0.3·mean_i consecutive_i + 0.3·min_i consecutive_i
Each cosine is clamped at 0 before the max / mean / min, as VBench does (`max(0.0, cos.item())`).
The cosines are taken in the features' dtype and combined in float64 (VBench: Python floats and
numpy). VBench's aggregate is the plain mean of the per-video values (the contract's default).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from vbench_lite.dimension import FrameConsumer, VideoScore
from vbench_lite.dimensions.backbones.frame_stream import FeatureStream, tensor_encoder

MAX_CONFORMITY_WEIGHT = 0.4
MEAN_CONSECUTIVE_WEIGHT = 0.3
MIN_CONSECUTIVE_WEIGHT = 0.3


def i2v_score(image_feature: torch.Tensor, frame_features: torch.Tensor) -> VideoScore:
    """One video's value from its image feature [D] (or [1, D]) and frame features [N, D]."""
    image = F.normalize(image_feature.reshape(1, -1), dim=-1, p=2)
    frames = F.normalize(frame_features, dim=-1, p=2)
    conformity = F.cosine_similarity(image.expand_as(frames), frames).clamp(min=0.0).double()
    consecutive = F.cosine_similarity(frames[:-1], frames[1:]).clamp(min=0.0).double()
    parts = {
        "image_similarity_max": float(conformity.max()),
        "consecutive_mean": float(consecutive.mean()),
        "consecutive_min": float(consecutive.min()),
    }
    value = (
        MAX_CONFORMITY_WEIGHT * parts["image_similarity_max"]
        + MEAN_CONSECUTIVE_WEIGHT * parts["consecutive_mean"]
        + MIN_CONSECUTIVE_WEIGHT * parts["consecutive_min"]
    )
    return VideoScore(value=value, extra=parts)


def i2v_stream(
    image: np.ndarray,
    frame_transform: Callable[[torch.Tensor], torch.Tensor],
    image_transform: Callable[[np.ndarray], torch.Tensor],
    encode: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int,
    device: str,
) -> FrameConsumer:
    """One video's scorer: its conditioning image encoded now, every frame as it streams by (only
    the features are kept), then `i2v_score`."""
    image_feature = encode(image_transform(image).to(device))
    return FeatureStream(tensor_encoder(frame_transform, encode, device), batch_size,
                         lambda frames: i2v_score(image_feature, frames))
