"""Temporal flickering (Quality): are consecutive frames of a static video the same? (docs/dimensions.md)

Per video: (255 − mean_i MAE_i) / 255, where MAE_i is the mean absolute difference over H×W×3
between decoded frames i and i+1. Aggregate: mean over videos. No model, no weights.

VBench computes each MAE in float32 (`np.mean(cv2.absdiff(float32, float32))`); here the sum of
|a − b| is exact, which equals VBench's value to float32 rounding (≤ 1e-6, see
tests/test_temporal_flickering.py). VBench's RAFT static-filter pre-step (keep only videos judged
static) is the caller's choice; vbl does not run it.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from vbench_lite.dimension import Dimension, FrameConsumer, VideoScore, score_whole
from vbench_lite.video import Video, VideoMeta

MAX_PIXEL = 255.0


def mean_abs_frame_differences(frames: np.ndarray) -> np.ndarray:
    """MAE between each pair of consecutive uint8 frames, as float64 [T-1].

    |a − b| of uint8 frames fits uint8, so OpenCV's saturating absdiff is exact, and its per-channel
    sums are exact in float64 (< 2^53): the result is exact, ~35× faster than a numpy int16 pass.
    """
    import cv2

    pixels_per_frame = float(np.prod(frames.shape[1:]))
    sums = [sum(cv2.sumElems(cv2.absdiff(a, b))) for a, b in zip(frames[:-1], frames[1:], strict=True)]
    return np.asarray(sums, dtype=np.float64) / pixels_per_frame


class TemporalFlickering(Dimension):
    name: ClassVar[str] = "temporal_flickering"
    version: ClassVar[str] = "1"
    group: ClassVar = "quality"
    backends: ClassVar[tuple[str, ...]] = ("vbench",)
    description: ClassVar[str] = "frame-to-frame stability of (static) videos; no weights"

    def consumer(self, video: VideoMeta) -> FrameConsumer:
        return FlickerStream()

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        return [score_whole(self.consumer(video.meta), video.frames) for video in videos]


class FlickerStream(FrameConsumer):
    """The frame-pair MAEs of one video as it streams by: only the previous frame is kept."""

    def __init__(self) -> None:
        self.previous: np.ndarray | None = None
        self.maes: list[float] = []

    def feed(self, frames: np.ndarray, start: int) -> None:
        joined = frames if self.previous is None else np.concatenate([self.previous[None], frames])
        self.maes.extend(mean_abs_frame_differences(joined).tolist())
        self.previous = frames[-1].copy()

    def finish(self) -> VideoScore:
        return VideoScore(value=float((MAX_PIXEL - np.mean(self.maes)) / MAX_PIXEL))
