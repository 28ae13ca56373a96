"""Video–image subject consistency (VBench++ I2V): does the video keep the conditioning image's subject?

Per video, with L2-normalised DINO ViT-B/16 CLS features g of the conditioning image and f_i of
every decoded frame:
    value = 0.4·max_i max(0, cos(g, f_i)) + 0.3·mean_i max(0, cos(f_{i−1}, f_i))
            + 0.3·min_i max(0, cos(f_{i−1}, f_i))
Aggregate: the mean over videos. Preprocessing (VBench's `dino_transform_internet`): frames as
float 0–255 tensors, short side → 256 bicubic (antialiased), centre crop 224, ÷255, ImageNet
normalisation; the image through PIL with the same steps and ToTensor.

Backends: "vbench" = DINO ViT-B/16 (`dino_vitbase16_pretrain.pth`), the instance shared with
subject_consistency through the backbone cache; "embedded" = the ImageNet EfficientNet-Lite0
pooled features shipped in a PyPI package, same geometry and formula, ±1 input range.
Deviations: frames go through the network in batches (VBench: one at a time); grey or RGBA images
are converted to RGB (VBench's normalisation fails on them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
import torchvision.transforms.functional as TF

from vbench_lite.dimension import Dimension, FrameConsumer, FrameNeeds, VideoScore, score_whole
from vbench_lite.dimensions.backbones.consistency import inference_context
from vbench_lite.dimensions.backbones.dino import DINO_SPEC, load_dino
from vbench_lite.dimensions.backbones.efficientnet import efficientnet_features, load_efficientnet
from vbench_lite.dimensions.backbones.i2v_similarity import i2v_stream
from vbench_lite.dimensions.backbones.preprocess import (
    HALF_MEAN,
    HALF_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    i2v_center_frames,
    i2v_center_image,
)
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.video import Video, VideoMeta
from vbench_lite.weights import WeightSpec

RESIZE, CROP = 256, 224  # dino_transform_internet(256, 224)


class I2VSubject(Dimension):
    name: ClassVar[str] = "i2v_subject"
    version: ClassVar[str] = "1"
    group: ClassVar = "i2v"
    frames: ClassVar[FrameNeeds] = FrameNeeds("all")
    needs_image: ClassVar[bool] = True
    backends: ClassVar[tuple[str, ...]] = ("vbench", "embedded")
    description: ClassVar[str] = "DINO similarity of the frames to the conditioning image and to each other"

    def weights(self) -> list[WeightSpec]:
        return [DINO_SPEC]

    def setup(self) -> None:
        self.backend = backend_for(self)
        self._network: Callable[[torch.Tensor], torch.Tensor]
        if self.backend == "vbench":
            dino, self.weights_path = load_dino(self.context)
            self._mean_std, self._network = (IMAGENET_MEAN, IMAGENET_STD), dino
        else:
            backbone, self.weights_path = load_efficientnet(self.context)
            self._mean_std = (HALF_MEAN, HALF_STD)
            self._network = lambda pixels: efficientnet_features(backbone, pixels)

    def _normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        return TF.normalize(pixels, *self._mean_std)

    @torch.no_grad()
    def _encode(self, pixels: torch.Tensor) -> torch.Tensor:
        with inference_context(self.context.device):
            return self._network(self._normalise(pixels)).float()

    def consumer(self, video: VideoMeta) -> FrameConsumer:
        assert video.image is not None  # skip_reason holds back a video without its image
        return i2v_stream(
            video.image,
            frame_transform=lambda pixels: i2v_center_frames(pixels, RESIZE, CROP),
            image_transform=lambda image: i2v_center_image(image, RESIZE, CROP),
            encode=self._encode,
            batch_size=self.context.batch_size,
            device=self.context.device,
        )

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        return [VideoScore(value=None, skipped=reason) if (reason := self.skip_reason(video))
                else score_whole(self.consumer(video.meta), video.frames) for video in videos]
