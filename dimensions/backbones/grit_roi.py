"""GRiT's ROI heads: three cascade box stages, the final filtering, and the object-feature pooler.

Attribute names are the checkpoint's keys under `roi_heads.`: `box_head.N.{fc1, fc2}`,
`box_predictor.N.{cls_score, bbox_pred.{0, 2}}`, `mask_head.*` (loaded so the file loads strictly,
never run: VBench discards the masks), and the two text decoders (`grit_text.py`).

Pooling is detectron2's multi-level ROIAlignV2 (torchvision `roi_align`, aligned, adaptive sampling)
over p3–p5, a box of side √area going to level clamp(⌊4 + log2(√area / 224 + 1e-8)⌋, 3, 5).
Stage k: 7×7 pool → fc1 → ReLU → fc2 → ReLU → cls_score (foreground, background) and a
class-agnostic bbox_pred (Linear → ReLU → Linear), decoded with Box2BoxTransform weights
(10, 10, 5, 5)·(k+1) and the scale clamp log(1000/16). Stage 0 pools the unclipped proposals,
later stages the previous stage's boxes clipped to the frame. Score = √(mean_k softmax_k[fg] ·
proposal score); boxes from the last stage, clipped; kept when score > 0.5, NMS at IoU 0.5, at
most 256, then boxes of zero width or height are dropped (detectron2's post-processing).
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms, roi_align

POOLER_SCALES = (1 / 8, 1 / 16, 1 / 32)  # p3, p4, p5
BOX_POOL = 7
OBJECT_POOL = 14  # the text decoder's object features: 14×14 = 196 memory tokens
CANONICAL_BOX, CANONICAL_LEVEL = 224, 4
STAGE_WEIGHTS = ((10.0, 10.0, 5.0, 5.0), (20.0, 20.0, 10.0, 10.0), (30.0, 30.0, 15.0, 15.0))
SCALE_CLAMP = math.log(1000.0 / 16)
SCORE_THRESHOLD = 0.5
NMS_IOU = 0.5
MAX_DETECTIONS = 256


class BoxHead(nn.Module):
    def __init__(self, in_features: int, fc_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(in_features, fc_dim)
        self.fc2 = nn.Linear(fc_dim, fc_dim)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc2(F.relu(self.fc1(pooled.flatten(1)))))


class BoxPredictor(nn.Module):
    def __init__(self, fc_dim: int):
        super().__init__()
        self.cls_score = nn.Linear(fc_dim, 2)
        self.bbox_pred = nn.Sequential(nn.Linear(fc_dim, fc_dim), nn.ReLU(), nn.Linear(fc_dim, 4))


class MaskHead(nn.Module):
    """detectron2's MaskRCNNConvUpsampleHead, present only so the checkpoint loads strictly."""

    def __init__(self, channels: int):
        super().__init__()
        for i in range(1, 5):
            setattr(self, f"mask_fcn{i}", nn.Conv2d(channels, channels, 3, padding=1))
        self.deconv = nn.ConvTranspose2d(channels, channels, 2, stride=2)
        self.predictor = nn.Conv2d(channels, 1, 1)


def pool_boxes(features: list[torch.Tensor], boxes: list[torch.Tensor], output: int) -> torch.Tensor:
    """detectron2's ROIPooler (ROIAlignV2) over p3–p5: [Σn, C, output, output]."""
    rois = torch.cat([torch.cat((torch.full_like(b[:, :1], i), b), dim=1) for i, b in enumerate(boxes)])
    areas = (rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2])
    levels = torch.floor(CANONICAL_LEVEL + torch.log2(torch.sqrt(areas) / CANONICAL_BOX + 1e-8))
    levels = levels.clamp(3, 5).long() - 3
    # fp32 even under autocast: fp16 box coordinates would be off by up to a pixel on large frames.
    pooled = features[0].new_zeros((rois.shape[0], features[0].shape[1], output, output), dtype=torch.float32)
    for level, scale in enumerate(POOLER_SCALES):
        index = torch.nonzero(levels == level).squeeze(1)
        if index.numel():
            pooled[index] = roi_align(features[level].float(), rois[index].float(), output,
                                      spatial_scale=scale, sampling_ratio=0, aligned=True)
    return pooled


