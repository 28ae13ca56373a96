"""What an object detector hands the object dimensions, whichever model produced it.

object_class, multiple_objects, spatial_relationship and color read only this: per frame, boxes
(xyxy in the frame's pixels, in the detector's order, best first), their scores, one object name
per box (GRiT's ObjectDet text, e.g. "person", "dining table") and, for color, one free-text
caption per box (GRiT's DenseCap text, e.g. "a red car parked on the street"). Any backend that
fills these fields in the same way (for instance a COCO detector whose class names are the object
names) can serve the four dimensions through `Detector`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class FrameDetections:
    boxes: np.ndarray  # float [n, 4] xyxy, frame pixels
    scores: np.ndarray  # float [n]
    names: tuple[str, ...]  # object name per box
    captions: tuple[str, ...] = field(default=())  # free-text description per box (color only)

    def __len__(self) -> int:
        return len(self.names)

    def int_boxes(self) -> list[list[int]]:
        """Boxes as VBench hands them to its rules: `[int(x0), int(y0), int(x1), int(y1)]`."""
        return [[int(v) for v in box] for box in np.asarray(self.boxes, dtype=np.float64)]


class Detector(Protocol):
    """Detections for each of `frames` (float32 [H, W, 3] RGB, 0–255, at the size to run on)."""

    def detect(self, frames: list[np.ndarray], captions: bool = False) -> list[FrameDetections]: ...


def empty_detections() -> FrameDetections:
    return FrameDetections(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), ())
