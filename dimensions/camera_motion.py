"""Camera motion (VBench++ image-to-video): does the camera move the way the prompt says?

The prompt names the motion: the first of "camera pans left", "camera pans right", "camera tilts up",
"camera tilts down", "camera zooms in", "camera zooms out", "camera static" found in it (case-sensitive,
in that order) is the target (pan_left, pan_right, tilt_up, tilt_down, zoom_in, zoom_out, static).
VBench reads it from the video's file name, `{prompt}-{i}.mp4`; we read the prompt (the file name
when there is no prompt). A video whose prompt has no camera phrase is skipped with that reason
(VBench stops the whole run with a ValueError).

Per video, on every decoded frame (streamed: the trackers hold a window of frames, not the video):
1. track a 10×10 grid of points from the first frame to the last; truncate the tracks to integers
   toward zero (VBench's `.long()`);
2. take the middle point of each edge of the grid, row/column 5: top = (0, 5), down = (9, 5),
   left = (5, 0), right = (5, 9); displacement v = last − first;
3. with s = 0.005 · min(H, W): an edge moves "right" if v_x > s, "left" if v_x < −s, "down" if
   v_y > s, "up" if v_y < −s (one horizontal and one vertical word at most), else it is "static";
4. pair top with down and left with right, word by word (every combination):
   both left → pan_right, both right → pan_left, both down → tilt_up, both up → tilt_down,
   both static → static; top up + down down → zoom_in, top down + down up → zoom_out;
   left left + right right → zoom_in, left right + right left → zoom_out; a pair with no rule
   gives "None";
5. the predicted set is the union of both pairs' results, less "static" and then less "None" when
   anything else is in it.
value = 1.0 if the target is in the predicted set, else 0.0 (VBench's `video_results`). Stored per
video, as VBench does: `prompt_type` (the target) and `predict_type` (the set, sorted here; VBench's
order is a Python set's), plus `tracker` and the four edge displacements. Aggregate: the mean over
videos (VBench also reports the mean per target type: `per_type_means`).

Backends: "vbench" = CoTracker2 (`cotracker2.pth`, window 8, offline: the whole video) exactly as
VBench's `torch.hub.load("facebookresearch/co-tracker", "cotracker2")` runs it; `tracker` =
"cotracker2". "embedded" = OpenCV pyramidal Lucas–Kanade tracking of the same grid, chained frame to
frame, under the same rules; `tracker` = "opencv-pyrlk". VBench's hub entry built CoTracker3 instead
on 2024-10-16…18; scores from that tracker are not what either backend computes.
"""

from __future__ import annotations

from math import ceil
from typing import ClassVar, Protocol

import numpy as np

from vbench_lite.dimension import Dimension, FrameConsumer, FrameNeeds, VideoScore, score_whole
from vbench_lite.dimensions.backbones.cotracker import COTRACKER2_SPEC, GridTracker, load_cotracker2
from vbench_lite.dimensions.backbones.lk_tracker import LKGridTracker
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.video import Video, VideoMeta
from vbench_lite.weights import WeightSpec

# Checked in this order; the first phrase contained in the prompt wins.
CAMERA_PHRASES = {
    "camera pans left": "pan_left",
    "camera pans right": "pan_right",
    "camera tilts up": "tilt_up",
    "camera tilts down": "tilt_down",
    "camera zooms in": "zoom_in",
    "camera zooms out": "zoom_out",
    "camera static": "static",
}
GRID_SIZE = 10
EDGE_POINTS = 1  # points per edge, centred (VBench's number_points)
THRESHOLD_FACTOR = 0.005  # an edge moves if its displacement exceeds 0.005 · min(H, W) pixels
TOP_DOWN_RULES = {
    "left_left": "pan_right", "right_right": "pan_left", "down_down": "tilt_up", "up_up": "tilt_down",
    "up_down": "zoom_in", "down_up": "zoom_out", "static_static": "static",
}
LEFT_RIGHT_RULES = {
    "left_left": "pan_right", "right_right": "pan_left", "down_down": "tilt_up", "up_up": "tilt_down",
    "left_right": "zoom_in", "right_left": "zoom_out", "static_static": "static",
}
TRACKERS = {"vbench": "cotracker2", "embedded": "opencv-pyrlk"}
EDGES = ("top", "down", "left", "right")


def camera_type(text: str) -> str | None:
    """The camera motion a prompt (or file name) asks for, or None."""
    return next((motion for phrase, motion in CAMERA_PHRASES.items() if phrase in text), None)


