"""Scoring videos as they decode: each video is decoded once, chunk by chunk, and every chunk goes
to every dimension, so memory stays flat whatever the video's length.

- A dimension that reads every frame streams: its `FrameConsumer` keeps what its formula needs
  (features, the previous frame) and scores the video after the last chunk.
- A dimension that reads a few sampled frames (VBench's "middle" sampler: 8 or 16 frames) gets
  exactly those frames, held while the video streams by, and scores them with `score_batch`,
  batched over `videos_per_batch` videos.
- In VBench-Long mode (`--long`) each dimension scores clips of the video (frame ranges, see
  `vbench_lite.long_video`) the same way, and a video's score is the mean of its clips'.
- After each chunk the C heap's free pages go back to the system (`vbench_lite.heap`): without
  it, a long 1080p video's peak memory crept up with its length.
- A background thread decodes ahead (at most QUEUE_CHUNKS chunks), so decoding overlaps scoring.
  When a damaged file decodes fewer frames than its header promised, the thread decodes it again
  under the true count, so samplers and clips see what a whole-video decode would.

Any failure is confined: a video that cannot be opened or decoded is a failed row for each of its
dimensions; a dimension that raises on a video is a failed row for that pair only. See
docs/architecture.md, "Decoding and scoring".
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vbench_lite.decode import MIN_FRAMES, VideoInfo, VideoReader, open_video
from vbench_lite.dimension import Dimension, FrameConsumer, VideoScore
from vbench_lite.errors import VideoUnreadable, one_line
from vbench_lite.executors.base import failed_rows, score_row
from vbench_lite.heap import release_free_heap
from vbench_lite.long_video import LongMode
from vbench_lite.store import ScoreRow, VideoRow
from vbench_lite.video import Video, VideoMeta, read_image
from vbench_lite.worklist import VideoItem

QUEUE_CHUNKS = 2  # decoded chunks waiting for the scorers: bounds the memory decoding ahead uses
# Called after each chunk: (item, frames done, frames in the video).
FrameProgress = Callable[[VideoItem, int, int], None]


class HeldFrames:
    """The frames a sampling dimension selects from one clip (or, for a dimension that does not
    stream, every frame of it), kept while the video streams by."""

    def __init__(self, dimension: Dimension, length: int):
        self.indices = dimension.frames.indices(length)
        self.kept: dict[int, np.ndarray] = {}
        self.chunks: list[np.ndarray] = []

    def feed(self, frames: np.ndarray, start: int) -> None:
        if self.indices is None:
            self.chunks.append(frames)
            return
        for index in self.indices:
            if start <= index < start + len(frames):
                self.kept[index] = frames[index - start]

    def frames(self) -> np.ndarray:
        if self.indices is None:
            return np.concatenate(self.chunks)
        return np.stack([self.kept[i] for i in self.indices])


@dataclass
class Part:
    """One dimension's view of one clip [start, end) of the video (the whole video outside --long)."""

    start: int
    end: int
    scorer: FrameConsumer | HeldFrames
    result: VideoScore | str | None = None  # a str is a failure reason

    def feed(self, frames: np.ndarray, first: int) -> None:
        low, high = max(first, self.start), min(first + len(frames), self.end)
        if low < high:
            self.scorer.feed(frames[low - first : high - first], low - self.start)