def apply_deltas(deltas: torch.Tensor, boxes: torch.Tensor, weights: tuple[float, ...]) -> torch.Tensor:
    """detectron2's Box2BoxTransform.apply_deltas (fp32)."""
    deltas, boxes = deltas.float(), boxes.float()
    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    ctr_x, ctr_y = boxes[:, 0] + 0.5 * widths, boxes[:, 1] + 0.5 * heights
    dx, dy = deltas[:, 0] / weights[0], deltas[:, 1] / weights[1]
    dw = torch.clamp(deltas[:, 2] / weights[2], max=SCALE_CLAMP)
    dh = torch.clamp(deltas[:, 3] / weights[3], max=SCALE_CLAMP)
    pred_x, pred_y = dx * widths + ctr_x, dy * heights + ctr_y
    pred_w, pred_h = torch.exp(dw) * widths, torch.exp(dh) * heights
    return torch.stack((pred_x - 0.5 * pred_w, pred_y - 0.5 * pred_h,
                        pred_x + 0.5 * pred_w, pred_y + 0.5 * pred_h), dim=1)


def clip_boxes(boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    height, width = size
    return torch.stack((boxes[:, 0].clamp(0, width), boxes[:, 1].clamp(0, height),
                        boxes[:, 2].clamp(0, width), boxes[:, 3].clamp(0, height)), dim=1)


class RoiHeads(nn.Module):
    """Box stages and mask head; the text decoders are attached by the assembly (`grit.py`)."""

    def __init__(self, channels: int, fc_dim: int, stages: int = 3):
        super().__init__()
        self.box_head = nn.ModuleList(BoxHead(channels * BOX_POOL * BOX_POOL, fc_dim) for _ in range(stages))
        self.box_predictor = nn.ModuleList(BoxPredictor(fc_dim) for _ in range(stages))
        self.mask_head = MaskHead(channels)

    def detect(self, features: list[torch.Tensor], proposals: list[torch.Tensor], proposal_scores: list[torch.Tensor],
               sizes: list[tuple[int, int]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Cascade + filtering for each image: (boxes [n, 4] in frame pixels, scores [n])."""
        counts = [len(p) for p in proposals]
        boxes = proposals
        stage_probs = []
        for stage in range(len(self.box_head)):
            head, predictor = cast(BoxHead, self.box_head[stage]), cast(BoxPredictor, self.box_predictor[stage])
            if stage > 0:
                boxes = [clip_boxes(b, size) for b, size in zip(boxes, sizes, strict=True)]
            hidden = head(pool_boxes(features, boxes, BOX_POOL))
            stage_probs.append(F.softmax(predictor.cls_score(hidden).float(), dim=-1))
            deltas = predictor.bbox_pred(hidden)
            boxes = list(apply_deltas(deltas, torch.cat(boxes), STAGE_WEIGHTS[stage]).split(counts))
        summed = stage_probs[0]
        for probs in stage_probs[1:]:  # (s0 + s1) + s2, then × 1/3: detectron2's order
            summed = summed + probs
        mean_probs = summed * (1.0 / len(stage_probs))
        results = []
        for image_boxes, probs, prior, size in zip(
                boxes, mean_probs.split(counts), proposal_scores, sizes, strict=True):
            results.append(_filter(image_boxes, (probs[:, 0] * prior) ** 0.5, size))
        return results


def _filter(boxes: torch.Tensor, scores: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """detectron2's fast_rcnn_inference_single_image (one class) + detector_postprocess."""
    valid = torch.isfinite(boxes).all(dim=1) & torch.isfinite(scores)
    boxes, scores = clip_boxes(boxes[valid], size), scores[valid]
    keep = torch.nonzero(scores > SCORE_THRESHOLD).squeeze(1)
    boxes, scores = boxes[keep], scores[keep]
    keep = batched_nms(boxes, scores, torch.zeros_like(scores, dtype=torch.int64), NMS_IOU)[:MAX_DETECTIONS]
    boxes, scores = boxes[keep], scores[keep]
    nonempty = (boxes[:, 2] - boxes[:, 0] > 0) & (boxes[:, 3] - boxes[:, 1] > 0)
    return boxes[nonempty], scores[nonempty]