def edge_points(grid: np.ndarray) -> list[np.ndarray]:
    """The centre points of the grid's top, down, left and right edges: [EDGE_POINTS, 2] each."""
    centre = range(ceil(GRID_SIZE // 2 - EDGE_POINTS / 2), ceil(GRID_SIZE // 2 + EDGE_POINTS / 2))
    last = GRID_SIZE - 1
    return [grid[0, centre], grid[last, centre], grid[centre, 0], grid[centre, last]]


def directions(displacement: np.ndarray, threshold: float) -> list[str]:
    """Words for one edge's mean displacement (x, y): right/left, then down/up; else static."""
    x, y = displacement
    words = ["right"] if x > threshold else ["left"] if x < -threshold else []
    words += ["down"] if y > threshold else ["up"] if y < -threshold else []
    return words or ["static"]


def pair_motions(first: list[str], second: list[str], rules: dict[str, str]) -> list[str]:
    found = [rules[f"{a}_{b}"] for a in first for b in second if f"{a}_{b}" in rules]
    return found or ["None"]


def classify(first: np.ndarray, last: np.ndarray, height: int, width: int) -> tuple[list[str], dict]:
    """The predicted motions from integer grid positions [GRID, GRID, 2] on the first and last frame,
    and each edge's mean displacement."""
    threshold = min(height, width) * THRESHOLD_FACTOR
    moves = {edge: (end - start).mean(axis=0)
             for edge, start, end in zip(EDGES, edge_points(first), edge_points(last), strict=True)}
    top, down, left, right = (directions(moves[edge], threshold) for edge in EDGES)
    found = set(pair_motions(top, down, TOP_DOWN_RULES) + pair_motions(left, right, LEFT_RIGHT_RULES))
    for placeholder in ("static", "None"):  # this order: {static, None} → {None}
        if placeholder in found and len(found) > 1:
            found.remove(placeholder)
    return sorted(found), {edge: [float(v) for v in move] for edge, move in moves.items()}


def per_type_means(scores: list[VideoScore]) -> dict[str, float]:
    """VBench's second result: the mean value per target type (NaN for a type with no video)."""
    means = {}
    for motion in CAMERA_PHRASES.values():
        values = [float(s.value) for s in scores if s.value is not None and s.extra.get("prompt_type") == motion]
        means[motion] = float(np.mean(values)) if values else float("nan")
    return means


class PointTracker(Protocol):
    def feed(self, frames: np.ndarray) -> None: ...
    def finish(self) -> np.ndarray: ...


class CameraMotion(Dimension):
    name: ClassVar[str] = "camera_motion"
    version: ClassVar[str] = "1"
    group: ClassVar = "i2v"  # VBench++ image-to-video group; its scheme weighs camera motion 0.1
    frames: ClassVar[FrameNeeds] = FrameNeeds("all")
    backends: ClassVar[tuple[str, ...]] = ("vbench", "embedded")
    description: ClassVar[str] = "whether tracked edge points move as the prompt's camera phrase says"

    def weights(self) -> list[WeightSpec]:
        return [COTRACKER2_SPEC]

    def setup(self) -> None:
        self.backend = backend_for(self)
        self.weights_path = None
        if self.backend == "vbench":
            self._model, self.weights_path = load_cotracker2(self.context)

    def skip_reason(self, video: Video | VideoMeta) -> str | None:
        if camera_type(video.prompt or video.path.name) is None:
            return "the prompt names no camera motion (e.g. 'camera pans left')"
        return None

    def tracker(self, video: VideoMeta) -> PointTracker:
        """This backend's tracker of the grid, in the video's pixels."""
        height, width = video.info.height, video.info.width
        if self.backend == "vbench":
            return GridTracker(self._model, GRID_SIZE, height, width, self.context.device)
        return LKGridTracker(GRID_SIZE, height, width)

    def tracks(self, video: Video) -> np.ndarray:
        """Grid tracks [T, GRID², 2] of a whole decoded video."""
        tracker = self.tracker(video.meta)
        tracker.feed(video.frames)
        return tracker.finish()

    def consumer(self, video: VideoMeta) -> FrameConsumer:
        return CameraStream(self.tracker(video), camera_type(video.prompt or video.path.name), video.info.height,
                            video.info.width, TRACKERS[self.backend])

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        return [VideoScore(value=None, skipped=reason) if (reason := self.skip_reason(video))
                else score_whole(self.consumer(video.meta), video.frames) for video in videos]


class CameraStream(FrameConsumer):
    """Tracks the grid as the frames stream by; the rule reads its first and last positions."""

    def __init__(self, tracker: PointTracker, target: str | None, height: int, width: int, tracker_name: str):
        self.tracker, self.target, self.size, self.tracker_name = tracker, target, (height, width), tracker_name

    def feed(self, frames: np.ndarray, start: int) -> None:
        self.tracker.feed(frames)

    def finish(self) -> VideoScore:
        grid = np.trunc(self.tracker.finish()).astype(np.int64).reshape(-1, GRID_SIZE, GRID_SIZE, 2)
        predicted, moves = classify(grid[0], grid[-1], *self.size)
        return VideoScore(value=1.0 if self.target in predicted else 0.0, extra={
            "prompt_type": self.target, "predict_type": predicted, "tracker": self.tracker_name,
            "edge_displacements": moves,
        })
