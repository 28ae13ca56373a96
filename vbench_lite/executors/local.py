"""The local executor: this process generates, then scores each video as it decodes (once, in
chunks, in a background thread; `executors.streaming`), and commits each video's rows in one
transaction as soon as the video is done."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from vbench_lite.dimension import Dimension
from vbench_lite.errors import VblError, WeightsMissing
from vbench_lite.executors.base import (
    ExecutorSettings,
    GenerationOutcome,
    Recorder,
    ScorerSetup,
    ScoringOutcome,
    backend_conflict,
    failed_rows,
)
from vbench_lite.executors.streaming import score_videos
from vbench_lite.generator import GenerationRequest, Generator
from vbench_lite.rundir import ScorerRecord
from vbench_lite.worklist import VideoItem


class LocalExecutor:
    def __init__(self, settings: ExecutorSettings, console: Console):
        self.settings = settings
        self.console = console
        self.dimensions: dict[str, Dimension] = {}

    def generate(self, generator: Generator, items: list[VideoItem], record: Recorder) -> GenerationOutcome:
        generator.load(self.settings.device, "auto", self.settings.generator_weights)
        outcome = GenerationOutcome(provenance=generator.provenance())
        try:
            with progress_bar(self.console) as progress:
                task = progress.add_task("generating", total=len(items))
                for item in items:
                    (result,) = generator.generate([generation_request(item)])
                    if result.path is not None:
                        item.path = result.path
                        outcome.made[item.video_key] = {"seconds": round(result.seconds, 3), "params": result.params}
                    else:
                        record(*failed_rows(item, item.dimensions, result.error or "generation failed"))
                        outcome.failed += 1
                    progress.advance(task)
        finally:
            generator.close()
        return outcome

    def prepare(self, dimensions: dict[str, Dimension], keep_backends: dict[str, str], videos: int) -> ScorerSetup:
        """Set each dimension up here (models load once, through the shared backbone cache)."""
        setup = ScorerSetup()
        for name, dimension in dimensions.items():
            try:
                dimension.check_weights()  # WeightsMissing names the file and where it goes
                dimension.setup()
            except VblError as error:
                setup.unavailable[name] = unavailable_message(dimension, error)
                continue
            conflict = backend_conflict(name, keep_backends.get(name), dimension.backend)
            if conflict:
                setup.unavailable[name] = conflict
                continue
            setup.ready[name] = scorer_record(dimension)
            self.dimensions[name] = dimension
        return setup

    def score(self, todo: list[tuple[VideoItem, list[str]]], record: Recorder) -> ScoringOutcome:
        outcome = ScoringOutcome()
        with progress_bar(self.console) as progress:
            videos = progress.add_task("scoring", total=len(todo))
            frames = progress.add_task("frames", total=None, visible=False)

            def on_frames(item: VideoItem, done: int, total: int) -> None:
                # A bar per video in frames: a long video shows it is moving, not only the count.
                progress.update(frames, completed=done, total=total, visible=True,
                                description=f"frames of {item.path.name}"[:60])

            batch = self.settings.videos_per_batch
            for video, rows in score_videos(todo, self.dimensions, batch, on_frames, self.settings.long):
                record(video, rows)
                if video.status == "failed":
                    outcome.failed += 1
                else:
                    outcome.scored += 1
                progress.advance(videos)
        return outcome

    def close(self) -> None:
        self.dimensions.clear()


def generation_request(item: VideoItem) -> GenerationRequest:
    return GenerationRequest(
        prompt_id=item.prompt_id, prompt=item.prompt, sample_index=item.sample_index,
        seed=item.seed or 0, out_path=item.path, image=Path(item.image) if item.image else None,
    )


def scorer_record(dimension: Dimension) -> ScorerRecord:
    return ScorerRecord(
        version=dimension.version, backend=dimension.backend, weights_sha256=dimension.weights_sha256(),
        group=dimension.group, value_scale=dimension.video_value_scale,
    )


def unavailable_message(dimension: Dimension, error: VblError) -> str:
    message = str(error) if str(error).startswith(dimension.name) else f"{dimension.name}: {error}"
    if isinstance(error, WeightsMissing) and any(b != "vbench" for b in dimension.backends):
        message += "; or use --backend embedded, which needs no download"
    return message


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, disable=not console.is_terminal, transient=False,
    )
