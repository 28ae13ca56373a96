"""NanoDet as the object dimensions' embedded detector: its COCO detections in the form GRiT gives.

Object names are NanoDet's COCO class names (VBench's object prompts use COCO classes). Captions,
which only color reads, are "<colour> <name>": the colour is named from the box's own pixels
(`box_colour`: the most frequent colour of the box's central half), so color's rule finds the
colour word in the caption as it finds it in GRiT's DenseCap text. These are the `embedded`
backend's numbers, never comparable with GRiT's (docs/dimensions.md, "Embedded detector").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.box_colour import box_colour
from vbench_lite.dimensions.backbones.detections import Detector, FrameDetections
from vbench_lite.dimensions.backbones.nanodet import NanoDet, load_nanodet


class NanoDetDetector:
    def __init__(self, nanodet: NanoDet):
        self.nanodet = nanodet

    def detect(self, frames: list[np.ndarray], captions: bool = False) -> list[FrameDetections]:
        found: list[FrameDetections] = []
        start = 0
        while start < len(frames):  # runs of frames of one size go through the network together
            end = start + 1
            while end < len(frames) and frames[end].shape == frames[start].shape:
                end += 1
            pixels = np.clip(np.rint(np.stack(frames[start:end])), 0, 255).astype(np.uint8)
            for frame, detections in zip(pixels, self.nanodet.detect(pixels), strict=True):
                names = tuple(detections.names)
                described = tuple(f"{box_colour(frame, box)} {name}" for box, name in
                                  zip(detections.boxes, names, strict=True)) if captions else ()
                found.append(FrameDetections(detections.boxes, detections.scores, names, described))
            start = end
        return found


def load_nanodet_detector(context: ScoringContext) -> tuple[Detector, Path | None]:
    nanodet, path = load_nanodet(context)
    return NanoDetDetector(nanodet), path
