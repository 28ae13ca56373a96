"""Overall consistency (Semantic): does the video match its whole prompt? (docs/dimensions.md)

Per video: 8 frames by VBench's "middle" sampler; each uint8 frame → clip_transform (short side →
224 bicubic on uint8, as VBench's decord tensors, centre crop, ÷255, CLIP norm); v = ViCLIP video
embedding of the 8-frame clip, t = ViCLIP text embedding of the full prompt (32-token CLIP BPE),
both L2-normalised; value = v·t (raw cosine, not ×100). Aggregate: mean over videos.
Text features are computed once per prompt; video features once per 8-frame clip (shared with
temporal_style through the ViCLIP instance when both score the same video).

Backend: "vbench" only (`ViClip-InternVid-10M-FLT.pth`): no installable package ships it, so
`--backend embedded` is refused, naming the file it needs.
Deviation: VBench encodes one video per forward; here `batch_size // 8` videos share a forward.
temporal_style is the same procedure on its own prompts (dimensions/temporal_style.py).
"""

from __future__ import annotations

import hashlib
from typing import ClassVar

import numpy as np
import torch

from vbench_lite.dimension import Dimension, FrameNeeds, VideoScore
from vbench_lite.dimensions.backbones.preprocess import clip_transform
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.dimensions.backbones.viclip import VICLIP_WEIGHTS, load_viclip
from vbench_lite.video import Video
from vbench_lite.weights import WeightSpec

CLIP_FRAMES = 8  # ViCLIP's clip length; VBench samples them with "middle"


class OverallConsistency(Dimension):
    name: ClassVar[str] = "overall_consistency"
    version: ClassVar[str] = "1"
    group: ClassVar = "semantic"
    frames: ClassVar[FrameNeeds] = FrameNeeds("middle", count=CLIP_FRAMES)
    needs_prompt: ClassVar[bool] = True
    backends: ClassVar[tuple[str, ...]] = ("vbench",)
    description: ClassVar[str] = "ViCLIP video–prompt cosine similarity"

    def weights(self) -> list[WeightSpec]:
        return [VICLIP_WEIGHTS]

    def weights_sha256(self) -> str | None:
        return self._viclip.weights_sha256() if getattr(self, "_viclip", None) else None

    def setup(self) -> None:
        self.backend = backend_for(self)  # "vbench": the only backend
        self._viclip = load_viclip(self.context)
        self._prompt_features: dict[str, torch.Tensor] = {}

    def _prompt(self, prompt: str) -> torch.Tensor:
        if prompt not in self._prompt_features:
            features = self._viclip.encode_text([prompt])
            self._prompt_features[prompt] = features / features.norm(dim=-1, keepdim=True)
        return self._prompt_features[prompt]

    def _clip_pixels(self, video: Video) -> torch.Tensor:
        frames = torch.from_numpy(video.frames).to(self.context.device).permute(0, 3, 1, 2)
        return clip_transform(frames)  # uint8 in: VBench resizes decord's uint8 tensors

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        reasons = [self.skip_reason(video) for video in videos]
        scored = [video for video, reason in zip(videos, reasons, strict=True) if reason is None]
        keys = [hashlib.blake2b(np.ascontiguousarray(v.frames).data, digest_size=16).digest()
                for v in scored]
        missing = [(key, v) for key, v in zip(keys, scored, strict=True)
                   if key not in self._viclip.video_cache]
        per_forward = max(1, self.context.batch_size // CLIP_FRAMES)
        for start in range(0, len(missing), per_forward):
            group = missing[start:start + per_forward]
            features = self._viclip.encode_video(torch.stack([self._clip_pixels(v) for _, v in group]))
            features = features / features.norm(dim=-1, keepdim=True)
            for (key, _), feature in zip(group, features, strict=True):
                self._viclip.remember(key, feature[None])
        similarities = iter(
            float(self._viclip.video_cache[key] @ self._prompt(video.prompt).T)
            for key, video in zip(keys, scored, strict=True))
        return [VideoScore(value=None, skipped=reason) if reason else VideoScore(next(similarities))
                for reason in reasons]
