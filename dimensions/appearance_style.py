"""Appearance style (Semantic): does every frame show the requested style? (docs/dimensions.md)

Per frame: x = clip_transform_Image(frame) (through PIL: bicubic short side → 224, centre crop,
ToTensor, CLIP norm); with CLIP ViT-B/32 features f(x) and t(style phrase), both L2-normalised,
    s = logit / 100 = exp(logit_scale) · cos(f, t) / 100
(exactly VBench's `logits_per_text / 100`; exp(logit_scale) is 100 for OpenAI's weights, so s is the
cosine). The text is the style phrase from the suite's auxiliary info (`aux["appearance_style"]`,
e.g. "Van Gogh style"), not the prompt. value = mean over the video's frames.
Aggregate: Σ over all frames of all videos / number of frames (frame-weighted, VBench's
single-process result); per-video `frame_results` (every s) and `cur_sim` (the last frame's s)
are stored as in VBench's JSON. Videos without a style phrase are skipped with the reason.

Backend: "vbench" only (OpenAI `ViT-B-32.pt`, the CLIP instance shared with
background_consistency); no installable package ships CLIP weights.
Deviation: VBench runs CLIP once per frame; here frames of several videos share batches.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from vbench_lite.dimension import Dimension, FrameConsumer, FrameNeeds, VideoScore, score_whole
from vbench_lite.dimensions.backbones.clip import clip_transform_pil, clip_weight_spec, load_clip
from vbench_lite.dimensions.backbones.frame_stream import FeatureStream
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.video import Video, VideoMeta
from vbench_lite.weights import WeightSpec

CLIP_ARCH = "ViT-B-32"
AUX_KEY = "appearance_style"
LOGIT_DIVISOR = 100.0  # VBench divides CLIP's logit by 100
FRAME_RESULTS, CUR_SIM = "frame_results", "cur_sim"  # VBench's per-video JSON keys


class AppearanceStyle(Dimension):
    name: ClassVar[str] = "appearance_style"
    version: ClassVar[str] = "1"
    group: ClassVar = "semantic"
    frames: ClassVar[FrameNeeds] = FrameNeeds("all")
    needs_aux: ClassVar[str | None] = AUX_KEY
    backends: ClassVar[tuple[str, ...]] = ("vbench",)
    description: ClassVar[str] = "CLIP similarity of each frame to the style phrase"

    def weights(self) -> list[WeightSpec]:
        return [clip_weight_spec(CLIP_ARCH)]

    def weights_sha256(self) -> str | None:
        return self._clip.weights_sha256() if getattr(self, "_clip", None) else None

    def setup(self) -> None:
        self.backend = backend_for(self)  # "vbench": the only backend
        self._clip = load_clip(self.context, CLIP_ARCH)
        self._style_features: dict[str, torch.Tensor] = {}

    def _style(self, phrase: str) -> torch.Tensor:
        if phrase not in self._style_features:
            features = self._clip.encode_text([phrase])
            self._style_features[phrase] = features / features.norm(dim=1, keepdim=True)
        return self._style_features[phrase]

    def consumer(self, video: VideoMeta) -> FrameConsumer:
        text = self._style(str(video.aux[AUX_KEY]))

        def score(images: torch.Tensor) -> VideoScore:
            logits = self._clip.logit_scale * images @ text.t()  # VBench's order of operations
            frame_results = [float(s) / LOGIT_DIVISOR for s in logits[:, 0].cpu()]
            return VideoScore(value=float(np.mean(frame_results)),
                              extra={FRAME_RESULTS: frame_results, CUR_SIM: frame_results[-1]})

        return FeatureStream(self._image_features, self.context.batch_size, score)

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        return [VideoScore(value=None, skipped=reason) if (reason := self.skip_reason(video))
                else score_whole(self.consumer(video.meta), video.frames) for video in videos]

    @torch.no_grad()
    def _image_features(self, frames: np.ndarray) -> torch.Tensor:
        """L2-normalised CLIP features of frames (VBench's PIL preprocessing)."""
        features = self._clip.encode_image(clip_transform_pil(list(frames)))
        return features / features.norm(dim=1, keepdim=True)

    def aggregate(self, scores: list[VideoScore]) -> float:
        frames = [s for score in scores if score.value is not None for s in score.extra[FRAME_RESULTS]]
        return float(sum(frames) / len(frames)) if frames else float("nan")