@dataclass
class VideoPass:
    """One video on its way through the dimensions."""

    item: VideoItem
    meta: VideoMeta | None = None
    error: str | None = None  # the whole video failed (unreadable, too large, too short)
    decoded: int = 0
    parts: dict[str, list[Part]] = field(default_factory=dict)
    results: dict[str, VideoScore | str] = field(default_factory=dict)  # a str is a failure reason

    def start(self, meta: VideoMeta, names: list[str], dimensions: dict[str, Dimension], long: LongMode | None,
              image_error: str | None = None) -> None:
        self.meta, self.parts, self.results, self.decoded = meta, {}, {}, 0
        for name in names:
            dimension = dimensions[name]
            if image_error is not None and dimension.needs_image:  # the other dimensions go on
                self.results[name] = image_error
                continue
            skip = dimension.skip_reason(meta)
            if skip:
                self.results[name] = VideoScore(None, skipped=skip)
                continue
            clips = [(0, meta.num_frames)]
            if long is not None:
                clips = long.clips(name, meta.num_frames, meta.fps, meta.path)
            try:
                self.parts[name] = [Part(a, b, self._scorer(dimension, meta, a, b)) for a, b in clips]
            except Exception as error:
                self.results[name] = one_line(error)

    @staticmethod
    def _scorer(dimension: Dimension, meta: VideoMeta, start: int, end: int) -> FrameConsumer | HeldFrames:
        clip = meta if (start, end) == (0, meta.num_frames) else dataclasses.replace(
            meta, info=dataclasses.replace(meta.info, num_frames=end - start))
        return dimension.consumer(clip) or HeldFrames(dimension, end - start)

    def feed(self, frames: np.ndarray, start: int) -> None:
        self.decoded = start + len(frames)
        for name, parts in list(self.parts.items()):
            try:
                for part in parts:
                    part.feed(frames, start)
            except Exception as error:  # this dimension fails on this video; the others go on
                self.results[name] = one_line(error)
                del self.parts[name]

    def end(self) -> None:
        if self.error is None and self.decoded < MIN_FRAMES:
            self.error = f"{self.decoded} frame(s) decoded; at least {MIN_FRAMES} are needed"
        if self.error is not None:
            return
        for parts in self.parts.values():
            for part in parts:
                if isinstance(part.scorer, FrameConsumer):
                    try:
                        part.result = part.scorer.finish()
                    except Exception as error:
                        part.result = one_line(error)

    def held(self, name: str) -> list[tuple[Part, Video]]:
        """The held parts of a dimension with their frames (a part that cannot be assembled fails)."""
        assert self.meta is not None
        found = []
        for part in self.parts.get(name, []):
            if isinstance(part.scorer, HeldFrames):
                try:
                    found.append((part, self.meta.with_frames(part.scorer.frames())))
                except Exception as error:
                    part.result = one_line(error)
        return found

    def combine(self) -> None:
        """Each dimension's result from its parts: the part's own, or the mean over clips."""
        for name, parts in self.parts.items():
            if name in self.results:
                continue
            if len(parts) == 1:
                self.results[name] = parts[0].result or "not scored"
            else:
                self.results[name] = clip_mean(parts)

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


def clip_mean(parts: list[Part]) -> VideoScore | str:
    """VBench-Long's long-video score: the mean of its clips' values (booleans as 0/1); clips
    without a value (skipped or failed) do not count, and each clip is kept in `extra`."""
    clips, values = [], []
    for part in parts:
        result = part.result
        entry: dict[str, object] = {"start": part.start, "end": part.end}
        if isinstance(result, VideoScore) and result.value is not None and not result.skipped:
            values.append(float(result.value))
            entry["value"] = float(result.value)
        else:
            entry["error"] = result if isinstance(result, str) else (result.skipped if result else "not scored")
        clips.append(entry)
    if not values:
        reasons = {str(c.get("error")) for c in clips}
        return f"no clip could be scored ({'; '.join(sorted(reasons))[:200]})"
    return VideoScore(value=float(np.mean(values)), extra={"clips": clips})


def score_videos(
    todo: list[tuple[VideoItem, list[str]]], dimensions: dict[str, Dimension], videos_per_batch: int,
    on_frames: FrameProgress | None = None, long: LongMode | None = None,
) -> Iterator[tuple[VideoRow, list[ScoreRow]]]:
    """Each video of `todo` with its score rows, as soon as its batch is scored."""
    wanted = {item.video_key: [n for n in names if n in dimensions] for item, names in todo}
    batch: list[VideoPass] = []
    for video in streamed(todo, dimensions, on_frames, long):
        batch.append(video)
        if len(batch) >= videos_per_batch:
            yield from _finish_batch(batch, wanted, dimensions)
            batch = []
    if batch:
        yield from _finish_batch(batch, wanted, dimensions)


