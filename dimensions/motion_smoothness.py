"""Motion smoothness (Quality): is the motion as smooth as a frame interpolator expects?

Keep the even decoded frames 0, 2, 4, …; interpolate the midpoint (t = ½) of each consecutive
even pair (2k, 2k+2); convert the prediction to uint8 as VBench does (×255, clip, truncate) and
compare it with the real odd frame 2k+1: d_k = mean over H×W×3 of |pred_k − real_{2k+1}|. With an
even frame count the last odd frame has no prediction. value = (255 − mean_k d_k) / 255;
aggregate: mean over videos.

Backends:
- "vbench": AMT-S (`amt-s.pth`, our implementation of the network), inputs in [0, 1]
  replicate-padded (centred) to a multiple of 16, one pass. Deviation: VBench shrinks frames that
  its GPU-memory heuristic finds too large (a GPU-dependent result); we always interpolate at full
  resolution — VBench's own result on CPU, and on GPU wherever its heuristic keeps full size (up to
  about 2.3 megapixels on a 24 GB card, any size vbl accepts on 80 GB; docs/dimensions.md).
- "raft": RAFT flows 2k→2k+2 and 2k+2→2k (shared with dynamic_degree where it used those pairs),
  midpoint by bidirectional backward warping with the linear-motion flows at t = ½.
- "embedded": the same flow interpolation with OpenCV DIS flow (no weights).
"""

from __future__ import annotations

from dataclasses import replace
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
    positive_number,
    score_whole,
)
from vbench_lite.dimensions.backbones.amt import AMT_DIVISOR, AMT_S_SPEC, load_amt, warp
from vbench_lite.dimensions.backbones.flow_pairs import (
    RaftFlows,
    flow_memory_budget,
    flow_pairs_per_batch,
    frame_pair_flows,
    load_raft_flows,
)
from vbench_lite.dimensions.backbones.preprocess import frames_to_tensor
from vbench_lite.dimensions.backbones.raft import (
    RAFT_DIVISOR,
    RAFT_THINGS_SPEC,
    centred_pad,
    pairs_per_batch,
    raft_size_problem,
)
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.video import Video, VideoMeta
from vbench_lite.weights import WeightSpec

MAX_PIXEL = 255.0
RAFT_FOR_MOTION_SPEC = replace(RAFT_THINGS_SPEC, backend="raft", what="RAFT (things), motion_smoothness --backend raft")
MIDPOINT = 0.5
# On CPU, AMT's correlation volumes fall out of cache in batches: 8 pairs at 384×224 took 1.8× the
# time of 8 single pairs (measured, 1 thread). Batches pay on GPU only.
CPU_AMT_PAIRS_PER_BATCH = 1


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[B, 3, H, W] in [0, 1] → uint8 [B, H, W, 3] as VBench's `tensor2img` (truncating cast)."""
    return (images * 255.0).permute(0, 2, 3, 1).cpu().numpy().clip(0, 255).astype(np.uint8)


def smoothness(predicted: np.ndarray, real: np.ndarray) -> tuple[float, list[float]]:
    """(value, d_k) for uint8 predictions and the real odd frames [K, H, W, 3]."""
    diff = np.abs(predicted.astype(np.int16) - real.astype(np.int16))
    per_pair = diff.reshape(len(diff), -1).mean(axis=1)
    return float((MAX_PIXEL - per_pair.mean()) / MAX_PIXEL), per_pair.tolist()


def flow_midpoint(img0: torch.Tensor, img1: torch.Tensor, flow01: torch.Tensor, flow10: torch.Tensor) -> torch.Tensor:
    """Frame at t = ½ from both neighbours: flows t→0 = ¼(F10 − F01), t→1 = ¼(F01 − F10)
    (linear motion, quadratic flow approximation at t = ½), backward warps averaged."""
    to_first = 0.25 * (flow10 - flow01)
    to_second = 0.25 * (flow01 - flow10)
    return 0.5 * (warp(img0, to_first) + warp(img1, to_second))


def interpolation_pairs(num_frames: int) -> list[tuple[int, int]]:
    """Consecutive even-frame pairs (2k, 2k+2) whose midpoint 2k+1 is compared."""
    return [(i, i + 2) for i in range(0, num_frames - 2, 2)]


