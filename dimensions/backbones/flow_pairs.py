"""Optical flow between chosen frames of one video: what dynamic_degree and motion_smoothness share.

Both ask for flows i→j between decoded frames (by index in the decoded video, from the frames a
streaming scorer still holds) on the frames replicate-padded (centred) to a multiple of 8, as
VBench's RAFT `InputPadder` pads them. With RAFT the flows go through the process's `FlowCache`
in batches sized to a memory budget (option `flow_memory_bytes`), so a pair one dimension
computed is not computed again by the other; without RAFT, OpenCV DIS flow on grayscale frames
(the embedded backend, no weights). The flows come back at the padded size; the caller crops.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.flow_dis import dis_flows, to_gray
from vbench_lite.dimensions.backbones.preprocess import frames_to_tensor
from vbench_lite.dimensions.backbones.raft import (
    RAFT_DIVISOR,
    FlowCache,
    cached_raft_flows,
    centred_pad,
    flow_cache,
    load_raft,
    pad_frames,
    pairs_per_batch,
)

if TYPE_CHECKING:
    from torchvision.models.optical_flow import RAFT

FLOW_MEMORY_OPTION = "flow_memory_bytes"
DEFAULT_FLOW_MEMORY_BYTES = 3e9  # what one batch of flow pairs may hold
DIS_PAIRS_PER_BATCH = 16  # DIS runs pair by pair; this only bounds the frames a stream holds
# The embedded interpolation's float tensors take about 140 bytes per pixel per pair (measured: 16
# pairs of 1920x1080 peaked 4.5 GB above the loaded process). Its batches stay under 320 MB (one
# pair at 1080p, two at 720p): the pairs are independent, so smaller batches cost no speed, and a
# smaller transient keeps a long run's peak memory flat.
DIS_BYTES_PER_PIXEL = 140
DIS_BATCH_BYTES = 320e6


def flow_memory_budget(context: ScoringContext) -> float:
    """Bytes one batch of flow pairs may use: `--option flow_memory_bytes=…`, else 3 GB."""
    return float(context.options.get(FLOW_MEMORY_OPTION, DEFAULT_FLOW_MEMORY_BYTES))


@dataclass(frozen=True)
class RaftFlows:
    """The process's RAFT for one weights file and device, with its shared flow cache."""

    model: RAFT
    cache: FlowCache
    weights_path: Path


def load_raft_flows(context: ScoringContext) -> RaftFlows:
    """RAFT and its flow cache from the backbone cache; raises WeightsMissing when absent."""
    model, path = load_raft(context)
    return RaftFlows(model=model, cache=flow_cache(context, path), weights_path=path)


def frame_pair_flows(
    path: Path,
    frames: Mapping[int, np.ndarray],
    pairs: list[tuple[int, int]],
    device: str,
    raft: RaftFlows | None,
    budget_bytes: float = DEFAULT_FLOW_MEMORY_BYTES,
) -> list[torch.Tensor]:
    """Flow [2, H_pad, W_pad] for each (i, j) of decoded-frame indices, from `frames` (index →
    uint8 [H, W, 3], the frames a streaming scorer still holds): RAFT when given, else DIS."""
    needed = sorted({frame for pair in pairs for frame in pair})
    row_of = {frame: row for row, frame in enumerate(needed)}
    stack = np.stack([frames[index] for index in needed])
    height, width = stack.shape[1:3]
    if raft is None:
        left, right, top, bottom = centred_pad(height, width, RAFT_DIVISOR)
        gray = np.pad(to_gray(stack), ((0, 0), (top, bottom), (left, right)), mode="edge")
        return dis_flows(gray, [(row_of[i], row_of[j]) for i, j in pairs])
    padded = pad_frames(frames_to_tensor(stack, device), RAFT_DIVISOR)
    batch_pairs = pairs_per_batch(int(padded.shape[-2]), int(padded.shape[-1]), budget_bytes)
    return cached_raft_flows(raft.model, raft.cache, str(path), padded, row_of, pairs, batch_pairs)


def flow_pairs_per_batch(height: int, width: int, raft: RaftFlows | None, budget_bytes: float) -> int:
    """How many frame pairs a streaming scorer hands `frame_pair_flows` at once (and so holds)."""
    if raft is None:
        per_pair = height * width * DIS_BYTES_PER_PIXEL
        return max(1, min(DIS_PAIRS_PER_BATCH, int(min(budget_bytes, DIS_BATCH_BYTES) // per_pair)))
    left, right, top, bottom = centred_pad(height, width, RAFT_DIVISOR)
    return pairs_per_batch(height + top + bottom, width + left + right, budget_bytes)
