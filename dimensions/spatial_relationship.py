"""Spatial relationship (Semantic): are the prompt's two objects placed as it says?

Frames and detector as object_class (16 "middle" frames, GRiT-B ObjectDet, boxes with score > 0.5,
boxes as VBench hands them on: [int(x0), int(y0), int(x1), int(y1)]). aux["spatial_relationship"]
= {object_a, object_b, relationship}. For two boxes b1, b2 with centre offset (dx, dy) = c2 − c1
and IoU u:
  horizontal relation ("on the left of", "on the right of"): |dx| > |dy| → 1 if u < 0.1 else 0.1/u;
  vertical relation ("on the top of", "on the bottom of"): |dy| > |dx| → the same; otherwise 0.
VBench (default): the boxes named object_a or object_b (either; two boxes of one name qualify)
form unordered pairs, and the relation's direction is not checked: left ≡ right, top ≡ bottom
(VBench tests `relationship in "on the right of" or relationship in "on the left of"`).
`--option spatial_relationship.check_direction=true` (version "1+directed"): only pairs (b1 named
object_a, b2 named object_b) count, and b1 must be left of (dx > 0), right of (dx < 0), above
(dy > 0) or below (dy < 0) b2 as the relationship says.
Frame score = max(0, best pair); value = mean of the 16 frame scores. Aggregate: mean over all
frames of all videos (VBench's single-process result). Per-video key: `frame_results`.
Deviation: two zero-area boxes (IoU 0/0, where VBench raises) score as IoU 0.
"""

from __future__ import annotations

from itertools import combinations
from typing import ClassVar

import numpy as np

from vbench_lite.dimension import Option, VideoScore, boolean
from vbench_lite.dimensions.backbones.detections import FrameDetections
from vbench_lite.dimensions.backbones.object_detection import GRIT_AUTOCAST, ObjectDetectionDimension
from vbench_lite.video import Video

AUX_KEY = "spatial_relationship"
IOU_THRESHOLD = 0.1
HORIZONTAL, VERTICAL = ("on the right of", "on the left of"), ("on the bottom of", "on the top of")
# For the directed rule: the sign that (dx, dy) = centre(object_b) − centre(object_a) must have.
DIRECTIONS = {"on the left of": (0, 1), "on the right of": (0, -1), "on the top of": (1, 1),
              "on the bottom of": (1, -1)}
DIRECTION_OPTION = "check_direction"
FRAME_RESULTS = "frame_results"

Box = list[int]


def position_score(relationship: str, box1: Box, box2: Box, directed: bool = False) -> float:
    """VBench's `get_position_score` (substring test on the relationship); `directed` adds the sign."""
    dx = (box2[0] + box2[2]) / 2 - (box1[0] + box1[2]) / 2
    dy = (box2[1] + box2[3]) / 2 - (box1[1] + box1[3]) / 2
    overlap_x = max(0, min(box1[2], box2[2]) - max(box1[0], box2[0]))
    overlap_y = max(0, min(box1[3], box2[3]) - max(box1[1], box2[1]))
    intersection = overlap_x * overlap_y
    union = (box1[2] - box1[0]) * (box1[3] - box1[1]) + (box2[2] - box2[0]) * (box2[3] - box2[1]) - intersection
    iou = intersection / union if union else 0.0
    if directed:
        axis, sign = DIRECTIONS.get(relationship, (-1, 0))
        offsets = (dx, dy)
        apart = axis >= 0 and offsets[axis] * sign > 0 and abs(offsets[axis]) > abs(offsets[1 - axis])
    elif any(relationship in phrase for phrase in HORIZONTAL):
        apart = abs(dx) > abs(dy)
    elif any(relationship in phrase for phrase in VERTICAL):
        apart = abs(dy) > abs(dx)
    else:
        apart = False
    if not apart:
        return 0.0
    return 1.0 if iou < IOU_THRESHOLD else IOU_THRESHOLD / iou


def frame_score(frame: FrameDetections, relation: dict, directed: bool = False) -> float:
    first, second, relationship = relation["object_a"], relation["object_b"], relation["relationship"]
    boxes = frame.int_boxes()
    if directed:
        pairs = [(boxes[i], boxes[j]) for i, ni in enumerate(frame.names) for j, nj in enumerate(frame.names)
                 if i != j and ni == first and nj == second]
    else:
        chosen = [box for box, name in zip(boxes, frame.names, strict=True) if name in (first, second)]
        pairs = list(combinations(chosen, 2))
    return max([0.0, *(position_score(relationship, a, b, directed) for a, b in pairs)])


class SpatialRelationship(ObjectDetectionDimension):
    name: ClassVar[str] = "spatial_relationship"
    version: ClassVar[str] = "1"
    needs_aux: ClassVar[str | None] = AUX_KEY
    description: ClassVar[str] = "how well GRiT's boxes of the two objects show the prompt's left/right/top/bottom"
    options: ClassVar[tuple[Option, ...]] = (
        GRIT_AUTOCAST, Option(f"spatial_relationship.{DIRECTION_OPTION}", boolean, "check the relation's direction"),
    )

    def setup(self) -> None:
        super().setup()
        self._directed = self.bool_option(DIRECTION_OPTION)
        if self._directed:
            self.version = "1+directed"  # type: ignore[misc]  # the stored version says which rule ran

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        scores = []
        for video, frames in zip(videos, self.detections(videos), strict=True):
            relation = video.aux[AUX_KEY]
            frame_results = [frame_score(frame, relation, self._directed) for frame in frames]
            scores.append(VideoScore(float(np.mean(frame_results)), {FRAME_RESULTS: frame_results}))
        return scores

    def aggregate(self, scores: list[VideoScore]) -> float:
        frames = [s for score in scores if score.value is not None for s in score.extra[FRAME_RESULTS]]
        return float(np.mean(frames)) if frames else float("nan")
