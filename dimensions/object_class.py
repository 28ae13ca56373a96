"""Object class (Semantic): does each frame show the object the prompt names?

Frames: VBench's 16 "middle" frames, each at its own size (shrunk to a 720 short side only when
the short side is over 768). GRiT-B in ObjectDet mode names every box it keeps (score > 0.5).
Per frame f: success(f) = [aux["object"] ∈ {names of f's boxes}] (exact string equality, e.g.
"dining table"); a frame without boxes fails. Per video: value = Σ_f success(f) / 16.
Aggregate: Σ successes / Σ frames over all videos (VBench's single- and multi-process result).
Per-video keys as VBench stores them: `success_frame_count`, `frame_count`.

Backend "vbench" = GRiT-B (`grit_b_densecap_objectdet.pth`), no deviation in the rule; frames of a
batch go through the detector together, and boxes are captioned with cached memory states.
"""

from __future__ import annotations

from typing import ClassVar

from vbench_lite.dimension import VideoScore, pair_weighted_mean
from vbench_lite.dimensions.backbones.detections import FrameDetections
from vbench_lite.dimensions.backbones.object_detection import ObjectDetectionDimension
from vbench_lite.video import Video

AUX_KEY = "object"
SUCCESSES, FRAMES = "success_frame_count", "frame_count"  # VBench's per-video JSON keys


def frames_showing(target: str, frames: list[FrameDetections]) -> int:
    """How many frames have a box named exactly `target`."""
    return sum(target in set(frame.names) for frame in frames)


class ObjectClass(ObjectDetectionDimension):
    name: ClassVar[str] = "object_class"
    version: ClassVar[str] = "1"
    needs_aux: ClassVar[str | None] = AUX_KEY
    description: ClassVar[str] = "fraction of frames in which GRiT detects the prompt's object"

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        scores = []
        for video, frames in zip(videos, self.detections(videos), strict=True):
            hits = frames_showing(str(video.aux[AUX_KEY]), frames)
            scores.append(VideoScore(hits / len(frames), {SUCCESSES: hits, FRAMES: len(frames)}))
        return scores

    def aggregate(self, scores: list[VideoScore]) -> float:
        return pair_weighted_mean(scores, SUCCESSES, FRAMES)
