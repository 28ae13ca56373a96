"""Dynamic degree (Quality, weight 0.5): is the video moving at all? (a boolean; docs/dimensions.md)

Frames: every `interval`-th decoded frame, interval = max(1, round(fps / 8)) (≈8 fps); M = their
count. For each consecutive kept pair, the optical flow on the frames replicate-padded (centred) to
a multiple of 8; the pair score is the mean of the largest int(0.05·H_pad·W_pad) flow magnitudes
√(u²+v²) over the padded frame. With τ = 6·min(H, W)/256 (unpadded) and c = round(4·M/16) (Python
round, ties to even), the video is dynamic iff it has at least one pair and at least c pair scores
are strictly above τ. Aggregate: the fraction of dynamic videos.

Backends: "vbench" = RAFT (torchvision raft_large with VBench's raft-things weights, 20 iterations);
"embedded" = OpenCV DIS flow (no weights), same padding, thresholds and counting. The kept frames
are chosen here rather than by the runner so that their indices in the decoded video are known:
RAFT flows are cached by (video, i, j) and reused by motion_smoothness's RAFT backend.

The verdict is known before every pair is scored: once c pairs are above τ, or once too few pairs
are left to reach c. Pairs are scored in order, in chunks no longer than what could still decide,
and scoring stops there; the boolean is VBench's, only `extra["pair_scores"]` is shorter. Option
`dynamic_degree.all_pairs` scores every pair (for inspecting the flow magnitudes).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from vbench_lite.dimension import (
    Dimension,
    FrameConsumer,
    FrameNeeds,
    Option,
    VideoScore,
    boolean,
    positive_number,
    score_whole,
)
from vbench_lite.dimensions.backbones.flow_pairs import (
    RaftFlows,
    flow_memory_budget,
    flow_pairs_per_batch,
    frame_pair_flows,
    load_raft_flows,
)
from vbench_lite.dimensions.backbones.raft import RAFT_THINGS_SPEC, raft_size_problem
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.errors import InputError
from vbench_lite.video import Video, VideoMeta, fps_interval
from vbench_lite.weights import WeightSpec

TARGET_FPS = 8.0
TOP_FRACTION = 0.05
THRESHOLD_PER_256_PX = 6.0  # τ = 6 · min(H, W) / 256
MOVING_PAIRS_PER_16_FRAMES = 4  # c = round(4 · M / 16)


def top_magnitude_mean(flow: torch.Tensor) -> float:
    """Mean of the largest 5 % flow magnitudes of a [2, H, W] flow (VBench's `get_score`)."""
    magnitude = torch.sqrt(flow[0].square() + flow[1].square()).flatten()
    keep = int(magnitude.numel() * TOP_FRACTION)
    return float(torch.topk(magnitude, keep, sorted=False).values.mean()) if keep else float("nan")


def thresholds(height: int, width: int, kept_frames: int) -> tuple[float, int]:
    """(τ, c) per VBench's `set_params`."""
    return THRESHOLD_PER_256_PX * min(height, width) / 256.0, round(MOVING_PAIRS_PER_16_FRAMES * kept_frames / 16.0)


def pairs_until_decided(above: int, scored: int, total: int, required: int) -> int:
    """How many more pairs to score before the verdict can be known (0: it is known now).

    Moving needs `required − above` more pairs above τ; not moving is certain once more than
    `left − (required − above)` of the remaining pairs fall at or below it. The smaller of the
    two counts is the most that can be scored without possibly scoring a pair too many.
    """
    missing, left = required - above, total - scored
    if missing <= 0 or missing > left:
        return 0
    return min(missing, left - missing + 1)


def kept_frame_pairs(num_frames: int, fps: float) -> tuple[list[int], list[tuple[int, int]]]:
    indices = list(range(0, num_frames, fps_interval(fps, TARGET_FPS)))
    return indices, list(zip(indices[:-1], indices[1:], strict=True))


class DynamicDegree(Dimension):
    name: ClassVar[str] = "dynamic_degree"
    version: ClassVar[str] = "1"
    group: ClassVar = "quality"
    frames: ClassVar[FrameNeeds] = FrameNeeds("all")  # the ≈8 fps subsampling is done as frames stream by
    backends: ClassVar[tuple[str, ...]] = ("vbench", "embedded")
    options: ClassVar[tuple[Option, ...]] = (
        Option("dynamic_degree.all_pairs", boolean, "score every frame pair, not only until the verdict is known"),
        Option("flow_memory_bytes", positive_number, "memory budget that sizes the frame-pair batches"),
    )
    value_kind: ClassVar = "bool"
    description: ClassVar[str] = "whether the video moves: top-5% optical-flow magnitudes vs a threshold"

    def weights(self) -> list[WeightSpec]:
        return [RAFT_THINGS_SPEC]

    def setup(self) -> None:
        ctx = self.context
        self.backend = backend_for(self)
        self.weights_path = None
        self._all_pairs = ctx.options.get("dynamic_degree.all_pairs", False)
        if not isinstance(self._all_pairs, bool):
            raise InputError(f"--option dynamic_degree.all_pairs takes true or false, not {self._all_pairs!r}")
        self._budget = flow_memory_budget(ctx)
        self._raft: RaftFlows | None = None  # None: the embedded DIS flow
        if self.backend == "vbench":
            self._raft = load_raft_flows(ctx)
            self.weights_path = self._raft.weights_path

    def consumer(self, video: VideoMeta) -> FrameConsumer:
        return MotionVerdict(self, video)

    def flows(self, path: Path, frames: dict[int, np.ndarray], pairs: list[tuple[int, int]]) -> list[torch.Tensor]:
        """Flows of these (decoded-frame index) pairs, on the frames padded to a multiple of 8."""
        return frame_pair_flows(path, frames, pairs, self.context.device, self._raft, self._budget)

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        return [score_whole(self.consumer(video.meta), video.frames) for video in videos]


class MotionVerdict(FrameConsumer):
    """One video's verdict as it streams by: the kept (≈8 fps) frames are held only until the
    pairs they close are scored, a batch of pairs at a time, and scoring stops once the verdict is
    known (or goes on over every pair with `dynamic_degree.all_pairs`)."""

    def __init__(self, dimension: DynamicDegree, video: VideoMeta):
        self.dimension = dimension
        self.path = video.path
        info = video.info
        indices, self.pairs = kept_frame_pairs(info.num_frames, info.fps)
        self.kept = set(indices)
        self.threshold, self.required = thresholds(info.height, info.width, len(indices))
        self.problem = dimension.backend == "vbench" and raft_size_problem(info.height, info.width)
        raft, budget = dimension._raft, dimension._budget
        self.per_batch = flow_pairs_per_batch(info.height, info.width, raft, budget)
        self.frames: dict[int, np.ndarray] = {}
        self.scores: list[float] = []
        self.above = 0
        self.decided = False

    def feed(self, frames: np.ndarray, start: int) -> None:
        if self.problem or self.decided:
            return
        for offset, frame in enumerate(frames):
            if start + offset in self.kept:
                self.frames[start + offset] = frame.copy()
        self._score()

    def _score(self) -> None:
        while not self.decided and len(self.scores) < len(self.pairs):
            scored = len(self.scores)
            count = len(self.pairs) - scored
            if not self.dimension._all_pairs:
                count = pairs_until_decided(self.above, scored, len(self.pairs), self.required)
            if count == 0:
                self.decided = True
                self.frames.clear()
                return
            batch = self.pairs[scored : scored + min(count, self.per_batch)]
            if batch[-1][1] not in self.frames:
                return  # the batch's last frame is still to come
            new_scores = [top_magnitude_mean(flow) for flow in self.dimension.flows(self.path, self.frames, batch)]
            self.above += sum(score > self.threshold for score in new_scores)
            self.scores += new_scores
            for index in [i for i in self.frames if i < batch[-1][1]]:
                del self.frames[index]

    def finish(self) -> VideoScore:
        if self.problem:
            return VideoScore(value=None, skipped=self.problem)
        self._score()
        return VideoScore(
            value=bool(self.pairs) and self.above >= self.required,
            extra={"pair_scores": self.scores, "pairs": len(self.pairs), "threshold": self.threshold,
                   "required_pairs": self.required},
        )
