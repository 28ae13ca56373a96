"""The half-previous, half-first-frame similarity shared by subject and background consistency.

VBench's formula (docs/dimensions.md, subject_consistency): with L2-normalised features f_0..f_{N-1},
    s_i = ½·[max(0, cos(f_{i−1}, f_i)) + max(0, cos(f_0, f_i))],  i = 1..N−1.
VBench computes each cosine in the feature dtype (one `.item()` per pair) and sums the pair scores
in Python floats; here the cosines are computed for all pairs at once and summed in float64.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vbench_lite.dimension import VideoScore


@dataclass(frozen=True)
class ConsistencyResult:
    """One video: the sum of its pair scores, their count and the mean (VBench's `video_results`)."""

    pair_sum: float
    pair_count: int

    @property
    def mean(self) -> float:
        return self.pair_sum / self.pair_count


def pair_scores(features: torch.Tensor) -> torch.Tensor:
    """s_1..s_{N−1} for one video's features [N, D], in the features' dtype as VBench does (its
    CLIP features are fp16 on CUDA and normalised in fp16)."""
    normed = F.normalize(features, dim=-1, p=2)
    to_previous = F.cosine_similarity(normed[:-1], normed[1:]).clamp(min=0.0)
    to_first = F.cosine_similarity(normed[:1].expand(len(normed) - 1, -1), normed[1:]).clamp(min=0.0)
    return (to_previous + to_first) / 2


def consistency(features: torch.Tensor) -> ConsistencyResult:
    scores = pair_scores(features).double()  # Python floats are doubles
    return ConsistencyResult(pair_sum=float(scores.sum()), pair_count=int(scores.numel()))


def consistency_scores(features: list[torch.Tensor], sum_key: str, count_key: str) -> list[VideoScore]:
    """One VideoScore per video; the pair sum and count go in `extra` for the pair-weighted aggregate."""
    scores = []
    for per_frame in features:
        if len(per_frame) < 2:
            scores.append(VideoScore(value=None, skipped="needs at least 2 frames"))
            continue
        result = consistency(per_frame)
        scores.append(VideoScore(value=result.mean, extra={sum_key: result.pair_sum, count_key: result.pair_count}))
    return scores


def inference_context(device: str):
    """fp16 autocast on CUDA (a GPU speed choice, see docs/dimensions.md), plain fp32 elsewhere; never
    builds autograd graphs."""
    if torch.device(device).type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()
