"""The Generator contract: an adapter that turns prompts into mp4 files in the run directory.

Adapters are found through the `vbench_lite.generators` entry-point group. The runner builds a
`GenerationRequest` per (prompt, sample) with its seed and output path, calls `load` once and
`generate` on batches, then scores what comes back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal


@dataclass(frozen=True)
class FrameRule:
    """Shape constraints of a generator: frame count = multiple·k + offset, sides multiple of `spatial`."""

    frame_multiple: int = 1
    frame_offset: int = 0
    spatial_multiple: int = 1

    def frames(self, requested: int) -> int:
        k = max(0, round((requested - self.frame_offset) / self.frame_multiple))
        return k * self.frame_multiple + self.frame_offset

    def side(self, requested: int) -> int:
        return max(self.spatial_multiple, requested // self.spatial_multiple * self.spatial_multiple)


@dataclass
class GenerationRequest:
    prompt_id: str
    prompt: str
    sample_index: int
    seed: int
    out_path: Path
    image: Path | None = None  # i2v conditioning image


@dataclass
class GeneratedVideo:
    request: GenerationRequest
    path: Path | None  # None when generation failed
    fps: float = 0.0
    num_frames: int = 0
    seconds: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)  # the effective parameters used
    error: str | None = None


class Generator(ABC):
    name: ClassVar[str]
    task: ClassVar[Literal["t2v", "i2v"]] = "t2v"
    licence: ClassVar[str] = ""
    # Non-commercial or territorial licences: the user must name the model in --accept-license.
    licence_needs_acceptance: ClassVar[bool] = False
    defaults: ClassVar[dict[str, Any]] = {}
    constraints: ClassVar[FrameRule] = FrameRule()
    description: ClassVar[str] = ""

    def __init__(self, options: dict[str, Any] | None = None):
        self.options = {**self.defaults, **(options or {})}

    def weights(self) -> list:  # list[WeightSpec]; for `vbl weights`
        return []

    def provenance(self) -> dict[str, Any]:
        """Model revision, weights sha256 and resolved config, for the manifest."""
        return {"name": self.name, "options": self.options}

    @abstractmethod
    def load(self, device: str, dtype: str, weights: Path | None) -> None:
        """Load the model once. Raise WeightsMissing / InputError for what the user can fix."""

    @abstractmethod
    def generate(self, requests: list[GenerationRequest]) -> list[GeneratedVideo]:
        """Write one mp4 per request at `request.out_path`; report failures per request."""

    def close(self) -> None:
        """Release what `load` holds (a child process, GPU memory); called once after generating."""
