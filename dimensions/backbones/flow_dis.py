"""OpenCV DIS optical flow: the embedded (weight-free) flow of dynamic_degree and motion_smoothness.

Dense Inverse Search (Kroeger et al., ECCV 2016), OpenCV's `DISOpticalFlow`, medium preset, on
grayscale frames. It needs no downloaded file. Flows come back as float32 [2, H, W] tensors in the
same (u, v) pixel convention as RAFT's, so the same score code applies to both.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM


def to_gray(frames: np.ndarray) -> np.ndarray:
    """uint8 [T, H, W, 3] RGB → uint8 [T, H, W] luma (OpenCV's weights)."""
    return np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames])


def dis_flows(gray: np.ndarray, pairs: list[tuple[int, int]]) -> list[torch.Tensor]:
    """Flow i→j for each (i, j) of the grayscale frames [T, H, W]."""
    dis = cv2.DISOpticalFlow.create(DIS_PRESET)
    flows = []
    for i, j in pairs:
        # OpenCV's stub omits None for the output flow, which the binding accepts (it allocates one).
        flow = dis.calc(gray[i], gray[j], None)  # type: ignore[call-overload]  # [H, W, 2] float32, (u, v)
        flows.append(torch.from_numpy(flow).permute(2, 0, 1))
    return flows
