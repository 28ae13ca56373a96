"""Grid point tracking without weights: OpenCV pyramidal Lucas–Kanade, chained frame to frame.

camera_motion's embedded backend. The points are the ones CoTracker2 is asked to track (a size×size
grid laid on the 384×512 model input and scaled to the video's pixels by ((W−1)/511, (H−1)/383)), so
both backends feed the same rule the same points. Each point is followed from frame t to t+1 with
`cv2.calcOpticalFlowPyrLK` on grey frames at the video's own resolution.

Near the border Lucas–Kanade matches mirrored pixels (OpenCV extends images by reflection), and
VBench's grid starts 1/64 of the width from the border, where points also leave the frame as soon as
the camera zooms in. So a point whose 21×21 window is not wholly inside both frames, or that OpenCV
loses, moves instead with the camera: the similarity transform (rotation, uniform scale, shift)
fitted by RANSAC to the points tracked well in that frame pair. With fewer than 3 such points it
stays where it is. In effect the four edge midpoints that the rule reads follow the motion of the
frame's inner points, as a camera move moves them.
"""

from __future__ import annotations

import cv2
import numpy as np

from vbench_lite.dimensions.backbones.cotracker import grid_points

MODEL_RESOLUTION = (384, 512)  # CoTracker2's input, on which VBench's grid is laid out
WINDOW = (21, 21)  # OpenCV's default search window per pyramid level
PYRAMID_LEVELS = 3  # up to 2³ × the window: about 80 px of motion per frame
CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
BORDER = WINDOW[0] // 2  # a point this close to the border has part of its window outside the frame
MIN_FIT_POINTS = 3


def grid_in_video(grid_size: int, height: int, width: int) -> np.ndarray:
    """VBench's query grid in the video's pixels, float32 [grid², 2] (x, y)."""
    res_h, res_w = MODEL_RESOLUTION
    grid = grid_points(grid_size, res_h, res_w).numpy()
    return (grid * np.array([(width - 1) / (res_w - 1), (height - 1) / (res_h - 1)], dtype=np.float32)).astype(
        np.float32)


def inside(points: np.ndarray, height: int, width: int) -> np.ndarray:
    x, y = points[:, 0, 0], points[:, 0, 1]
    return (x >= BORDER) & (x <= width - 1 - BORDER) & (y >= BORDER) & (y <= height - 1 - BORDER)


def follow_camera(points: np.ndarray, moved: np.ndarray, good: np.ndarray) -> np.ndarray:
    """`moved` for the good points; the others moved by the similarity fitted to the good ones."""
    if good.all():
        return moved
    if good.sum() < MIN_FIT_POINTS:
        return np.where(good[:, None, None], moved, points)
    transform, _inliers = cv2.estimateAffinePartial2D(points[good], moved[good], method=cv2.RANSAC)
    if transform is None:
        return np.where(good[:, None, None], moved, points)
    carried = cv2.transform(points, transform)
    return np.where(good[:, None, None], moved, carried)


class LKGridTracker:
    """The grid followed through uint8 RGB frames [n, H, W, 3] fed chunk by chunk; only the previous
    grey frame is held. `finish` gives tracks [T, grid², 2] (x, y in the video's pixels)."""

    def __init__(self, grid_size: int, height: int, width: int):
        self.height, self.width = height, width
        self.points = grid_in_video(grid_size, height, width).reshape(-1, 1, 2)
        self.tracks: list[np.ndarray] = []
        self.previous: np.ndarray | None = None

    def feed(self, frames: np.ndarray) -> None:
        for frame in frames:
            current = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            if self.previous is not None:
                # OpenCV's stubs omit None for the output array nextPts, which the C++ API accepts.
                moved, status, _error = cv2.calcOpticalFlowPyrLK(  # type: ignore[call-overload]
                    self.previous, current, self.points, None, winSize=WINDOW, maxLevel=PYRAMID_LEVELS,
                    criteria=CRITERIA)
                good = ((status[:, 0] == 1) & inside(self.points, self.height, self.width)
                        & inside(moved, self.height, self.width))
                self.points = follow_camera(self.points, moved, good).astype(np.float32)
            self.tracks.append(self.points[:, 0].copy())
            self.previous = current

    def finish(self) -> np.ndarray:
        return np.stack(self.tracks) if self.tracks else np.empty((0, len(self.points), 2), np.float32)


def track_grid_lk(frames: np.ndarray, grid_size: int) -> np.ndarray:
    """Tracks [T, grid², 2] (x, y in the video's pixels) of the grid through uint8 RGB frames [T, H, W, 3]."""
    tracker = LKGridTracker(grid_size, frames.shape[1], frames.shape[2])
    tracker.feed(frames)
    return tracker.finish()
