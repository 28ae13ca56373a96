"""RAFT optical flow (dynamic_degree's VBench backbone): torchvision's `raft_large`.

VBench runs the original RAFT code with `raft-things.pth`. torchvision's `raft_large` is the same
network under other module names, so the original checkpoint is converted by the explicit key map
below and loaded strictly; torchvision's own weight files load as they are. Flow is computed the
way VBench's `DynamicDegree.infer` does: replicate-pad (centred) to a multiple of 8, map 0–255 to
[−1, 1], 20 refinement iterations, the last upsampled flow.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from vbench_lite.dimension import ScoringContext
from vbench_lite.weights import WeightSpec, find_weight, require_weight

if TYPE_CHECKING:
    from torchvision.models.optical_flow import RAFT

RAFT_ITERATIONS = 20  # VBench: self.model(image1, image2, iters=20, test_mode=True)
RAFT_DIVISOR = 8
# torchvision's correlation pyramid needs 1/8-resolution feature maps of at least 16 px.
RAFT_MIN_SIDE = 128


def raft_size_problem(height: int, width: int) -> str | None:
    """Why RAFT cannot take frames of this size (after padding to a multiple of 8), if so."""
    padded = [side + (-side) % RAFT_DIVISOR for side in (height, width)]
    if min(padded) < RAFT_MIN_SIDE:
        return f"RAFT needs frames of at least {RAFT_MIN_SIDE} px per side, got {width}x{height}"
    return None


# torchvision's port of the same raft-things weights (Raft_Large_Weights.C_T_V1).
RAFT_TORCHVISION_SPEC = WeightSpec(
    key="raft_large_c_t_v1",
    file="raft_large_C_T_V1-22a6c225.pth",
    backend="vbench",
    url="https://download.pytorch.org/models/raft_large_C_T_V1-22a6c225.pth",
    licence="BSD-3-Clause",
    what="torchvision raft_large (C_T_V1), dynamic_degree",
)

RAFT_THINGS_SPEC = WeightSpec(
    key="raft_things",
    file="raft-things.pth",
    backend="vbench",
    vbench_subdir="raft_model/models",
    url="https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip",
    licence="BSD-3-Clause",
    what="RAFT (things), dynamic_degree; unzip models.zip",
    alternatives=(RAFT_TORCHVISION_SPEC,),
)

# Original RAFT key → torchvision raft_large key (applied in order, first match wins).
_RAFT_KEY_MAP: list[tuple[str, str]] = [
    (r"^fnet\.", "feature_encoder."),
    (r"^cnet\.", "context_encoder."),
    (r"^(\w+_encoder)\.conv1\.", r"\1.convnormrelu.0."),
    (r"^(\w+_encoder)\.norm1\.", r"\1.convnormrelu.1."),
    (r"^(\w+_encoder)\.conv2\.", r"\1.conv."),
    (r"^(\w+_encoder\.layer\d\.\d)\.conv([12])\.", r"\1.convnormrelu\2.0."),
    (r"^(\w+_encoder\.layer\d\.\d)\.norm([12])\.", r"\1.convnormrelu\2.1."),
    (r"^update_block\.encoder\.convc([12])\.", r"update_block.motion_encoder.convcorr\1.0."),
    (r"^update_block\.encoder\.convf([12])\.", r"update_block.motion_encoder.convflow\1.0."),
    (r"^update_block\.encoder\.conv\.", "update_block.motion_encoder.conv.0."),
    (r"^update_block\.gru\.conv([zrq])([12])\.", r"update_block.recurrent_block.convgru\2.conv\1."),
    (r"^update_block\.mask\.0\.", "mask_predictor.convrelu.0."),
    (r"^update_block\.mask\.2\.", "mask_predictor.conv."),
]
# In the original ResidualBlock, `norm3` is the same module as `downsample.1`: stored twice.
_RAFT_DUPLICATE = re.compile(r"^\w+\.layer\d\.\d\.norm3\.")


def torchvision_state_from_raft(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Convert an original-RAFT state dict (`raft-things.pth`) to torchvision's raft_large keys."""
    converted: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if _RAFT_DUPLICATE.match(key):
            continue
        for pattern, replacement in _RAFT_KEY_MAP:
            key = re.sub(pattern, replacement, key)
        converted[key] = value
    return converted


def load_raft_file(path: Path) -> RAFT:
    from torchvision.models.optical_flow import raft_large

    state = torch.load(path, map_location="cpu", weights_only=True)
    if not any(key.startswith("feature_encoder.") for key in state):
        state = torchvision_state_from_raft(state)
    model = raft_large(weights=None, progress=False)
    model.load_state_dict(state, strict=True)
    return model.eval()


def raft_weight_path(context: ScoringContext) -> Path | None:
    """VBench's raft-things.pth, else torchvision's port of it; None if neither is here."""
    return find_weight(RAFT_THINGS_SPEC, context.weights_dir)


def load_raft(context: ScoringContext) -> tuple[RAFT, Path]:
    path = raft_weight_path(context) or require_weight(RAFT_THINGS_SPEC, context.weights_dir)
    model = context.backbones.get(
        ("raft-large", str(path), context.device), lambda: load_raft_file(path).to(context.device)
    )
    return model, path


