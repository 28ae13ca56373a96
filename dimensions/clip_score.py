"""CLIP score (extra, beyond VBench): how well do the frames match the prompt?

In the style of EvalCrafter's CLIP-Score: per frame x = clip_transform(frame) (short side → 224
bicubic, centre crop, CLIP norm), with CLIP image features f(x) and text features t(prompt), both
L2-normalised, s = cos(f, t) (raw cosine, not ×100); value = mean over the video's frames;
aggregate = mean over videos. It needs only the prompt, so it works on any prompt, including the
custom-input mode where VBench refuses its semantic dimensions. Group "extra": not part of
VBench's Semantic or Total score.

Architecture: `options["clip_score_arch"]`, "ViT-B-32" (default; the instance shared with
background_consistency and appearance_style) or "ViT-L-14" (shared with aesthetic_quality).
Backend: "vbench" only — the OpenAI CLIP files; no installable package ships them, so
`--backend embedded` is refused, naming the file it needs.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from vbench_lite.dimension import Dimension, FrameNeeds, VideoScore
from vbench_lite.dimensions.backbones.clip import clip_weight_spec, load_clip
from vbench_lite.dimensions.backbones.consistency import video_features
from vbench_lite.dimensions.backbones.preprocess import clip_transform
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.video import Video
from vbench_lite.weights import WeightSpec

ARCH_OPTION = "clip_score_arch"
DEFAULT_ARCH = "ViT-B-32"


class ClipScore(Dimension):
    name: ClassVar[str] = "clip_score"
    version: ClassVar[str] = "1"
    group: ClassVar = "extra"
    frames: ClassVar[FrameNeeds] = FrameNeeds("all")
    needs_prompt: ClassVar[bool] = True
    backends: ClassVar[tuple[str, ...]] = ("vbench",)
    description: ClassVar[str] = "mean CLIP cosine between each frame and the prompt"

    @property
    def arch(self) -> str:
        return str(self.context.options.get(ARCH_OPTION, DEFAULT_ARCH))

    def weights(self) -> list[WeightSpec]:
        return [clip_weight_spec(self.arch)]

    def weights_sha256(self) -> str | None:
        return self._clip.weights_sha256() if getattr(self, "_clip", None) else None

    def setup(self) -> None:
        self.backend = backend_for(self)  # "vbench": the only backend
        self._clip = load_clip(self.context, self.arch)
        self._prompt_features: dict[str, torch.Tensor] = {}

    def _prompt(self, prompt: str) -> torch.Tensor:
        if prompt not in self._prompt_features:
            features = self._clip.encode_text([prompt]).float()
            self._prompt_features[prompt] = features / features.norm(dim=-1, keepdim=True)
        return self._prompt_features[prompt]

    @torch.no_grad()
    def _normalised_images(self, pixels: torch.Tensor) -> torch.Tensor:
        features = self._clip.encode_image(pixels).float()
        return features / features.norm(dim=-1, keepdim=True)

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        reasons = [self.skip_reason(video) for video in videos]
        scored = [video for video, reason in zip(videos, reasons, strict=True) if reason is None]
        features = iter(video_features([v.frames for v in scored], clip_transform,
                                       self._normalised_images, self.context.batch_size,
                                       self.context.device))
        scores = []
        for video, reason in zip(videos, reasons, strict=True):
            if reason is not None:
                scores.append(VideoScore(value=None, skipped=reason))
                continue
            similarities = next(features) @ self._prompt(video.prompt).t()
            scores.append(VideoScore(value=float(similarities.double().mean())))
        return scores