def streamed(
    todo: list[tuple[VideoItem, list[str]]], dimensions: dict[str, Dimension], on_frames: FrameProgress | None,
    long: LongMode | None = None,
) -> Iterator[VideoPass]:
    """Every video decoded once, in chunks, its chunks fed to its dimensions as they arrive."""
    names = {item.video_key: [n for n in wanted if n in dimensions] for item, wanted in todo}
    for video, kind, payload in _decoded_ahead([item for item, _ in todo]):
        if kind == "open":  # also sent again, with the true frame count, to start over
            if isinstance(payload, str):
                video.error = payload
            else:
                assert isinstance(payload, VideoInfo)
                item = video.item
                image, image_error = _conditioning_image(item)
                meta = VideoMeta(path=item.path, info=payload, prompt_id=item.prompt_id, prompt=item.prompt,
                                 sample_index=item.sample_index, seed=item.seed, aux=item.aux, image=image)
                video.start(meta, names[item.video_key], dimensions, long, image_error)
        elif kind == "chunk":
            assert isinstance(payload, tuple)
            video.feed(payload[1], payload[0])
            release_free_heap()  # what this chunk freed must not pile up over a long video
            if on_frames is not None and video.meta is not None:
                on_frames(video.item, video.decoded, video.meta.num_frames)
        else:  # "end": the video is decoded (payload: None, or why decoding failed)
            if payload is not None and video.error is None:
                video.error = str(payload)
            video.end()
            yield video


def _conditioning_image(item: VideoItem) -> tuple[np.ndarray | None, str | None]:
    """The item's image-to-video conditioning image, or why it cannot be read."""
    if not item.image:
        return None, None
    try:
        return read_image(Path(item.image)), None
    except VideoUnreadable as error:
        return None, str(error)


def _decoded_ahead(items: list[VideoItem]) -> Iterator[tuple[VideoPass, str, object]]:
    """("open", info | reason), ("chunk", (start, frames))…, ("end", None | reason) per video,
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
            if not _decode_one(VideoPass(item), put):
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
        reader = open_video(video.item.path)
    except VideoUnreadable as error:
        return put((video, "open", str(error))) and put((video, "end", None))
    except FileNotFoundError:
        return put((video, "open", f"file not found: {video.item.path}")) and put((video, "end", None))
    except Exception as error:  # a decoder bug or a malformed side file must not stop the run
        return put((video, "open", f"cannot decode: {one_line(error)}")) and put((video, "end", None))
    info = reader.info
    for _ in range(2):  # a second pass only when the header's frame count was wrong
        if not put((video, "open", info)):
            return False
        failure, count = _chunks(reader, video, put)
        if failure is False:
            return False
        if failure is not None or count == info.num_frames or count < MIN_FRAMES:
            break
        info = dataclasses.replace(info, num_frames=count)
        reader = open_video(video.item.path)
    return put((video, "end", failure))


def _chunks(reader: VideoReader, video: VideoPass, put: Callable[..., bool]) -> tuple[str | None | bool, int]:
    """Send the reader's chunks; (why decoding failed or None, frames sent), or (False, _) to stop."""
    start = 0
    try:
        for chunk in reader.chunks():
            if not put((video, "chunk", (start, chunk))):
                return False, start
            start += len(chunk)
    except VideoUnreadable as error:
        return str(error), start
    except Exception as error:
        return f"cannot decode: {one_line(error)}", start
    return None, start


def _finish_batch(
    batch: list[VideoPass], wanted: dict[str, list[str]], dimensions: dict[str, Dimension]
) -> Iterator[tuple[VideoRow, list[ScoreRow]]]:
    """Score the held frames of the batch's videos, dimension by dimension, then emit each video."""
    for name, dimension in dimensions.items():
        inputs = [(part, frames) for video in batch if video.error is None for part, frames in video.held(name)]
        for (part, _), result in zip(inputs, score_isolating_failures(dimension, inputs), strict=True):
            part.result = result
    for video in batch:
        if video.error is None:
            video.combine()
        yield video.rows(wanted[video.item.video_key], dimensions)


def score_isolating_failures(dimension: Dimension, inputs: Sequence[tuple[object, Video]]) -> list[VideoScore | str]:
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
