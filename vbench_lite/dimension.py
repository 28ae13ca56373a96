"""The Dimension contract: what a scorer declares, what it receives, what it returns.

A dimension is found through the `vbench_lite.dimensions` entry-point group, built with a
`ScoringContext`, asked once to `setup()` (load its models through the shared backbone cache), then
handed batches of decoded videos. It never decodes, never touches the store and never prints.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from vbench_lite.backbones import BackboneCache
from vbench_lite.errors import VblError
from vbench_lite.video import Video, VideoMeta, middle_indices
from vbench_lite.weights import WeightSpec, find_weight, require_weight, sha256_of

Group = Literal["quality", "semantic", "i2v", "extra"]  # "i2v": VBench++'s image-to-video group
# What scorers compute in: fp32 on CPU, autocast to this dtype on CUDA (`cuda_autocast`).
CUDA_AUTOCAST_DTYPE = "float16"
BackendChoice = Literal["auto", "vbench", "embedded"]


@dataclass(frozen=True)
class FrameNeeds:
    """Which frames of the decoded video a dimension reads (docs/dimensions.md, "Frame samplers").

    mode "all": every decoded frame; "middle": `count` frames from VBench's "middle" sampler.
    """

    mode: Literal["all", "middle"] = "all"
    count: int | None = None

    def indices(self, num_frames: int) -> list[int] | None:
        """The frame indices selected from a video of `num_frames` frames (None: every frame)."""
        if self.mode == "all":
            return None
        assert self.count is not None
        return middle_indices(num_frames, self.count)

    def select(self, video: Video) -> Video:
        indices = self.indices(video.num_frames)
        return video if indices is None else video.with_frames(video.frames[indices])


class FrameConsumer(ABC):
    """Scores one video from its frames as they are decoded, chunk by chunk and in order, keeping
    only what its formula needs (features, a previous frame), never the whole video."""

    @abstractmethod
    def feed(self, frames: np.ndarray, start: int) -> None:
        """Frames `start` … `start + len(frames) - 1` of the video, uint8 [n, H, W, 3]."""

    @abstractmethod
    def finish(self) -> VideoScore:
        """The video's score, after its last chunk."""


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


@dataclass(frozen=True)
class Option:
    """A `--option key=value` setting a dimension reads from `context.options`.

    `parse` turns the value the command line gave (JSON-parsed where it could be) into the value
    the dimension reads, or raises ValueError saying what the value must be.
    """

    key: str
    parse: Callable[[Any], Any]
    help: str = ""


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError("true or false")


def positive_number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise ValueError("a number above 0")


def one_of(*choices: Any) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if value in choices:
            return value
        raise ValueError("one of " + ", ".join(str(c) for c in choices))

    return parse


@dataclass
class ScoringContext:
    """What a dimension gets from the runner: where to run and where models come from."""

    # $VBL_DEVICE picks the default (benchmarks/device_check.sh runs the fidelity tests on a GPU so).
    device: str = field(default_factory=lambda: os.environ.get("VBL_DEVICE", "cpu"))
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
    # 0–100 per video and aggregates mean/100, as VBench does); recorded in the manifest for the gate.
    video_value_scale: ClassVar[float] = 1.0
    description: ClassVar[str] = ""
    # The `--option` keys this dimension reads (`<name>.backend` is always accepted).
    options: ClassVar[tuple[Option, ...]] = ()

    @classmethod
    def accepted_options(cls) -> dict[str, Option]:
        backend = Option(f"{cls.name}.backend", one_of(*cls.backends), "pin one of the dimension's backends")
        return {backend.key: backend, **{option.key: option for option in cls.options}}

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
        if not self.weights():  # weight-free: every choice, "embedded" too, runs the one backend it has
            return self.backends[0]
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

    def consumer(self, video: VideoMeta) -> FrameConsumer | None:
        """A streaming scorer of one video, for a dimension that reads every frame; None (the
        default) means: the runner hands `score_batch` the frames `frames` selects."""
        return None

    def aggregate(self, scores: list[VideoScore]) -> float:
        """The dimension's aggregate over videos; VBench's default is the plain mean."""
        values = [float(s.value) for s in scores if s.value is not None]
        return float(np.mean(values)) if values else float("nan")

    def skip_reason(self, video: Video | VideoMeta) -> str | None:
        """Why this video cannot be scored here (missing prompt or auxiliary info), if so."""
        if self.needs_prompt and not video.prompt:
            return "needs a prompt and the video has none"
        if self.needs_aux and self.needs_aux not in video.aux:
            return f"needs '{self.needs_aux}' from the prompt suite's auxiliary info"
        if self.needs_image and video.image is None:
            return "needs the video's conditioning image (an image per suite prompt, or --images DIR)"
        return None


def score_whole(consumer: FrameConsumer, frames: np.ndarray) -> VideoScore:
    """A streaming scorer run on a whole decoded video: the same code, hence the same numbers."""
    consumer.feed(frames, 0)
    return consumer.finish()


def scoring_precision(device: str) -> str:
    """The precision recorded in a run's manifest for scoring on `device`."""
    return f"autocast-{CUDA_AUTOCAST_DTYPE}" if device.startswith("cuda") else "float32"


def pair_weighted_mean(scores: list[VideoScore], total_key: str, count_key: str) -> float:
    """Σ per-video sums / Σ per-video counts (VBench's single-process aggregate for pair scores)."""
    total = sum(float(s.extra[total_key]) for s in scores if s.value is not None)
    count = sum(int(s.extra[count_key]) for s in scores if s.value is not None)
    return total / count if count else float("nan")
