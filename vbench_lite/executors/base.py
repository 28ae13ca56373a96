"""The executor seam: how a run's videos get generated and scored, on this process or on Ray.

An executor takes small settings, the work and the dimension objects, and returns outcomes. It
commits each finished video through the `Recorder` it is handed (one transaction per video, so a
killed run resumes where it stopped) but never touches the manifest or the run report: the runner
alone turns outcomes into those. See docs/architecture.md, "Runner and executors".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from vbench_lite.dimension import Dimension, VideoScore
from vbench_lite.generator import Generator
from vbench_lite.long_video import LongMode
from vbench_lite.rundir import ScorerRecord
from vbench_lite.store import ScoreRow, VideoRow
from vbench_lite.video import Video
from vbench_lite.worklist import VideoItem

# Commits one video and all its score rows at once (the store's record_video, bound to a run).
Recorder = Callable[[VideoRow, list[ScoreRow]], None]


@dataclass(frozen=True)
class ExecutorSettings:
    device: str = "cpu"
    videos_per_batch: int = 4
    generator_weights: Path | None = None  # the generator's --weights folder
    ray_address: str | None = None  # Ray only: None runs Ray on this host, "auto"/HOST:PORT joins a cluster
    long: LongMode | None = None  # VBench-Long: score clips of each video and average them


@dataclass
class GenerationOutcome:
    """What generation produced: the generator's provenance and, per made video, its facts."""

    provenance: dict[str, Any] = field(default_factory=dict)
    made: dict[str, dict[str, Any]] = field(default_factory=dict)  # video_key -> {"seconds", "params"}
    failed: int = 0  # videos whose generation failed; each is stored as a failed row already


@dataclass
class ScorerSetup:
    """Which dimensions are ready to score, with what produced them, and why the others are not."""

    ready: dict[str, ScorerRecord] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)


@dataclass
class ScoringOutcome:
    scored: int = 0  # videos committed with their scores
    failed: int = 0  # videos committed as failed (unreadable, decode or replica failure)


class Executor(Protocol):
    """`local` (this process) and `ray` (a Ray cluster) implement it."""

    def generate(self, generator: Generator, items: list[VideoItem], record: Recorder) -> GenerationOutcome:
        """Make the videos of `items` (none on disk yet) at `item.path`; update each item's path."""
        ...

    def prepare(self, dimensions: dict[str, Dimension], keep_backends: dict[str, str], videos: int) -> ScorerSetup:
        """Load the dimensions' models where scoring runs (sized for `videos` videos to score). A
        dimension whose backend would differ from `keep_backends[name]` (the backend this run
        already stored scores of) is unavailable: backends never mix inside one run."""
        ...

    def score(self, todo: list[tuple[VideoItem, list[str]]], record: Recorder) -> ScoringOutcome:
        """Score each item on its prepared dimensions and commit it through `record`."""
        ...

    def close(self) -> None:
        """Free what the executor holds (Ray actors, a Ray session it started)."""
        ...


def backend_conflict(name: str, recorded: str | None, loaded: str) -> str | None:
    """The one-line reason a dimension may not score on: another backend than the stored scores'."""
    if recorded is None or recorded == loaded:
        return None
    return (f"{name}: this run was scored with backend {recorded}, which now resolves to {loaded}; "
            "pass --backend or choose a new --out")


# -- the rows an executor commits --------------------------------------------------------------------


def score_row(item: VideoItem, dimension: Dimension, result: VideoScore | str) -> ScoreRow:
    common: dict[str, Any] = dict(video_key=item.video_key, dimension=dimension.name, backend=dimension.backend,
                                  dimension_version=dimension.version)
    if isinstance(result, str):
        return ScoreRow(**common, status="failed", value=None, error=result)
    if result.skipped:
        return ScoreRow(**common, status="skipped", value=None, error=result.skipped)
    value = None if result.value is None else float(result.value)
    return ScoreRow(**common, status="ok", value=value, extra=_jsonable(result.extra))


def video_row(item: VideoItem, video: Video) -> VideoRow:
    return VideoRow(
        video_key=item.video_key, path=str(item.path), prompt_id=item.prompt_id,
        prompt=item.prompt, sample_index=item.sample_index, seed=item.seed, fps=video.fps,
        num_frames=video.num_frames, width=video.width, height=video.height,
    )


def failed_rows(item: VideoItem, names: list[str], reason: str) -> tuple[VideoRow, list[ScoreRow]]:
    """A video that could not be made or read: failed on each of its dimensions, with the reason."""
    video = VideoRow(
        video_key=item.video_key, path=str(item.path), prompt_id=item.prompt_id,
        prompt=item.prompt, sample_index=item.sample_index, seed=item.seed,
        status="failed", error=reason,
    )
    rows = [ScoreRow(video_key=item.video_key, dimension=name, backend="", dimension_version="",
                     status="failed", value=None, error=reason) for name in names]
    return video, rows


def _jsonable(extra: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(extra, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
