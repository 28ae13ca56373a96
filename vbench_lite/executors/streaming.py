"""Scoring videos as they decode: each video is decoded once, chunk by chunk, and every chunk goes
to every dimension, so memory stays flat whatever the video's length.

- A dimension that reads every frame streams: its `FrameConsumer` keeps what its formula needs
  (features, the previous frame) and scores the video after the last chunk.
- A dimension that reads a few sampled frames (VBench's "middle" sampler: 8 or 16 frames) gets
  exactly those frames, held while the video streams by, and scores them with `score_batch`,
  batched over `videos_per_batch` videos as before.
- A background thread decodes ahead (at most QUEUE_CHUNKS chunks), so decoding overlaps scoring.

Any failure is confined: a video that cannot be opened or decoded is a failed row for each of its
dimensions; a dimension that raises on a video is a failed row for that pair only. See
docs/architecture.md, "Decoding and scoring".
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from vbench_lite.decode import MIN_FRAMES, VideoReader, open_video
from vbench_lite.dimension import Dimension, FrameConsumer, VideoScore
from vbench_lite.errors import VideoUnreadable, one_line
from vbench_lite.executors.base import failed_rows, score_row
from vbench_lite.store import ScoreRow, VideoRow
from vbench_lite.video import Video, VideoMeta
from vbench_lite.worklist import VideoItem

QUEUE_CHUNKS = 2  # decoded chunks waiting for the scorers: bounds the memory decoding ahead uses
# Called after each chunk: (item, frames done, frames in the video).
FrameProgress = Callable[[VideoItem, int, int], None]


class HeldFrames:
    """The frames a sampling dimension selects (or, for a dimension that cannot stream yet, every
    frame), kept while the video streams by."""

    def __init__(self, dimension: Dimension, num_frames: int):
        self.dimension = dimension
        self.planned = num_frames
        self.indices = dimension.frames.indices(num_frames)
        self.kept: dict[int, np.ndarray] = {}
        self.chunks: list[np.ndarray] = []

    def feed(self, frames: np.ndarray, start: int) -> None:
        if self.indices is None:
            self.chunks.append(frames)
            return
        for index in self.indices:
            if start <= index < start + len(frames):
                self.kept[index] = frames[index - start]

    def video(self, meta: VideoMeta, decoded: int) -> Video:
        if self.indices is None:
            return meta.with_frames(np.concatenate(self.chunks))
        if decoded != self.planned:  # a damaged file decoded fewer frames than its header said
            indices = self.dimension.frames.indices(decoded) or []
            return meta.with_frames(open_video(meta.path).frames_at(indices))
        return meta.with_frames(np.stack([self.kept[i] for i in self.indices]))


@dataclass
class VideoPass:
    """One video on its way through the dimensions."""

    item: VideoItem
    meta: VideoMeta | None = None
    error: str | None = None  # the whole video failed (unreadable, too large, too short)
    decoded: int = 0
    streaming: dict[str, FrameConsumer] = field(default_factory=dict)
    held: dict[str, HeldFrames] = field(default_factory=dict)
    results: dict[str, VideoScore | str] = field(default_factory=dict)  # a str is a failure reason

    def start(self, meta: VideoMeta, names: list[str], dimensions: dict[str, Dimension]) -> None:
        self.meta = meta
        for name in names:
            dimension = dimensions[name]
            skip = dimension.skip_reason(meta)
            if skip:
                self.results[name] = VideoScore(None, skipped=skip)
                continue
            try:
                consumer = dimension.consumer(meta)
            except Exception as error:
                self.results[name] = one_line(error)
                continue
            if consumer is None:
                self.held[name] = HeldFrames(dimension, meta.num_frames)
            else:
                self.streaming[name] = consumer

    def feed(self, frames: np.ndarray, start: int) -> None:
        self.decoded = start + len(frames)
        for name, consumer in list(self.streaming.items()):
            try:
                consumer.feed(frames, start)
            except Exception as error:  # this dimension fails on this video; the others go on
                self.results[name] = one_line(error)
                del self.streaming[name]
        for held in self.held.values():
            held.feed(frames, start)

    def end(self) -> None:
        if self.error is None and self.decoded < MIN_FRAMES:
            self.error = f"{self.decoded} frame(s) decoded; at least {MIN_FRAMES} are needed"
        if self.error is not None:
            return
        for name, consumer in self.streaming.items():
            try:
                self.results[name] = consumer.finish()
            except Exception as error:
                self.results[name] = one_line(error)

    def held_video(self, name: str) -> Video | str:
        assert self.meta is not None
        try:
            return self.held[name].video(self.meta, self.decoded)
        except Exception as error:
            return one_line(error)

    def rows(self, names: list[str], dimensions: dict[str, Dimension]) -> tuple[VideoRow, list[ScoreRow]]:
        if self.error is not None or self.meta is None:
            return failed_rows(self.item, names, self.error or "not decoded")
        info = self.meta.info
        video = VideoRow(
            video_key=self.item.video_key, path=str(self.item.path), prompt_id=self.item.prompt_id,
            prompt=self.item.prompt, sample_index=self.item.sample_index, seed=self.item.seed, fps=info.fps,
            num_frames=self.decoded, width=info.width, height=info.height,
        )
        return video, [score_row(self.item, dimensions[n], self.results[n]) for n in names if n in self.results]


def score_videos(
    todo: list[tuple[VideoItem, list[str]]], dimensions: dict[str, Dimension], videos_per_batch: int,
    on_frames: FrameProgress | None = None,
) -> Iterator[tuple[VideoRow, list[ScoreRow]]]:
    """Each video of `todo` with its score rows, as soon as its batch is scored."""
    wanted = {item.video_key: [n for n in names if n in dimensions] for item, names in todo}
    batch: list[VideoPass] = []
    for video in streamed(todo, dimensions, on_frames):
        batch.append(video)
        if len(batch) >= videos_per_batch:
            yield from _finish_batch(batch, wanted, dimensions)
            batch = []
    if batch:
        yield from _finish_batch(batch, wanted, dimensions)


def streamed(
    todo: list[tuple[VideoItem, list[str]]], dimensions: dict[str, Dimension], on_frames: FrameProgress | None,
) -> Iterator[VideoPass]:
    """Every video decoded once, in chunks, its chunks fed to its dimensions as they arrive."""
    names = {item.video_key: [n for n in wanted if n in dimensions] for item, wanted in todo}
    for event in _decoded_ahead([item for item, _ in todo]):
        video, kind, payload = event
        if kind == "open":
            if isinstance(payload, str):
                video.error = payload
            else:
                meta = VideoMeta(path=video.item.path, info=payload.info, prompt_id=video.item.prompt_id,
                                 prompt=video.item.prompt, sample_index=video.item.sample_index,
                                 seed=video.item.seed, aux=video.item.aux)
                video.start(meta, names[video.item.video_key], dimensions)
        elif kind == "chunk":
            start, frames = payload
            video.feed(frames, start)
            if on_frames is not None and video.meta is not None:
                on_frames(video.item, video.decoded, video.meta.num_frames)
        else:  # "end": the video is decoded (payload: None, or why decoding failed)
            if payload is not None and video.error is None:
                video.error = payload
            video.end()
            yield video


def _decoded_ahead(items: list[VideoItem]) -> Iterator[tuple[VideoPass, str, object]]:
    """("open", reader | reason), ("chunk", (start, frames))…, ("end", None | reason) per video,
    decoded by a background thread at most QUEUE_CHUNKS chunks ahead of the consumer."""
    events: queue.Queue[tuple[VideoPass, str, object] | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
    stop = threading.Event()

    def put(event: tuple[VideoPass, str, object] | None) -> bool:
        while not stop.is_set():
            try:
                events.put(event, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def decode() -> None:
        for item in items:
            video = VideoPass(item)
            if not _decode_one(video, put):
                return
        put(None)

    worker = threading.Thread(target=decode, name="vbl-decode", daemon=True)
    worker.start()
    try:
        while (event := events.get()) is not None:
            yield event
    finally:
        stop.set()  # the consumer stopped early: let the decoder see it and end
        worker.join(timeout=5)


def _decode_one(video: VideoPass, put: Callable[[tuple[VideoPass, str, object] | None], bool]) -> bool:
    """Decode one video into events; False when the consumer went away."""
    try:
        reader: VideoReader | str = open_video(video.item.path)
    except VideoUnreadable as error:
        reader = str(error)
    except FileNotFoundError:
        reader = f"file not found: {video.item.path}"
    except Exception as error:  # a decoder bug or a malformed side file must not stop the run
        reader = f"cannot decode: {one_line(error)}"
    if not put((video, "open", reader)):
        return False
    failure = reader if isinstance(reader, str) else None
    if isinstance(reader, VideoReader):
        start = 0
        try:
            for chunk in reader.chunks():
                if not put((video, "chunk", (start, chunk))):
                    return False
                start += len(chunk)
        except VideoUnreadable as error:
            failure = str(error)
        except Exception as error:
            failure = f"cannot decode: {one_line(error)}"
    return put((video, "end", failure))


def _finish_batch(
    batch: list[VideoPass], wanted: dict[str, list[str]], dimensions: dict[str, Dimension]
) -> Iterator[tuple[VideoRow, list[ScoreRow]]]:
    """Score the held frames of the batch's videos, dimension by dimension, then emit each video."""
    for name, dimension in dimensions.items():
        inputs = []
        for video in batch:
            if video.error is None and name in video.held:
                selected = video.held_video(name)
                if isinstance(selected, str):
                    video.results[name] = selected
                else:
                    inputs.append((video, selected))
        for (video, _), result in zip(inputs, score_isolating_failures(dimension, inputs), strict=True):
            video.results[name] = result
    for video in batch:
        yield video.rows(wanted[video.item.video_key], dimensions)


def score_isolating_failures(dimension: Dimension, inputs: list[tuple[object, Video]]) -> list[VideoScore | str]:
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
