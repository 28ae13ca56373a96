"""The local executor: one process decodes each video once (in a background thread, so the next
video decodes while this one is scored), hands every dimension the frames it asks for, and
commits each video's rows in one transaction as soon as the video is done."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from vbench_lite.dimension import Dimension, VideoScore
from vbench_lite.errors import VideoUnreadable
from vbench_lite.store import ResultStore, ScoreRow, VideoRow
from vbench_lite.video import Video, decode_video, read_image
from vbench_lite.worklist import VideoItem


def decoded_videos(items: list[VideoItem]) -> Iterator[tuple[VideoItem, Video | str]]:
    """Decode in a background thread so the next video decodes while this one is scored."""

    def load(item: VideoItem) -> Video | str:
        try:
            frames, fps = decode_video(item.path)
            image = read_image(Path(item.image)) if item.image else None
        except VideoUnreadable as error:
            return str(error)
        except FileNotFoundError:
            return f"file not found: {item.path}"
        return Video(frames=frames, fps=fps, path=item.path, prompt_id=item.prompt_id,
                     prompt=item.prompt, sample_index=item.sample_index, seed=item.seed,
                     aux=item.aux, image=image)

    with ThreadPoolExecutor(max_workers=1) as pool:
        futures = [pool.submit(load, items[0])] if items else []
        for index, item in enumerate(items):
            if index + 1 < len(items):
                futures.append(pool.submit(load, items[index + 1]))
            yield item, futures[index].result()
            futures[index] = None  # type: ignore[call-overload]  # free the frames


def score_locally(
    todo: list[tuple[VideoItem, list[str]]], dimensions: dict[str, Dimension],
    store: ResultStore, run_id: str, videos_per_batch: int, console: Console,
) -> None:
    items = [item for item, _ in todo]
    wanted = {item.video_key: names for item, names in todo}
    with progress_bar(console) as progress:
        task = progress.add_task("scoring", total=len(items))
        batch: list[tuple[VideoItem, Video | str]] = []
        for item, video in decoded_videos(items):
            batch.append((item, video))
            if len(batch) >= videos_per_batch:
                score_batch(batch, wanted, dimensions, store, run_id)
                progress.advance(task, len(batch))
                batch = []
        if batch:
            score_batch(batch, wanted, dimensions, store, run_id)
            progress.advance(task, len(batch))


def score_batch(
    batch: list[tuple[VideoItem, Video | str]], wanted: dict[str, list[str]],
    dimensions: dict[str, Dimension], store: ResultStore, run_id: str,
) -> None:
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
    for item, video in batch:
        if isinstance(video, str):
            record_failure(store, run_id, item, wanted[item.video_key], video)
            continue
        store.record_video(run_id, video_row(item, video), rows[item.video_key])


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
            return [_describe(error)]
    return [score_isolating_failures(dimension, [one])[0] for one in inputs]


def _describe(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def score_row(item: VideoItem, dimension: Dimension, result: VideoScore | str) -> ScoreRow:
    common: dict[str, Any] = dict(video_key=item.video_key, dimension=dimension.name, backend=dimension.backend,
                                  dimension_version=dimension.version)
    if isinstance(result, str):
        return ScoreRow(**common, status="failed", value=None, error=result)
    if result.skipped:
        return ScoreRow(**common, status="skipped", value=None, error=result.skipped)
    value = None if result.value is None else float(result.value)
    return ScoreRow(**common, status="ok", value=value, extra=_jsonable(result.extra))


def _jsonable(extra: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(extra, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def video_row(item: VideoItem, video: Video) -> VideoRow:
    return VideoRow(
        video_key=item.video_key, path=str(item.path), prompt_id=item.prompt_id,
        prompt=item.prompt, sample_index=item.sample_index, seed=item.seed, fps=video.fps,
        num_frames=video.num_frames, width=video.width, height=video.height,
    )


def record_failure(
    store: ResultStore, run_id: str, item: VideoItem, names: list[str], reason: str
) -> None:
    video = VideoRow(
        video_key=item.video_key, path=str(item.path), prompt_id=item.prompt_id,
        prompt=item.prompt, sample_index=item.sample_index, seed=item.seed,
        status="failed", error=reason,
    )
    rows = [ScoreRow(video_key=item.video_key, dimension=name, backend="", dimension_version="",
                     status="failed", value=None, error=reason) for name in names]
    store.record_video(run_id, video, rows)


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, disable=not console.is_terminal, transient=False,
    )
