"""GRiT's proposal generator: CenterNet's class-agnostic heat-map head and its decoding.

Attribute names are the checkpoint's keys under `proposal_generator.centernet_head.`:
`bbox_tower.{0,1,3,4,6,7,9,10}` (4 × [3×3 conv, GroupNorm(32), ReLU]), `agn_hm`, `bbox_pred`,
`scales.N.scale`. Per pyramid level l (stride s): heat = sigmoid(agn_hm), reg = ReLU(scale_l ·
bbox_pred) · s. Every location with heat > 1e-4 is a candidate (at most the 1000 hottest per level),
its box (cx − l, cy − t, cx + r, cy + b) around the cell centre (x·s + s//2, y·s + s//2), its score
√heat. All levels together go through NMS at IoU 0.9; past 256, the proposals scoring at least the
256-th best score are kept (ties kept). Boxes are not clipped here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms

HEAT_THRESHOLD = 1e-4
PRE_NMS_TOP_K = 1000
NMS_IOU = 0.9
POST_NMS_TOP_K = 256
MIN_SIDE = 0.01  # CenterNet keeps x2 ≥ x1 + 0.01 so that the ROI heads never see an empty box


class Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class CenterNetHead(nn.Module):
    def __init__(self, channels: int, num_levels: int = 5, num_convs: int = 4, groups: int = 32):
        super().__init__()
        tower: list[nn.Module] = []
        for _ in range(num_convs):
            tower += [nn.Conv2d(channels, channels, 3, padding=1), nn.GroupNorm(groups, channels), nn.ReLU()]
        self.bbox_tower = nn.Sequential(*tower)
        self.bbox_pred = nn.Conv2d(channels, 4, 3, padding=1)
        self.agn_hm = nn.Conv2d(channels, 1, 3, padding=1)
        self.scales = nn.ModuleList(Scale() for _ in range(num_levels))

    def forward(self, features: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per level: heat [B, 1, h, w] (after sigmoid) and regression [B, 4, h, w] in cells."""
        heats, regressions = [], []
        for level, feature in enumerate(features):
            tower = self.bbox_tower(feature)
            heats.append(self.agn_hm(tower).float().sigmoid())
            regressions.append(F.relu(self.scales[level](self.bbox_pred(tower))).float())
        return heats, regressions


class ProposalGenerator(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.centernet_head = CenterNetHead(channels)


@dataclass
class Proposals:
    boxes: torch.Tensor  # [n, 4] xyxy, in padded-image pixels, unclipped
    scores: torch.Tensor  # [n] √heat


def _cell_centres(height: int, width: int, stride: int, device: torch.device) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(0, height * stride, stride, dtype=torch.float32, device=device),
                            torch.arange(0, width * stride, stride, dtype=torch.float32, device=device),
                            indexing="ij")
    return torch.stack((xs.reshape(-1), ys.reshape(-1)), dim=1) + stride // 2


def decode_proposals(heats: list[torch.Tensor], regressions: list[torch.Tensor],
                     strides: tuple[int, ...]) -> list[Proposals]:
    """CenterNet's `predict_instances` + `nms_and_topK` for each image of the batch."""
    batch = heats[0].shape[0]
    per_image: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in range(batch)]
    for heat, regression, stride in zip(heats, regressions, strides, strict=True):
        _, _, height, width = heat.shape
        centres = _cell_centres(height, width, stride, heat.device)
        heat = heat.reshape(batch, -1)
        distances = regression.reshape(batch, 4, -1).permute(0, 2, 1) * stride
        for image in range(batch):
            keep = torch.nonzero(heat[image] > HEAT_THRESHOLD).squeeze(1)
            scores = heat[image, keep]
            if keep.numel() > PRE_NMS_TOP_K:
                scores, top = scores.topk(PRE_NMS_TOP_K, sorted=False)
                keep = keep[top]
            ltrb, centre = distances[image, keep], centres[keep]
            boxes = torch.stack((centre[:, 0] - ltrb[:, 0], centre[:, 1] - ltrb[:, 1],
                                 centre[:, 0] + ltrb[:, 2], centre[:, 1] + ltrb[:, 3]), dim=1)
            boxes[:, 2] = torch.max(boxes[:, 2], boxes[:, 0] + MIN_SIDE)
            boxes[:, 3] = torch.max(boxes[:, 3], boxes[:, 1] + MIN_SIDE)
            per_image[image].append((boxes, scores.sqrt()))
    results = []
    for levels in per_image:
        boxes = torch.cat([b for b, _ in levels])
        scores = torch.cat([s for _, s in levels])
        keep = batched_nms(boxes, scores, torch.zeros_like(scores, dtype=torch.int64), NMS_IOU)
        boxes, scores = boxes[keep], scores[keep]
        if scores.numel() > POST_NMS_TOP_K:
            threshold, _ = torch.kthvalue(scores.cpu(), scores.numel() - POST_NMS_TOP_K + 1)
            kept = torch.nonzero(scores >= threshold.item()).squeeze(1)
            boxes, scores = boxes[kept], scores[kept]
        results.append(Proposals(boxes, scores))
    return results