class MotionSmoothness(Dimension):
    name: ClassVar[str] = "motion_smoothness"
    version: ClassVar[str] = "1"
    group: ClassVar = "quality"
    frames: ClassVar[FrameNeeds] = FrameNeeds("all")
    backends: ClassVar[tuple[str, ...]] = ("vbench", "raft", "embedded")
    options: ClassVar[tuple[Option, ...]] = (
        Option("flow_memory_bytes", positive_number, "memory budget that sizes the frame-pair batches"),
    )
    description: ClassVar[str] = "how well a frame interpolator predicts the odd frames from the even ones"

    def weights(self) -> list[WeightSpec]:
        return [AMT_S_SPEC, RAFT_FOR_MOTION_SPEC]

    def setup(self) -> None:
        ctx = self.context
        self.backend = backend_for(self)
        self.weights_path = None
        self._raft: RaftFlows | None = None  # None for the AMT and DIS backends
        if self.backend == "vbench":
            self._amt, self.weights_path = load_amt(ctx)
        elif self.backend == "raft":
            self._raft = load_raft_flows(ctx)
            self.weights_path = self._raft.weights_path
        self._budget = flow_memory_budget(ctx)  # pairs per interpolator batch are sized to it

    def consumer(self, video: VideoMeta) -> FrameConsumer:
        return SmoothnessStream(self, video)

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        return [score_whole(self.consumer(video.meta), video.frames) for video in videos]

    def pairs_per_batch(self, height: int, width: int) -> int:
        """Interpolated pairs per network call, hence the frames a stream holds at most."""
        if self.backend != "vbench":
            return flow_pairs_per_batch(height, width, self._raft, self._budget)
        if torch.device(self.context.device).type == "cpu":
            return CPU_AMT_PAIRS_PER_BATCH
        left, right, top, bottom = centred_pad(height, width, AMT_DIVISOR)
        # AMT's correlation volume is twice RAFT's (both directions), at 1/8 resolution.
        return max(1, pairs_per_batch(height + top + bottom, width + left + right, self._budget) // 2)

    @torch.no_grad()
    def interpolate(self, path: Path, frames: dict[int, np.ndarray], pairs: list[tuple[int, int]]) -> np.ndarray:
        """uint8 midpoints [K, H, W, 3] of the even-frame pairs, as VBench converts them."""
        if self.backend == "vbench":
            return self._interpolate_amt(frames, pairs)
        return self._interpolate_flow(path, frames, pairs)

    def _interpolate_amt(self, frames: dict[int, np.ndarray], pairs: list[tuple[int, int]]) -> np.ndarray:
        device = self.context.device
        first = frames_to_tensor(np.stack([frames[i] for i, _ in pairs]), device) / 255.0
        second = frames_to_tensor(np.stack([frames[j] for _, j in pairs]), device) / 255.0
        height, width = first.shape[-2:]
        pad = centred_pad(height, width, AMT_DIVISOR)
        first = torch.nn.functional.pad(first, pad, mode="replicate")
        second = torch.nn.functional.pad(second, pad, mode="replicate")
        embt = torch.full((len(pairs), 1, 1, 1), MIDPOINT, device=device)
        predicted = self._amt(first, second, embt)
        return to_uint8(predicted[..., pad[2] : pad[2] + height, pad[0] : pad[0] + width])

    def _interpolate_flow(self, path: Path, frames: dict[int, np.ndarray], pairs: list[tuple[int, int]]) -> np.ndarray:
        both_ways = pairs + [(j, i) for i, j in pairs]
        flows = frame_pair_flows(path, frames, both_ways, self.context.device, self._raft, self._budget)
        first = frames[pairs[0][0]]
        left, right, top, bottom = centred_pad(first.shape[0], first.shape[1], RAFT_DIVISOR)
        count = len(pairs)
        forward = torch.stack(flows[:count]).to(self.context.device)
        backward = torch.stack(flows[count:]).to(self.context.device)
        height, width = forward.shape[-2:]
        ends = np.stack([frames[i] for i, _ in pairs] + [frames[j] for _, j in pairs])
        images = frames_to_tensor(ends, self.context.device) / 255.0
        images = torch.nn.functional.pad(images, [left, right, top, bottom], mode="replicate")
        predicted = flow_midpoint(images[:count], images[count:], forward, backward)
        return to_uint8(predicted[..., top : height - bottom, left : width - right])


class SmoothnessStream(FrameConsumer):
    """One video's smoothness as it streams by: frames are held only until the batch of
    even-frame pairs they belong to is interpolated and compared with its odd frames."""

    def __init__(self, dimension: MotionSmoothness, video: VideoMeta):
        self.dimension = dimension
        self.path = video.path
        info = video.info
        self.pairs = interpolation_pairs(info.num_frames)
        self.problem = "needs at least 3 frames" if not self.pairs else None
        if dimension.backend == "raft":
            self.problem = self.problem or raft_size_problem(info.height, info.width)
        self.per_batch = dimension.pairs_per_batch(info.height, info.width)
        self.frames: dict[int, np.ndarray] = {}
        self.maes: list[float] = []

    def feed(self, frames: np.ndarray, start: int) -> None:
        if self.problem:
            return
        for offset, frame in enumerate(frames):
            self.frames[start + offset] = frame.copy()
        self._compare(at_end=False)

    def _compare(self, at_end: bool) -> None:
        while len(self.maes) < len(self.pairs):
            batch = self.pairs[len(self.maes) : len(self.maes) + self.per_batch]
            if batch[-1][1] not in self.frames:
                if not at_end:
                    return
                batch = [pair for pair in batch if pair[1] in self.frames]  # the header over-counted
                if not batch:
                    return
            predicted = self.dimension.interpolate(self.path, self.frames, batch)
            real = np.stack([self.frames[i + 1] for i, _ in batch])
            self.maes += smoothness(predicted, real)[1]
            for index in [i for i in self.frames if i < batch[-1][1]]:
                del self.frames[index]

    def finish(self) -> VideoScore:
        if self.problem:
            return VideoScore(value=None, skipped=self.problem)
        self._compare(at_end=True)
        value = float((MAX_PIXEL - np.mean(self.maes)) / MAX_PIXEL)
        return VideoScore(value=value, extra={"frame_mae": self.maes})
