"""CoTracker2 (camera_motion's VBench backbone): native PyTorch, loads the released `cotracker2.pth` strictly.

VBench gets the tracker with `torch.hub.load("facebookresearch/co-tracker", "cotracker2")`: co-tracker's
`CoTrackerPredictor(window_len=8, v2=True)` holding a `CoTracker2` network, weights from
`cotracker2.pth`. This module is that network, written anew; its attribute names are the file's keys
(including the typo `updateformer.virual_tracks` and the stored sin-cos tables `time_emb`, `pos_emb`),
so the file loads with a plain strict `load_state_dict`. A CoTracker3 file is refused by name.

What VBench runs, and so what `track_grid` computes (offline mode, the whole video at once):
1. every frame, float 0–255, bilinearly resized (align_corners=True, no antialias) to the model
   resolution 384×512 and mapped to [−1, 1];
2. a 10×10 grid of query points on frame 0: y ∈ linspace(8, 376, 10), x ∈ linspace(8, 504, 10),
   row-major (margin = 512/64);
3. features: a stride-4 CNN (BasicEncoder, 128 channels at 96×128) per frame; a query's track feature
   is its frame-0 feature (bilinear sample);
4. sliding windows of 8 frames with step 4, the video padded by repeating its last frame: each window
   runs 6 refinement iterations of a transformer (6 time blocks; 6 space blocks through 64 virtual
   tracks) on [flow embedding, 4-level 7×7 correlation, track feature, track mask + visibility] plus
   the stored position/time tables; a window starts from the previous window's last 4 frames;
5. frame 0's tracks are set back to the query points, and tracks are scaled to the video's pixels by
   ((W−1)/511, (H−1)/383).

Differences from co-tracker's code that leave the tracks the same up to float rounding: windows run as
soon as their frames are decoded (`OnlineTracks`: the same windows on the same inputs); frame features
are computed window by window and padding frames reuse the last frame's features (co-tracker encodes
the padded video in one batch, padding included); the correlation of a track feature with the 7×7
neighbourhood is taken after sampling the feature map (a bilinear sample is linear, so this equals
co-tracker's sampling of the full correlation volume, at a fraction of the cost); the attention and
track masks, all ones when every query starts at frame 0, are left out. On CPU, frames go through the
encoder one at a time (faster than co-tracker's one batch, same arithmetic) and, on AVX-512 CPUs,
linear layers through oneDNN (onednn.py), which sums in another order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.kernel_routes import choose_kernel_routes
from vbench_lite.errors import VblError
from vbench_lite.weights import WeightSpec, require_weight

COTRACKER2_SPEC = WeightSpec(
    key="cotracker2",
    file="cotracker2.pth",
    backend="vbench",
    url="https://huggingface.co/facebook/cotracker/resolve/main/cotracker2.pth",
    licence="CC-BY-NC-4.0",
    what="CoTracker2 point tracker, camera_motion",
)

STRIDE = 4  # feature maps are 1/4 of the model resolution
CORR_LEVELS, CORR_RADIUS = 4, 3  # 4 pyramid levels of 7×7 correlation samples
FLOW_EMBED = 64  # sin-cos channels per flow coordinate
HEAD_DIM = 48  # co-tracker's Attention: dim_head 48, so heads = hidden / 48
ITERATIONS = 6  # CoTrackerPredictor: model(video, queries, iters=6)
GRID_QUERY_FRAME = 0
# The update transformer's rows per call: VBench's 10×10 grid of tracks over an 8-frame window.
UPDATE_ROWS = 100 * 8


@dataclass(frozen=True)
class CoTracker2Config:
    latent_dim: int = 128
    hidden_size: int = 384
    time_depth: int = 6
    space_depth: int = 6
    num_virtual_tracks: int = 64
    mlp_hidden: int = 1536
    window_len: int = 8
    model_resolution: tuple[int, int] = (384, 512)

    @property
    def input_dim(self) -> int:
        """Transformer input: flow embedding, correlations, track feature, (mask, visibility)."""
        return 2 + 2 * FLOW_EMBED + CORR_LEVELS * (2 * CORR_RADIUS + 1) ** 2 + self.latent_dim + 2


# -- feature encoder --------------------------------------------------------------------------------
class ResidualBlock(nn.Module):
    """Two 3×3 convolutions with instance norm (no parameters) and a strided 1×1 shortcut."""

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1)
        self.downsample = (
            nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride), nn.InstanceNorm2d(planes))
            if stride != 1 else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(F.instance_norm(self.conv1(x)))
        y = F.relu(F.instance_norm(self.conv2(y)))
        if self.downsample is not None:
            x = self.downsample(x)
        return F.relu(x + y)


class BasicEncoder(nn.Module):
    """Four residual stages at strides 2, 2, 4, 8, 16; all resized to stride 4 and fused."""

    def __init__(self, output_dim: int):
        super().__init__()
        widths = [output_dim // 2, output_dim // 4 * 3, output_dim, output_dim]
        self.conv1 = nn.Conv2d(3, output_dim // 2, 7, stride=2, padding=3)
        in_planes = output_dim // 2
        for index, (width, stride) in enumerate(zip(widths, (1, 2, 2, 2), strict=True), start=1):
            self.add_module(f"layer{index}", nn.Sequential(
                ResidualBlock(in_planes, width, stride), ResidualBlock(width, width, 1)))
            in_planes = width
        self.conv2 = nn.Conv2d(sum(widths), output_dim * 2, 3, padding=1)
        self.conv3 = nn.Conv2d(output_dim * 2, output_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = (x.shape[-2] // STRIDE, x.shape[-1] // STRIDE)
        x = F.relu(F.instance_norm(self.conv1(x)))
        stages = []
        for index in range(1, 5):
            x = getattr(self, f"layer{index}")(x)
            stages.append(F.interpolate(x, size, mode="bilinear", align_corners=True))
        x = F.relu(F.instance_norm(self.conv2(torch.cat(stages, dim=1))))
        return self.conv3(x)


# -- update transformer ---------------------------------------------------------------------------
class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.heads = num_heads
        self.to_q = nn.Linear(dim, dim)
        self.to_kv = nn.Linear(dim, 2 * dim)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = x if context is None else context
        batch, tokens, dim = x.shape
        q = self.to_q(x).reshape(batch, tokens, self.heads, -1).transpose(1, 2)
        k, v = (t.reshape(batch, context.shape[1], self.heads, -1).transpose(1, 2)
                for t in self.to_kv(context).chunk(2, dim=-1))
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(q·kᵀ/√48)·v
        return self.to_out(out.transpose(1, 2).reshape(batch, tokens, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class AttnBlock(nn.Module):
    """Pre-norm self-attention block; its LayerNorms have no parameters (eps 1e-6)."""

    def __init__(self, dim: int, num_heads: int, mlp_hidden: int):
        super().__init__()
        self.attn = Attention(dim, num_heads)
        self.mlp = Mlp(dim, mlp_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(F.layer_norm(x, x.shape[-1:], eps=1e-6))
        return x + self.mlp(F.layer_norm(x, x.shape[-1:], eps=1e-6))


class CrossAttnBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_hidden: int):
        super().__init__()
        self.norm_context = nn.LayerNorm(dim)
        self.cross_attn = Attention(dim, num_heads)
        self.mlp = Mlp(dim, mlp_hidden)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = x + self.cross_attn(F.layer_norm(x, x.shape[-1:], eps=1e-6), self.norm_context(context))
        return x + self.mlp(F.layer_norm(x, x.shape[-1:], eps=1e-6))


class EfficientUpdateFormer(nn.Module):
    """Alternating attention over time (per track) and space (tracks ↔ virtual tracks, per frame)."""

    def __init__(self, config: CoTracker2Config):
        super().__init__()
        dim, heads, hidden = config.hidden_size, config.hidden_size // HEAD_DIM, config.mlp_hidden
        self.input_transform = nn.Linear(config.input_dim, dim)
        self.flow_head = nn.Linear(dim, config.latent_dim + 2)
        self.virual_tracks = nn.Parameter(torch.empty(1, config.num_virtual_tracks, 1, dim))  # sic: the file's key
        self.time_blocks = nn.ModuleList(AttnBlock(dim, heads, hidden) for _ in range(config.time_depth))
        self.space_virtual_blocks = nn.ModuleList(AttnBlock(dim, heads, hidden) for _ in range(config.space_depth))
        self.space_point2virtual_blocks = nn.ModuleList(
            CrossAttnBlock(dim, heads, hidden) for _ in range(config.space_depth))
        self.space_virtual2point_blocks = nn.ModuleList(
            CrossAttnBlock(dim, heads, hidden) for _ in range(config.space_depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, S, input_dim] (tracks, frames) → [N, S, latent + 2] (Δxy, Δfeature)."""
        tracks, frames = x.shape[:2]
        tokens = torch.cat([self.input_transform(x), self.virual_tracks[0].expand(-1, frames, -1)], dim=0)
        every = len(self.time_blocks) // len(self.space_virtual_blocks)
        space = 0
        for index, time_block in enumerate(self.time_blocks):
            tokens = time_block(tokens)
            if index % every == 0:
                per_frame = tokens.transpose(0, 1)  # [S, N + V, D]
                points, virtual = per_frame[:, :tracks], per_frame[:, tracks:]
                virtual = self.space_virtual2point_blocks[space](virtual, points)
                virtual = self.space_virtual_blocks[space](virtual)
                points = self.space_point2virtual_blocks[space](points, virtual)
                tokens = torch.cat([points, virtual], dim=1).transpose(0, 1)
                space += 1
        return self.flow_head(tokens[:tracks])


