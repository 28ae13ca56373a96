"""Multiple objects (Semantic): does each frame show both objects the prompt names?

Frames and detector as object_class (16 "middle" frames, GRiT-B ObjectDet, boxes with score > 0.5).
aux["object"] is "A and B"; A and B are the two sides of " and ", stripped. Per frame f:
success(f) = [A ∈ names(f) and B ∈ names(f)] (exact strings). Per video: Σ_f success(f) / 16.
Aggregate: Σ successes / Σ frames over all videos. Per-video keys: `success_frame_count`,
`frame_count`. An aux that does not split into exactly two names (where VBench raises) skips the
video with that reason.
"""

from __future__ import annotations

from typing import ClassVar

from vbench_lite.dimension import VideoScore, pair_weighted_mean
from vbench_lite.dimensions.backbones.detections import FrameDetections
from vbench_lite.dimensions.backbones.object_detection import ObjectDetectionDimension
from vbench_lite.video import Video, VideoMeta

AUX_KEY = "object"
SEPARATOR = " and "
SUCCESSES, FRAMES = "success_frame_count", "frame_count"


def frames_showing_both(first: str, second: str, frames: list[FrameDetections]) -> int:
    return sum(first in set(frame.names) and second in set(frame.names) for frame in frames)


class MultipleObjects(ObjectDetectionDimension):
    name: ClassVar[str] = "multiple_objects"
    version: ClassVar[str] = "1"
    needs_aux: ClassVar[str | None] = AUX_KEY
    description: ClassVar[str] = "fraction of frames in which GRiT detects both of the prompt's objects"

    def skip_reason(self, video: Video | VideoMeta) -> str | None:
        reason = super().skip_reason(video)
        if reason is None and len(str(video.aux[AUX_KEY]).split(SEPARATOR)) != 2:
            return f"aux object must name two objects as 'A and B', not {video.aux[AUX_KEY]!r}"
        return reason

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        kept = [v for v in videos if self.skip_reason(v) is None]
        found = iter(self.detections(kept))
        scores = []
        for video in videos:
            reason = self.skip_reason(video)
            if reason is not None:
                scores.append(VideoScore(None, skipped=reason))
                continue
            first, second = (part.strip() for part in str(video.aux[AUX_KEY]).split(SEPARATOR))
            frames = next(found)
            hits = frames_showing_both(first, second, frames)
            scores.append(VideoScore(hits / len(frames), {SUCCESSES: hits, FRAMES: len(frames)}))
        return scores

    def aggregate(self, scores: list[VideoScore]) -> float:
        return pair_weighted_mean(scores, SUCCESSES, FRAMES)
