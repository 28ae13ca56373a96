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

from vbench_lite.dimension import Dimension, FrameConsumer, FrameNeeds, Option, VideoScore, one_of, score_whole
from vbench_lite.dimensions.backbones.clip import clip_weight_spec, load_clip
from vbench_lite.dimensions.backbones.frame_stream import FeatureStream, tensor_encoder
from vbench_lite.dimensions.backbones.preprocess import clip_transform
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.video import Video, VideoMeta
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
    options: ClassVar[tuple[Option, ...]] = (Option(ARCH_OPTION, one_of("ViT-B-32", "ViT-L-14"), "CLIP architecture"),)
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

    def consumer(self, video: VideoMeta) -> FrameConsumer:
        text = self._prompt(video.prompt)
        encode = tensor_encoder(clip_transform, self._normalised_images, self.context.device)
        return FeatureStream(encode, self.context.batch_size,
                             lambda images: VideoScore(value=float((images @ text.t()).double().mean())))

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        return [VideoScore(value=None, skipped=reason) if (reason := self.skip_reason(video))
                else score_whole(self.consumer(video.meta), video.frames) for video in videos]