def centred_pad(height: int, width: int, divisor: int) -> list[int]:
    """RAFT/AMT `InputPadder` ('sintel' mode): [left, right, top, bottom] to reach a multiple."""
    pad_h = (((height // divisor) + 1) * divisor - height) % divisor
    pad_w = (((width // divisor) + 1) * divisor - width) % divisor
    return [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2]


def pad_frames(pixels: torch.Tensor, divisor: int) -> torch.Tensor:
    height, width = pixels.shape[-2:]
    return F.pad(pixels, centred_pad(height, width, divisor), mode="replicate")


@torch.no_grad()
def raft_flow(model: RAFT, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Flow first→second for padded float 0–255 frames [B, 3, H, W] (H, W multiples of 8)."""
    frames = torch.cat([first, second])
    rows = list(range(len(first)))
    return raft_flows_for_pairs(model, frames, [(i, i + len(first)) for i in rows])


@torch.no_grad()
def raft_flows_for_pairs(model: RAFT, frames: torch.Tensor, pairs: list[tuple[int, int]]) -> torch.Tensor:
    """Final RAFT flows [P, 2, H, W] for (row i → row j) pairs of padded 0–255 frames [K, 3, H, W].

    torchvision's `RAFT.forward` with two savings that leave the final flow bit-for-bit the same:
    each frame goes through the feature encoder once, however many pairs it is in (instance norm
    is per image), and the convex-upsampling mask and upsampled flow are computed only after the
    last iteration (torchvision and the original RAFT compute them after every one of the 20).
    """
    from torchvision.models.optical_flow._utils import make_coords_grid, upsample_flow

    pixels = 2 * (frames / 255.0) - 1.0
    firsts = [i for i, _ in pairs]
    seconds = [j for _, j in pairs]
    feature_maps = model.feature_encoder(pixels)
    model.corr_block.build_pyramid(feature_maps[firsts], feature_maps[seconds])
    context_out = model.context_encoder(pixels[firsts])
    hidden_size = model.update_block.hidden_state_size
    hidden, context = torch.split(context_out, [hidden_size, context_out.shape[1] - hidden_size], dim=1)
    hidden, context = torch.tanh(hidden), F.relu(context)
    batch, _, height, width = feature_maps[firsts].shape
    coords0 = make_coords_grid(batch, height, width).to(frames.device)
    coords1 = make_coords_grid(batch, height, width).to(frames.device)
    for _ in range(RAFT_ITERATIONS):
        corr_features = model.corr_block.index_pyramid(centroids_coords=coords1)
        hidden, delta_flow = model.update_block(hidden, context, corr_features, coords1 - coords0)
        coords1 = coords1 + delta_flow
    return upsample_flow(flow=coords1 - coords0, up_mask=model.mask_predictor(hidden)).float()


def pairs_per_batch(height: int, width: int, budget_bytes: float) -> int:
    """How many frame pairs fit a memory budget: RAFT's all-pairs correlation is (HW/64)² floats."""
    cells = (height // RAFT_DIVISOR) * (width // RAFT_DIVISOR)
    per_pair = cells * cells * 4 * 1.4 + height * width * 4 * 600  # pyramid + activations
    return max(1, int(budget_bytes // per_pair))


class FlowCache:
    """Recent RAFT flows keyed by (video path, frame i, frame j), shared by the dimensions of a
    process through the BackboneCache, so a pair that dynamic_degree computed is not recomputed by
    motion_smoothness's RAFT backend. Bounded by bytes; oldest entries go first."""

    def __init__(self, max_bytes: float = 1.5e9):
        self.max_bytes = max_bytes
        self._flows: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self._bytes = 0
        self.hits = 0

    def get(self, key: tuple) -> torch.Tensor | None:
        flow = self._flows.get(key)
        if flow is not None:
            self._flows.move_to_end(key)
            self.hits += 1
        return flow

    def put(self, key: tuple, flow: torch.Tensor) -> None:
        if key in self._flows:
            return
        flow = flow.detach().to("cpu", torch.float32)
        self._flows[key] = flow
        self._bytes += flow.numel() * 4
        while self._bytes > self.max_bytes and len(self._flows) > 1:
            _, old = self._flows.popitem(last=False)
            self._bytes -= old.numel() * 4


def flow_cache(context: ScoringContext, weights: Path) -> FlowCache:
    return context.backbones.get(("raft-flow-cache", str(weights), context.device), FlowCache)


def cached_raft_flows(
    model: RAFT,
    cache: FlowCache,
    video_key: str,
    padded: torch.Tensor,
    row_of: dict[int, int],
    pairs: list[tuple[int, int]],
    batch_pairs: int,
) -> list[torch.Tensor]:
    """Flows i→j for pairs of decoded-frame indices, batched, through the cache.

    `padded` holds the needed frames [K, 3, H, W] (padded, 0–255); `row_of` maps a decoded-frame
    index to its row there. Cache keys use decoded-frame indices, so dimensions that keep
    different frame subsets still share the pairs they have in common.
    """
    size = tuple(padded.shape[-2:])
    found: dict[tuple[int, int], torch.Tensor] = {}
    todo = []
    for pair in pairs:
        hit = cache.get((video_key, *pair, *size))
        if hit is None:
            todo.append(pair)
        else:
            found[pair] = hit.to(padded.device)
    for start in range(0, len(todo), batch_pairs):
        chunk = todo[start : start + batch_pairs]
        needed = sorted({row_of[k] for pair in chunk for k in pair})
        local = {row: n for n, row in enumerate(needed)}
        flows = raft_flows_for_pairs(model, padded[needed], [(local[row_of[i]], local[row_of[j]]) for i, j in chunk])
        for pair, flow in zip(chunk, flows, strict=True):
            found[pair] = flow
            cache.put((video_key, *pair, *size), flow)
    return [found[pair] for pair in pairs]