# -- sampling helpers -----------------------------------------------------------------------------
def sample_bilinear(maps: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """maps [B, C, H, W] at pixel points xy [B, P, Q, 2] (x, y; align_corners, border) → [B, C, P, Q]."""
    height, width = maps.shape[-2:]
    scale = torch.tensor([2 / max(width - 1, 1), 2 / max(height - 1, 1)], device=xy.device)
    return F.grid_sample(maps, xy * scale - 1, align_corners=True, padding_mode="border")


def flow_embedding(flows: torch.Tensor) -> torch.Tensor:
    """co-tracker's `get_2d_embedding(flows, 64, cat_coords=True)`: [.., 2] → [.., 130]."""
    frequencies = torch.arange(0, FLOW_EMBED, 2, device=flows.device, dtype=torch.float32) * (1000.0 / FLOW_EMBED)
    parts = [flows]
    for coordinate in (flows[..., 0:1], flows[..., 1:2]):
        angles = coordinate * frequencies
        parts.append(torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(-2))
    return torch.cat(parts, dim=-1)


def grid_points(size: int, height: int, width: int) -> torch.Tensor:
    """co-tracker's `get_points_on_a_grid(size, (H, W))`: [size², 2] (x, y), margin W/64, row-major."""
    margin, centre_y, centre_x = width / 64, height / 2, width / 2
    ys = torch.linspace(margin - height / 2 + centre_y, height / 2 + centre_y - margin, size)
    xs = torch.linspace(margin - width / 2 + centre_x, width / 2 + centre_x - margin, size)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1).reshape(-1, 2)


