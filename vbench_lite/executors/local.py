"""The local executor: one process decodes each video once (in a background thread, so the next
video decodes while this one is scored), hands every dimension the frames it asks for, and
commits each video's rows in one transaction as soon as the video is done."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from vbench_lite.dimension import Dimension, VideoScore
from vbench_lite.errors import VblError, VideoUnreadable, WeightsMissing, one_line
from vbench_lite.executors.base import (
    ExecutorSettings,
    GenerationOutcome,
    Recorder,
    ScorerSetup,
    ScoringOutcome,
    backend_conflict,
    failed_rows,
    score_row,
    video_row,
)
from vbench_lite.generator import GenerationRequest, Generator
from vbench_lite.rundir import ScorerRecord
from vbench_lite.store import ScoreRow, VideoRow
from vbench_lite.video import Video, decode_video
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
        items = [item for item, _ in todo]
        wanted = {item.video_key: [n for n in names if n in self.dimensions] for item, names in todo}
        outcome = ScoringOutcome()
        with progress_bar(self.console) as progress:
            task = progress.add_task("scoring", total=len(items))
            batch: list[tuple[VideoItem, Video | str]] = []
            for position, (item, video) in enumerate(decoded_videos(items), start=1):
                batch.append((item, video))
                if len(batch) >= self.settings.videos_per_batch or position == len(items):
                    for video_record, rows in score_batch(batch, wanted, self.dimensions):
                        record(video_record, rows)
                        if video_record.status == "failed":
                            outcome.failed += 1
                        else:
                            outcome.scored += 1
                    progress.advance(task, len(batch))
                    batch = []
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


def load_video(item: VideoItem) -> Video | str:
    """The decoded video, or the one-line reason it cannot be scored (any failure: one bad file
    costs its own row, never the run)."""
    try:
        frames, fps = decode_video(item.path)
    except VideoUnreadable as error:
        return str(error)
    except FileNotFoundError:
        return f"file not found: {item.path}"
    except Exception as error:  # a decoder bug or a malformed side file must not stop the run
        return f"cannot decode: {one_line(error)}"
    return Video(frames=frames, fps=fps, path=item.path, prompt_id=item.prompt_id, prompt=item.prompt,
                 sample_index=item.sample_index, seed=item.seed, aux=item.aux)


def decoded_videos(items: list[VideoItem]) -> Iterator[tuple[VideoItem, Video | str]]:
    """Decode in a background thread so the next video decodes while this one is scored."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        futures = [pool.submit(load_video, items[0])] if items else []
        for index, item in enumerate(items):
            if index + 1 < len(items):
                futures.append(pool.submit(load_video, items[index + 1]))
            yield item, futures[index].result()
            futures[index] = None  # type: ignore[call-overload]  # free the frames


def score_batch(
    batch: list[tuple[VideoItem, Video | str]], wanted: dict[str, list[str]], dimensions: dict[str, Dimension],
) -> list[tuple[VideoRow, list[ScoreRow]]]:
    """Each video of the batch with its score rows (failed rows for a video that did not decode)."""
    rows: dict[str, list[ScoreRow]] = {item.video_key: [] for item, _ in batch}
    for name, dimension in dimensions.items():
        inputs = []
        for item, video in batch:
            if name not in wanted[item.video_key] or isinstance(video, str):
                continue
            skip = dimension.skip_reason(video)
            if skip:
                rows[item.video_key].append(score_row(item, dimension, VideoScore(None, skipped=skip)))
            else:
                inputs.append((item, dimension.frames.select(video)))
        for (item, _), result in zip(inputs, score_isolating_failures(dimension, inputs), strict=True):
            rows[item.video_key].append(score_row(item, dimension, result))
    done = []
    for item, video in batch:
        if isinstance(video, str):
            done.append(failed_rows(item, wanted[item.video_key], video))
        else:
            done.append((video_row(item, video), rows[item.video_key]))
    return done


def score_isolating_failures(
    dimension: Dimension, inputs: list[tuple[VideoItem, Video]]
) -> list[VideoScore | str]:
    """Score a batch; if it raises, score one by one so one bad video costs only its own row."""
    if not inputs:
        return []
    try:
        results: list[VideoScore | str] = list(dimension.score_batch([v for _, v in inputs]))
        if len(results) != len(inputs):
            raise RuntimeError(f"returned {len(results)} scores for {len(inputs)} videos")
        return results
    except Exception as error:
        if len(inputs) == 1:
            return [one_line(error)]
    return [score_isolating_failures(dimension, [one])[0] for one in inputs]


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, disable=not console.is_terminal, transient=False,
    )
