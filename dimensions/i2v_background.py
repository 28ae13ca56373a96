"""Video–image background consistency (VBench++ I2V): does the video keep the conditioning image's scene?

Per video, with DreamSim ensemble embeddings g of the conditioning image and f_i of every decoded
frame (1792-d, mean-centred and L2-normalised, then L2-normalised again as VBench does):
    value = 0.4·max_i max(0, cos(g, f_i)) + 0.3·mean_i max(0, cos(f_{i−1}, f_i))
            + 0.3·min_i max(0, cos(f_{i−1}, f_i))
Aggregate: the mean over videos. Preprocessing (VBench's `dreamsim_transform`): frames as float
0–255 tensors resized to 224×224 (bicubic, antialiased, aspect squashed), ÷255; the image through
PIL with the same resize and ToTensor. (VBench's README names DINO for this dimension; its code
uses DreamSim, which is what is followed here.)

Backends: "vbench" = DreamSim's ensemble (DINO, CLIP and OpenCLIP ViT-B/16 with its LoRA merged at
load; `dimensions/backbones/dreamsim.py`); "embedded" = the ImageNet EfficientNet-Lite0 pooled
features shipped in a PyPI package, same geometry and formula, ±1 input range.
Deviations: frames go through the network in batches (VBench: one at a time); grey or RGBA images
are converted to RGB.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
import torchvision.transforms.functional as TF

from vbench_lite.dimension import Dimension, FrameConsumer, FrameNeeds, VideoScore, score_whole
from vbench_lite.dimensions.backbones.consistency import inference_context
from vbench_lite.dimensions.backbones.dreamsim import DREAMSIM_SPEC, DreamSimFiles, load_dreamsim
from vbench_lite.dimensions.backbones.efficientnet import efficientnet_features, load_efficientnet
from vbench_lite.dimensions.backbones.i2v_similarity import i2v_stream
from vbench_lite.dimensions.backbones.preprocess import HALF_MEAN, HALF_STD, i2v_square_frames, i2v_square_image
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.video import Video, VideoMeta
from vbench_lite.weights import WeightSpec

SIZE = 224  # dreamsim_transform(224)


class I2VBackground(Dimension):
    name: ClassVar[str] = "i2v_background"
    version: ClassVar[str] = "1"
    group: ClassVar = "i2v"
    frames: ClassVar[FrameNeeds] = FrameNeeds("all")
    needs_image: ClassVar[bool] = True
    backends: ClassVar[tuple[str, ...]] = ("vbench", "embedded")
    description: ClassVar[str] = "DreamSim similarity of the frames to the conditioning image and to each other"

    def weights(self) -> list[WeightSpec]:
        return [DREAMSIM_SPEC]

    def setup(self) -> None:
        self.backend = backend_for(self)
        self._files: DreamSimFiles | None = None
        self._network: Callable[[torch.Tensor], torch.Tensor]
        if self.backend == "vbench":
            model, self._files = load_dreamsim(self.context)
            self.weights_path, self._network = self._files.folder, model
        else:
            backbone, self.weights_path = load_efficientnet(self.context)
            self._network = lambda pixels: efficientnet_features(backbone, TF.normalize(pixels, HALF_MEAN, HALF_STD))

    def weights_sha256(self) -> str | None:
        files: DreamSimFiles | None = getattr(self, "_files", None)
        return files.sha256() if files is not None else super().weights_sha256()

    @torch.no_grad()
    def _encode(self, pixels: torch.Tensor) -> torch.Tensor:
        with inference_context(self.context.device):
            return self._network(pixels).float()

    def consumer(self, video: VideoMeta) -> FrameConsumer:
        assert video.image is not None  # skip_reason holds back a video without its image
        return i2v_stream(
            video.image,
            frame_transform=lambda pixels: i2v_square_frames(pixels, SIZE),
            image_transform=lambda image: i2v_square_image(image, SIZE),
            encode=self._encode,
            batch_size=self.context.batch_size,
            device=self.context.device,
        )

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        return [VideoScore(value=None, skipped=reason) if (reason := self.skip_reason(video))
                else score_whole(self.consumer(video.meta), video.frames) for video in videos]