def neighbourhood_offsets(device: torch.device) -> torch.Tensor:
    """The 7×7 offsets as co-tracker orders them: x varies along the outer index, y along the inner."""
    steps = torch.linspace(-CORR_RADIUS, CORR_RADIUS, 2 * CORR_RADIUS + 1, device=device)
    outer, inner = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([outer, inner], dim=-1).reshape(-1, 2)


# -- the network ------------------------------------------------------------------------------------
class CoTracker2(nn.Module):
    time_emb: torch.Tensor  # stored sin-cos tables (buffers, loaded from the checkpoint)
    pos_emb: torch.Tensor

    def __init__(self, config: CoTracker2Config | None = None):
        super().__init__()
        self.config = config = config or CoTracker2Config()
        self.window_len = config.window_len
        self.model_resolution = config.model_resolution
        self.fnet = BasicEncoder(config.latent_dim)
        self.updateformer = EfficientUpdateFormer(config)
        self.norm = nn.GroupNorm(1, config.latent_dim)
        self.track_feat_updater = nn.Sequential(nn.Linear(config.latent_dim, config.latent_dim), nn.GELU())
        self.vis_predictor = nn.Sequential(nn.Linear(config.latent_dim, 1))
        grid = (config.model_resolution[0] // STRIDE, config.model_resolution[1] // STRIDE)
        self.register_buffer("time_emb", torch.zeros(1, config.window_len, config.input_dim))
        self.register_buffer("pos_emb", torch.zeros(1, config.input_dim, *grid))

    def correlations(self, pyramid: list[torch.Tensor], track_feat: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """Track features [S, N, C] against the 7×7 neighbourhood of coords [S, N, 2] at each level → [N, S, 196]."""
        offsets = neighbourhood_offsets(coords.device)
        channels = track_feat.shape[-1]
        levels = []
        for level, fmaps in enumerate(pyramid):
            points = (coords / 2**level)[:, :, None] + offsets  # [S, N, 49, 2]
            neighbours = sample_bilinear(fmaps, points)  # [S, C, N, 49]
            levels.append(torch.einsum("snc,scnk->snk", track_feat, neighbours) / math.sqrt(channels))
        return torch.cat(levels, dim=-1).transpose(0, 1)

    def forward_window(
        self, fmaps: torch.Tensor, coords: torch.Tensor, track_feat: torch.Tensor, vis: torch.Tensor,
        track_mask: torch.Tensor, iters: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One window: fmaps [S, C, h, w]; coords [S, N, 2] (feature pixels); track_feat [S, N, C];
        vis, track_mask [S, N, 1] → coords [S, N, 2] (model pixels) and visibility logits [S, N]."""
        frames, tracks, channels = track_feat.shape
        pyramid = [fmaps]
        for _ in range(CORR_LEVELS - 1):
            pyramid.append(F.avg_pool2d(pyramid[-1], 2, stride=2))
        mask_and_vis = torch.cat([track_mask, vis], dim=-1).transpose(0, 1)  # [N, S, 2]
        position = sample_bilinear(self.pos_emb, coords[None, 0:1])[0, :, 0].t()[:, None]  # [N, 1, D]
        for _ in range(iters):
            flows = (coords - coords[0:1]).transpose(0, 1)  # [N, S, 2]
            inputs = torch.cat([flow_embedding(flows), self.correlations(pyramid, track_feat, coords),
                                track_feat.transpose(0, 1), mask_and_vis], dim=-1)
            delta = self.updateformer(inputs + position + self.time_emb)  # [N, S, 2 + C]
            coords = coords + delta[..., :2].transpose(0, 1)
            features = track_feat.transpose(0, 1).reshape(-1, channels)
            features = self.track_feat_updater(self.norm(delta[..., 2:].reshape(-1, channels))) + features
            track_feat = features.reshape(tracks, frames, channels).transpose(0, 1)
        return coords * STRIDE, self.vis_predictor(track_feat)[..., 0]

    @torch.no_grad()
    def forward(self, video: torch.Tensor, queries: torch.Tensor, iters: int = ITERATIONS) -> torch.Tensor:
        """Tracks [T, N, 2] (model pixels) of queries [N, 2] (model pixels on frame 0) through video
        [T, 3, H, W] (float 0–255 at the model resolution)."""
        tracks = OnlineTracks(self, queries, iters)
        tracks.feed(video)
        return tracks.finish()


# On CPU one frame per encoder call is the fastest: its activations stay in cache (0.9 s a frame here,
# against 1.4 s in batches of 8 or more, as co-tracker's single batch of the whole padded video).
CPU_FRAMES_PER_ENCODE = 1


def _pad_with_last(x: torch.Tensor, count: int) -> torch.Tensor:
    return torch.cat([x, x[-1:].expand(count, *x.shape[1:])])


class OnlineTracks:
    """co-tracker's offline sliding windows, run as the frames arrive.

    A window (8 frames, step 4) depends only on its own frames and the previous window's predictions,
    so it runs as soon as its 8 frames are in; at `finish` the last windows run with the video padded
    by its last frame, exactly as offline. The windows and their inputs are the offline ones, so the
    tracks are too; what is held is the frames of the window under way, not the whole video (whose
    model-resolution float copy would take 2.4 MB a frame: 7 GB for 3000 frames).
    With T ≤ 4 no window fits (co-tracker's window count is then 0) and every track stays at 0.
    """

    def __init__(self, model: CoTracker2, queries: torch.Tensor, iters: int = ITERATIONS):
        self.model, self.iters = model, iters
        self.size, self.step = model.window_len, model.window_len // 2
        self.query_coords = queries / STRIDE
        self.pixels: dict[int, torch.Tensor] = {}  # received, not yet encoded
        self.features: dict[int, torch.Tensor] = {}  # encoded, still inside a window to come
        self.coords: dict[int, torch.Tensor] = {}  # predictions per frame, the latest window's
        self.vis: dict[int, torch.Tensor] = {}
        self.track_feat: torch.Tensor | None = None
        self.received = 0
        self.next_start = 0

    def feed(self, video: torch.Tensor) -> None:
        """The next frames [n, 3, H, W] (float 0–255 at the model resolution)."""
        for frame in video:
            self.pixels[self.received] = frame
            self.received += 1
        while self.next_start + self.size <= self.received:
            self._window(self.next_start)

    def finish(self) -> torch.Tensor:
        total = self.received
        windows = (total - self.size + self.step - 1) // self.step + 1
        for start in range(self.next_start, self.step * windows, self.step):
            self._window(start)
        tracks = self.query_coords.new_zeros(total, len(self.query_coords), 2)
        for index, coords in self.coords.items():
            tracks[index] = coords
        return tracks

    def _encode(self, indices: list[int]) -> None:
        missing = sorted({i for i in indices if i not in self.features})
        per_batch = len(missing) if self.query_coords.device.type == "cuda" else CPU_FRAMES_PER_ENCODE
        for first in range(0, len(missing), per_batch):
            batch = missing[first : first + per_batch]
            pixels = 2 * (torch.stack([self.pixels.pop(i) for i in batch]) / 255.0) - 1.0
            self.features.update(zip(batch, self.model.fnet(pixels), strict=True))

    def _window(self, start: int) -> None:
        size, step, overlap = self.size, self.step, self.size - self.step
        if self.track_feat is None:  # a query's feature is its frame-0 feature
            self._encode([0])
            first = self.features[0][None]
            feature = sample_bilinear(first, self.query_coords[None, :, None])[0, :, :, 0].t()  # [N, C]
            self.track_feat = feature.expand(size, -1, -1)
        indices = [min(i, self.received - 1) for i in range(start, start + size)]  # padded past the end
        self._encode(indices)
        fmaps = torch.stack([self.features[i] for i in indices])
        queries = len(self.query_coords)
        if start == 0:
            coords = self.query_coords.expand(size, -1, -1)
            vis = fmaps.new_full((size, queries, 1), 10.0)
            track_mask = fmaps.new_ones(size, queries, 1)
        else:
            earlier = range(start, start + overlap)
            coords = _pad_with_last(torch.stack([self.coords[i] for i in earlier]) / STRIDE, step)
            vis = _pad_with_last(torch.stack([self.vis[i] for i in earlier])[:, :, None], step)
            track_mask = torch.cat([fmaps.new_zeros(overlap, queries, 1), fmaps.new_ones(step, queries, 1)])
        window_coords, window_vis = self.model.forward_window(fmaps, coords, self.track_feat, vis, track_mask,
                                                              self.iters)
        for offset in range(min(self.received - start, size)):
            self.coords[start + offset], self.vis[start + offset] = window_coords[offset], window_vis[offset]
        self.next_start = start + step
        self.features = {i: f for i, f in self.features.items() if i >= self.next_start}
        self.vis = {i: v for i, v in self.vis.items() if i >= self.next_start}


# -- the predictor (what VBench's camera_motion calls) ----------------------------------------------
RESIZE_CHUNK = 16  # frames resized at a time: the float copy of a long video never exists at full size


class GridTracker:
    """co-tracker's `CoTrackerPredictor(video, grid_size=...)`, fed uint8 frames [n, H, W, 3] chunk by
    chunk: tracks [T, grid², 2] in the video's pixels (x, y), frame 0 set to the grid itself."""

    def __init__(self, model: CoTracker2, grid_size: int, height: int, width: int, device: str = "cpu"):
        self.device, self.resolution = device, model.model_resolution
        res_h, res_w = self.resolution
        self.queries = grid_points(grid_size, res_h, res_w).to(device)
        self.online = OnlineTracks(model, self.queries)
        self.scale = self.queries.new_tensor([(width - 1) / (res_w - 1), (height - 1) / (res_h - 1)])

    @torch.no_grad()
    def feed(self, frames: np.ndarray) -> None:
        for i in range(0, len(frames), RESIZE_CHUNK):
            chunk = torch.tensor(frames[i : i + RESIZE_CHUNK], device=self.device).permute(0, 3, 1, 2).float()
            self.online.feed(F.interpolate(chunk, self.resolution, mode="bilinear", align_corners=True))

    @torch.no_grad()
    def finish(self) -> np.ndarray:
        tracks = self.online.finish()
        if len(tracks):
            tracks[GRID_QUERY_FRAME] = self.queries
        return (tracks * self.scale).cpu().numpy()


def track_grid(model: CoTracker2, frames: np.ndarray, grid_size: int, device: str = "cpu") -> np.ndarray:
    """`GridTracker` on a whole decoded video [T, H, W, 3]."""
    tracker = GridTracker(model, grid_size, frames.shape[1], frames.shape[2], device)
    tracker.feed(frames)
    return tracker.finish()


# -- loading ----------------------------------------------------------------------------------------
def config_from_state(state: dict[str, torch.Tensor]) -> CoTracker2Config:
    """The configuration a CoTracker2 state dict was saved from (the released file: the defaults)."""
    def count(prefix: str) -> int:
        return len({key[len(prefix):].split(".")[0] for key in state if key.startswith(prefix)})

    grid_h, grid_w = state["pos_emb"].shape[-2:]
    return CoTracker2Config(
        latent_dim=state["fnet.conv3.weight"].shape[0],
        hidden_size=state["updateformer.input_transform.weight"].shape[0],
        time_depth=count("updateformer.time_blocks."),
        space_depth=count("updateformer.space_virtual_blocks."),
        num_virtual_tracks=state["updateformer.virual_tracks"].shape[1],
        mlp_hidden=state["updateformer.time_blocks.0.mlp.fc1.weight"].shape[0],
        window_len=state["time_emb"].shape[1],
        model_resolution=(grid_h * STRIDE, grid_w * STRIDE),
    )


def cotracker2_from_state(checkpoint: dict[str, Any], source: str = "the state dict") -> CoTracker2:
    """Build a CoTracker2 shaped like `checkpoint` and load it strictly; a wrong file is one clear error."""
    wrapped = checkpoint.get("model")  # co-tracker's own wrapper
    state: dict[str, torch.Tensor] = wrapped if isinstance(wrapped, dict) else checkpoint
    needs = f"camera_motion's vbench backend needs CoTracker2's {COTRACKER2_SPEC.file} ({COTRACKER2_SPEC.url})"
    if any(key.startswith("corr_mlp.") for key in state):
        raise VblError(f"{source} is a CoTracker3 checkpoint; {needs}")
    try:
        config = config_from_state(state)
    except (KeyError, IndexError, ZeroDivisionError, AttributeError) as error:
        raise VblError(f"{source} is not a CoTracker2 checkpoint (no {error}); {needs}") from None
    with torch.device("meta"):
        model = CoTracker2(config)
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    wrong = [key for key in expected if key in state and tuple(state[key].shape) != expected[key]]
    if missing or unexpected or wrong:
        problems = [f"{len(keys)} {what} (first: {keys[0]})" for keys, what in
                    ((missing, "keys missing"), (unexpected, "unexpected keys"), (wrong, "tensors of the wrong shape"))
                    if keys]
        raise VblError(f"{source} is not a CoTracker2 checkpoint: {', '.join(problems)}; {needs}")
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def load_cotracker2_file(path: Path) -> CoTracker2:
    state: object = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise VblError(f"{path} is not a CoTracker2 checkpoint (not a state dict)")
    return cotracker2_from_state(state, str(path))


def load_cotracker2(context: ScoringContext) -> tuple[CoTracker2, Path]:
    """The shared CoTracker2 for this process and the file it came from (WeightsMissing if absent)."""
    path = require_weight(COTRACKER2_SPEC, context.weights_dir)
    def load() -> CoTracker2:
        return choose_kernel_routes(load_cotracker2_file(path).to(context.device), context.device,
                                    tokens=UPDATE_ROWS, images=1)

    return context.backbones.get(("cotracker2", str(path), context.device), load), path
