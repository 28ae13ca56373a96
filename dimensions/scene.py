"""Scene (Semantic): does the video show the scene its prompt names?

Per video: the 16 frames of VBench's "middle" sampler, decoded at 384×384 (aspect ratio not kept)
through FFmpeg's bilinear scaler as decord's `VideoReader(width=384, height=384)` delivers them
(GIFs: PIL bilinear resize), ToTensor, ImageNet normalisation. Tag2Text captions the 16 frames as
one batch from the prompt "a picture of " (tags above 0.7 guide the caption). With the scene name
s from the suite (`aux["scene"]["scene"]`, e.g. "amusement park"):
    frame succeeds ⇔ every space-separated word of s is a substring of its caption
                     ("bar" succeeds on "barn", as in VBench),
    value = successes / 16;   aggregate = Σ successes / Σ frames over all videos.
Per-video JSON: `video_results`, `success_frame_count`, `frame_count`, as VBench writes them.

VBench's quirk, kept by default: its pinned transformers (4.33) expands the encoder states twice
in beam search, and Tag2Text's cross-attention keeps only the first rows, so the caption of frame
b is the caption of frame ⌊b/3⌋: frames 0–5 decide the score, weighted 3,3,3,3,3,1. Only those
six frames are run here (same captions, a third of the work). `--option
scene.frame_mapping=per_frame` captions each frame itself; such scores are recorded under
version "1+per_frame" and never mix with VBench's.

Backend: "vbench" only (`tag2text_swin_14m.pth`); no installable package ships Tag2Text weights.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from vbench_lite.dimension import (
    Dimension,
    FrameNeeds,
    Option,
    ScoringContext,
    VideoScore,
    one_of,
    pair_weighted_mean,
)
from vbench_lite.dimensions.backbones.scaled_frames import decode_scaled
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.dimensions.backbones.tag2text import (
    FRAME_MAPPINGS,
    IMAGE_SIZE,
    TAG2TEXT_SPEC,
    FrameMapping,
    caption_frames,
    load_tag2text,
    normalize_frames,
)
from vbench_lite.errors import InputError
from vbench_lite.video import Video, VideoMeta, middle_indices
from vbench_lite.weights import WeightSpec

FRAMES = 16  # VBench's scene reads 16 "middle" frames
AUX_KEY = "scene"
MAPPING_OPTION = "scene.frame_mapping"
SUCCESSES, FRAME_COUNT = "success_frame_count", "frame_count"  # VBench's per-video JSON keys
NO_EMBEDDED = "scene has no embedded backend: no installable package ships Tag2Text weights"


def scene_in_caption(scene: str, caption: str) -> bool:
    """VBench's rule: every space-separated word of the scene name occurs in the caption."""
    return all(word in caption for word in scene.split(" "))


def scene_name(aux: dict[str, Any]) -> str:
    """The scene name from the suite's auxiliary info, {"scene": {"scene": "alley"}}."""
    info = aux[AUX_KEY]
    return str(info.get("scene", "") if isinstance(info, dict) else info)


def scene_frames(video: Video) -> tuple[np.ndarray, bool]:
    """The 16 uint8 384×384 frames VBench's reader gives, and whether they had to be resized here.

    Files FFmpeg can read are decoded again with its scaler (the bytes decord gives); GIFs and
    frame folders have only RGB frames, resized with PIL's bilinear filter as VBench resizes GIFs.
    """
    indices = middle_indices(video.num_frames, FRAMES)
    if video.path.suffix.lower() != ".gif" and video.path.is_file():
        scaled = decode_scaled(video.path, indices, IMAGE_SIZE, IMAGE_SIZE)
        if scaled is not None and scaled.shape[0] == FRAMES:
            return scaled, False
    from PIL import Image

    resized = [np.asarray(Image.fromarray(f).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR))
               for f in video.frames[indices]]
    return np.stack(resized), video.path.suffix.lower() != ".gif"


class Scene(Dimension):
    name: ClassVar[str] = "scene"
    version: ClassVar[str] = "1"
    group: ClassVar = "semantic"
    frames: ClassVar[FrameNeeds] = FrameNeeds("all")  # 16 are re-read at 384 px from the file
    needs_aux: ClassVar[str | None] = AUX_KEY
    backends: ClassVar[tuple[str, ...]] = ("vbench",)
    options: ClassVar[tuple[Option, ...]] = (
        Option(MAPPING_OPTION, one_of(*FRAME_MAPPINGS), "vbench: VBench's caption-to-frame mapping; per_frame"),
    )
    description: ClassVar[str] = "Tag2Text captions of 16 frames that contain the scene name"

    def __init__(self, context: ScoringContext | None = None):
        super().__init__(context)
        self.frame_mapping = self.context.options.get(MAPPING_OPTION, "vbench")
        if self.frame_mapping == "per_frame":
            self.version = "1+per_frame"  # type: ignore[misc]  # scores that differ from VBench's

    def weights(self) -> list[WeightSpec]:
        return [TAG2TEXT_SPEC]

    def unavailable_reason(self) -> str | None:
        reason = super().unavailable_reason()
        return f"{reason}; {NO_EMBEDDED}" if reason else None

    def skip_reason(self, video: Video | VideoMeta) -> str | None:
        reason = super().skip_reason(video)
        if reason is None and not (isinstance(video.aux[AUX_KEY], dict | str) and scene_name(video.aux).strip()):
            return 'needs the scene name as aux {"scene": {"scene": "<name>"}} in the prompt suite'
        return reason

    def setup(self) -> None:
        if self.frame_mapping not in FRAME_MAPPINGS:
            raise InputError(f"--option {MAPPING_OPTION} takes {' or '.join(FRAME_MAPPINGS)}, "
                             f"not {self.frame_mapping!r}")
        self.backend = backend_for(self)  # "vbench": the only backend
        self._model, self.weights_path = load_tag2text(self.context)

    def _captions(self, frames: np.ndarray) -> list[str]:
        pixels = normalize_frames(torch.from_numpy(frames).to(self.context.device))
        mapping: FrameMapping = self.frame_mapping
        return caption_frames(self._model, pixels, mapping).captions

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        scores = []
        for video in videos:
            reason = self.skip_reason(video)
            if reason is not None:
                scores.append(VideoScore(value=None, skipped=reason))
                continue
            frames, resized = scene_frames(video)
            scene = scene_name(video.aux)
            successes = sum(scene_in_caption(scene, caption) for caption in self._captions(frames))
            extra: dict[str, Any] = {SUCCESSES: successes, FRAME_COUNT: FRAMES}
            if resized:  # not the frames VBench would read (no file FFmpeg can decode)
                extra["frame_source"] = "rgb_resized"
            scores.append(VideoScore(value=successes / FRAMES, extra=extra))
        return scores

    def aggregate(self, scores: list[VideoScore]) -> float:
        return pair_weighted_mean(scores, SUCCESSES, FRAME_COUNT)
