"""The Dimension contract: what a scorer declares, what it receives, what it returns.

A dimension is found through the `vbench_lite.dimensions` entry-point group, built with a
`ScoringContext`, asked once to `setup()` (load its models through the shared backbone cache), then
handed batches of decoded videos. It never decodes, never touches the store and never prints.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from vbench_lite.backbones import BackboneCache
from vbench_lite.errors import VblError
from vbench_lite.video import Video, fps_interval, middle_indices
from vbench_lite.weights import WeightSpec, find_weight, require_weight, sha256_of

Group = Literal["quality", "semantic", "i2v", "extra"]  # "i2v": VBench++'s image-to-video group
BackendChoice = Literal["auto", "vbench", "embedded"]


@dataclass(frozen=True)
class FrameNeeds:
    """Which frames of the decoded video a dimension reads (spec §2).

    mode "all": every decoded frame; "fps": every `fps_interval(fps, target_fps)`-th frame
    (dynamic degree's ~8 fps); "middle": `count` frames from VBench's "middle" sampler.
    """

    mode: Literal["all", "fps", "middle"] = "all"
    target_fps: float | None = None
    count: int | None = None

    def select(self, video: Video) -> Video:
        if self.mode == "all":
            return video
        if self.mode == "fps":
            assert self.target_fps is not None
            step = fps_interval(video.fps, self.target_fps)
            return video.with_frames(video.frames[::step], fps=video.fps / step)
        assert self.count is not None
        return video.with_frames(video.frames[middle_indices(video.num_frames, self.count)])


@dataclass
class VideoScore:
    """One video's result on one dimension.

    `value` is what VBench stores as `video_results` (a float, or a bool for binary dimensions);
    `extra` holds the per-video keys VBench adds next to it (e.g. `video_sim`, `cnt_per_video`)
    and anything the aggregate or a drill-down needs (per-frame values).
    A `skipped` reason means the dimension could not apply to this video (e.g. no style phrase).
    """

    value: float | bool | None
    extra: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None


@dataclass
class ScoringContext:
    """What a dimension gets from the runner: where to run and where models come from."""

    device: str = "cpu"
    backend: BackendChoice = "auto"
    batch_size: int = 16
    backbones: BackboneCache = field(default_factory=BackboneCache)
    weights_dir: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)


class Dimension(ABC):
    """Base class of every scorer. Subclasses set the class attributes and `score_batch`."""

    name: ClassVar[str]
    version: ClassVar[str]
    group: ClassVar[Group]
    frames: ClassVar[FrameNeeds] = FrameNeeds()
    needs_prompt: ClassVar[bool] = False
    # Key of the suite's auxiliary info the dimension needs (e.g. "appearance_style"), if any.
    needs_aux: ClassVar[str | None] = None
    # Image-to-video dimensions compare the video with its conditioning image (`Video.image`).
    needs_image: ClassVar[bool] = False
    # Backends in order of preference for `--backend auto`; "vbench" is the VBench-exact one.
    backends: ClassVar[tuple[str, ...]] = ("vbench",)
    value_kind: ClassVar[Literal["float", "bool"]] = "float"
    # Multiply a per-video value by this to get the aggregate's units (imaging quality stores
    # 0–100 per video and aggregates mean/100, spec §4.7); recorded in the manifest for the gate.
    video_value_scale: ClassVar[float] = 1.0
    description: ClassVar[str] = ""

    def __init__(self, context: ScoringContext | None = None):
        self.context = context or ScoringContext()
        self.backend = self.backends[0]
        self.weights_path: Path | None = None  # the file (or folder) `setup` loaded, if any

    # -- what the dimension needs from the machine -------------------------------------------
    def weights(self) -> list[WeightSpec]:
        """Weight files per backend; `vbl weights` lists them. Weight-free dimensions need none."""
        return []

    def weights_sha256(self) -> str | None:
        """sha256 of the weights the chosen backend loaded, for the manifest."""
        return sha256_of(self.weights_path) if self.weights_path is not None else None

    def setup(self) -> None:
        """Pick the backend and load models (through `self.context.backbones`).

        May raise WeightsMissing. Called once per process, before the first batch.
        """

    def resolve_backend(self) -> str:
        """The backend `context.backend` selects, per the rule of `--backend`.

        Every backend other than "vbench" counts as embedded, and a backend is ready when all its
        weight files are found (most embedded ones need none). auto: "vbench" when ready, else the
        first ready embedded backend; embedded: the first ready embedded backend; vbench: "vbench".
        Where nothing is ready, the preferred backend is returned and `setup` names the missing file.
        """
        choice = self.context.backend
        embedded = [b for b in self.backends if b != "vbench"]
        ready = [b for b in embedded if not self.missing_weights(b)]
        if choice == "vbench" or (choice == "auto" and not embedded):
            if "vbench" not in self.backends:
                raise VblError(f"{self.name} has no VBench-exact backend; use --backend auto")
            return "vbench"
        if choice == "embedded":
            if not embedded:
                files = ", ".join(w.file for w in self.weights()) or "its weights"
                raise VblError(f"{self.name} has no embedded backend; it needs {files} (see `vbl weights`)")
            return (ready or embedded)[0]
        if "vbench" in self.backends and not self.missing_weights("vbench"):
            return "vbench"
        return (ready or embedded)[0]

    def missing_weights(self, backend: str) -> list[WeightSpec]:
        return [
            w for w in self.weights()
            if w.backend == backend and find_weight(w, self.context.weights_dir) is None
        ]

    def check_weights(self) -> None:
        """Raise WeightsMissing (file and where to put it) if the chosen backend lacks a file."""
        for spec in self.missing_weights(self.resolve_backend())[:1]:
            require_weight(spec, self.context.weights_dir)

    def unavailable_reason(self) -> str | None:
        """Why this dimension cannot run here with the chosen `--backend`, or None if it can."""
        try:
            self.check_weights()
        except VblError as error:
            return str(error)
        return None

    # -- scoring --------------------------------------------------------------------------------
    @abstractmethod
    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        """Score each video (frames already selected by `frames`). No I/O, no model loading."""

    def aggregate(self, scores: list[VideoScore]) -> float:
        """The dimension's aggregate over videos; VBench's default is the plain mean."""
        values = [float(s.value) for s in scores if s.value is not None]
        return float(np.mean(values)) if values else float("nan")

    def skip_reason(self, video: Video) -> str | None:
        """Why this video cannot be scored here (missing prompt or auxiliary info), if so."""
        if self.needs_prompt and not video.prompt:
            return "needs a prompt and the video has none"
        if self.needs_aux and self.needs_aux not in video.aux:
            return f"needs '{self.needs_aux}' from the prompt suite's auxiliary info"
        if self.needs_image and video.image is None:
            return "needs the video's conditioning image (an image per suite prompt, or --images DIR)"
        return None


def pair_weighted_mean(scores: list[VideoScore], total_key: str, count_key: str) -> float:
    """Σ per-video sums / Σ per-video counts (VBench's single-process aggregate for pair scores)."""
    total = sum(float(s.extra[total_key]) for s in scores if s.value is not None)
    count = sum(int(s.extra[count_key]) for s in scores if s.value is not None)
    return total / count if count else float("nan")
