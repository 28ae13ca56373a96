"""The LAION aesthetic predictor v1 head for CLIP ViT-L/14 (docs/dimensions.md), from a local file.

`sa_0_4_vit_l_14_linear.pth` is the state dict of one `nn.Linear(768, 1)` (keys `weight`, `bias`),
applied to L2-normalised CLIP ViT-L/14 image embeddings; its output is a 1–10 rating. VBench loads
it in fp32; so does this module. The input width is read from the file (768 for the real head) and
the load is strict.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from vbench_lite.dimension import ScoringContext
from vbench_lite.errors import InputError
from vbench_lite.weights import WeightSpec, require_weight

LAION_AESTHETIC_HEAD = WeightSpec(
    key="laion_aesthetic_vit_l14",
    file="sa_0_4_vit_l_14_linear.pth",
    backend="vbench",
    vbench_subdir="aesthetic_model/emb_reader",
    url="https://github.com/LAION-AI/aesthetic-predictor/blob/main/sa_0_4_vit_l_14_linear.pth?raw=true",
    licence="MIT",
    what="LAION aesthetic predictor head for CLIP ViT-L/14",
)


def build_aesthetic_head(path: Path, device: str) -> nn.Linear:
    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    weight = state_dict.get("weight") if isinstance(state_dict, dict) else None
    if weight is None or weight.ndim != 2 or weight.shape[0] != 1:
        raise InputError(f"{path} is not a LAION aesthetic head (a Linear(768, 1) state dict)")
    head = nn.Linear(weight.shape[1], 1)
    try:
        head.load_state_dict(state_dict)
    except RuntimeError as error:
        raise InputError(f"{path} is not a LAION aesthetic head: {' '.join(str(error).split())}") \
            from error
    return head.float().eval().to(device)


def load_aesthetic_head(context: ScoringContext) -> tuple[nn.Linear, Path]:
    """The process-wide head and its file; raises WeightsMissing when the file is absent."""
    path = require_weight(LAION_AESTHETIC_HEAD, context.weights_dir)
    head = context.backbones.get(("laion-aesthetic", str(path), context.device),
                                 lambda: build_aesthetic_head(path, context.device))
    return head, path
