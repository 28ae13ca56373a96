"""Subject consistency (Quality): does the subject look the same through the video? (docs/dimensions.md)

Per video, with L2-normalised DINO ViT-B/16 CLS features f_0..f_{N−1} of every decoded frame
(dino_transform: short side → 224 bilinear, aspect kept, no crop, no antialias, ImageNet norm):
    s_i = ½·[max(0, cos(f_{i−1}, f_i)) + max(0, cos(f_0, f_i))],  value = mean_i s_i  (i = 1..N−1).
Aggregate: Σ_videos Σ_i s_i / Σ_videos (N_v − 1) — pair-weighted, as VBench's single-process run
computes it (its multi-process run takes the plain mean of per-video values instead).
We fix the single-process definition so that a score never depends on the number of GPUs.

Backends: "vbench" = DINO ViT-B/16 (`dino_vitbase16_pretrain.pth` or the HF facebook/dino-vitb16
folder); "embedded" = ImageNet EfficientNet-Lite0 pooled features shipped in a PyPI package, same
preprocessing geometry (short side 224, no crop) and formula. Deviation: frames go through the
network in batches (VBench: one at a time) — the same arithmetic, to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch

from vbench_lite.dimension import Dimension, FrameConsumer, FrameNeeds, VideoScore, pair_weighted_mean, score_whole
from vbench_lite.dimensions.backbones.consistency import consistency_scores, inference_context
from vbench_lite.dimensions.backbones.dino import DINO_SPEC, load_dino
from vbench_lite.dimensions.backbones.efficientnet import efficientnet_features, load_efficientnet
from vbench_lite.dimensions.backbones.frame_stream import FeatureStream, tensor_encoder
from vbench_lite.dimensions.backbones.preprocess import dino_transform, efficientnet_transform
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.video import Video, VideoMeta
from vbench_lite.weights import WeightSpec

SHORT_SIDE = 224  # dino_transform(224)
PAIR_SUM, PAIR_COUNT = "pair_sum", "pair_count"  # what the pair-weighted aggregate needs


class SubjectConsistency(Dimension):
    name: ClassVar[str] = "subject_consistency"
    version: ClassVar[str] = "1"
    group: ClassVar = "quality"
    frames: ClassVar[FrameNeeds] = FrameNeeds("all")
    backends: ClassVar[tuple[str, ...]] = ("vbench", "embedded")
    description: ClassVar[str] = "DINO feature similarity of each frame to the previous and the first"

    def weights(self) -> list[WeightSpec]:
        return [DINO_SPEC]

    def setup(self) -> None:
        ctx = self.context
        self.backend = backend_for(self)
        self._network: Callable[[torch.Tensor], torch.Tensor]
        if self.backend == "vbench":
            dino, self.weights_path = load_dino(ctx)
            self._transform = lambda pixels: dino_transform(pixels, SHORT_SIDE)
            self._network = dino
        else:
            efficientnet, self.weights_path = load_efficientnet(ctx)
            self._transform = lambda pixels: efficientnet_transform(pixels, SHORT_SIDE)
            self._network = lambda pixels: efficientnet_features(efficientnet, pixels)

    @torch.no_grad()
    def _encode(self, pixels: torch.Tensor) -> torch.Tensor:
        with inference_context(self.context.device):
            return self._network(pixels).float()

    def consumer(self, video: VideoMeta) -> FrameConsumer:
        encode = tensor_encoder(self._transform, self._encode, self.context.device)
        return FeatureStream(encode, self.context.batch_size, self._score)

    def _score(self, features: torch.Tensor) -> VideoScore:
        return consistency_scores([features], PAIR_SUM, PAIR_COUNT)[0]

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        return [score_whole(self.consumer(video.meta), video.frames) for video in videos]

    def aggregate(self, scores: list[VideoScore]) -> float:
        return pair_weighted_mean(scores, PAIR_SUM, PAIR_COUNT)
