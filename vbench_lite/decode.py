"""Decoding in chunks: a video's frames arrive a few at a time, so memory does not grow with length.

`open_video(path)` reads only headers: the frame rate, the frame count and the frame size, which
is checked against MAX_FRAME_PIXELS before a single frame is decoded, for every input kind (mp4
and the other containers, GIF, a folder of frame images). `reader.chunks()` then yields uint8
[n, H, W, 3] RGB arrays in order, each of about CHUNK_BYTES.

Backends: PyAV by default, decord on request (`backend="decord"`, VBench's own reader). On h264
both give the bytes OpenCV's reader gives (tests/test_video.py), so every dimension sees the frames
VBench's code would see. PyAV is the default because its memory stays flat: on this project's
2-core AMD EPYC, streaming a 720p clip held 260 MB after 250 and after 750 frames, where decord's
reader (its decoding thread allocating the frames) grew to 0.9 and 1.2 GB. A truncated file yields
the frames that decode, as OpenCV and decord do. See docs/architecture.md,
"Decoding".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vbench_lite.errors import VideoUnreadable

VIDEO_SUFFIXES = {".mp4", ".webm", ".gif", ".mov", ".mkv", ".avi"}
FRAME_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
# A 4K clip of 129 frames is 3.2 GB of uint8 and ran VBench out of memory; frames above 2560x1440
# are refused with a hint to downscale, before any decoding.
MAX_FRAME_PIXELS = 2560 * 1440
MIN_FRAMES = 2  # every temporal formula needs at least one frame pair
CHUNK_BYTES = 64 * 1024**2  # one chunk of decoded frames: 10 frames of 1080p, 170 of 256x256
MAX_CHUNK_FRAMES = 64
DEFAULT_FOLDER_FPS = 8.0


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    num_frames: int  # as the container's index says; a damaged file may decode fewer
    height: int
    width: int

    @property
    def chunk_frames(self) -> int:
        return max(1, min(MAX_CHUNK_FRAMES, CHUNK_BYTES // max(1, self.height * self.width * 3)))


class VideoReader:
    """One video's frames, decoded chunk by chunk; `decoded` counts the frames yielded so far."""

    def __init__(self, path: Path, info: VideoInfo):
        self.path = path
        self.info = info
        self.decoded = 0

    def chunks(self) -> Iterator[np.ndarray]:
        batch: list[np.ndarray] = []
        for frame in self._frames():
            batch.append(frame)
            if len(batch) == self.info.chunk_frames:
                yield self._counted(batch)
                batch = []
        if batch:
            yield self._counted(batch)

    def _counted(self, batch: list[np.ndarray]) -> np.ndarray:
        chunk = np.stack(batch)
        self.decoded += len(chunk)
        return chunk

    def _frames(self) -> Iterator[np.ndarray]:
        raise NotImplementedError


def open_video(path: Path, backend: str = "auto") -> VideoReader:
    """A reader for `path` (file or frame folder); VideoUnreadable with a one-line reason if the
    headers are unreadable, the frames too large, or there are fewer than MIN_FRAMES."""
    path = Path(path)
    if path.is_dir():
        reader: VideoReader = _FolderReader.open(path)
    elif path.suffix.lower() == ".gif":
        reader = _GifReader.open(path)
    elif backend == "decord":
        reader = _DecordReader.open(path)
    else:
        reader = _PyAvReader.open(path)
    if reader.info.num_frames < MIN_FRAMES:
        raise VideoUnreadable(f"{reader.info.num_frames} frame(s) in the file; at least {MIN_FRAMES} are needed")
    return reader


def decode_video(path: Path, backend: str = "auto") -> tuple[np.ndarray, float]:
    """All frames of `path` at once, as uint8 [T, H, W, 3] RGB, and its frame rate (for short
    clips and tests; scoring streams through `open_video`)."""
    reader = open_video(path, backend)
    chunks = list(reader.chunks())
    if reader.decoded < MIN_FRAMES:
        raise VideoUnreadable(f"{reader.decoded} frame(s) decoded; at least {MIN_FRAMES} are needed")
    return np.concatenate(chunks), reader.info.fps


def check_frame_size(height: int, width: int, path: Path) -> None:
    if height * width > MAX_FRAME_PIXELS:
        raise VideoUnreadable(
            f"frame size {width}x{height} is above the 2560x1440 limit; "
            f"downscale it first, e.g. ffmpeg -i '{path.name}' -vf scale=-2:1080 out.mp4"
        )


def frame_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and p.is_file())


# -- containers (mp4, webm, mov, mkv, avi) ------------------------------------------------------------


class _PyAvReader(VideoReader):
    @classmethod
    def open(cls, path: Path) -> VideoReader:
        import av

        try:
            with av.open(str(path)) as container:
                if not container.streams.video:
                    raise VideoUnreadable("no video stream in the file")
                stream = container.streams.video[0]
                height, width = int(stream.codec_context.height), int(stream.codec_context.width)
                check_frame_size(height, width, path)
                rate = float(stream.average_rate or stream.guessed_rate or 0)
                count = int(stream.frames) or sum(1 for packet in container.demux(stream) if packet.size)
        except av.FFmpegError as error:
            raise VideoUnreadable(f"not a readable video ({error.strerror or error})") from None
        return cls(path, VideoInfo(rate, count, height, width))

    def _frames(self) -> Iterator[np.ndarray]:
        import av

        produced = 0
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for frame in container.decode(stream):
                    produced += 1
                    yield frame.to_ndarray(format="rgb24")
        except (av.FFmpegError, IndexError) as error:
            if not produced:
                raise VideoUnreadable(f"decode failed ({error})") from None
            # A truncated file: keep what decoded, as OpenCV and decord do.


class _DecordReader(VideoReader):
    @classmethod
    def open(cls, path: Path) -> VideoReader:
        import decord

        headers = _PyAvReader.open(path)  # the size check from the header, before decord decodes anything
        try:
            reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
        except decord.DECORDError:
            return headers  # decord gives up on truncated files that PyAV can still read up to the damage
        info = VideoInfo(float(reader.get_avg_fps()), len(reader), headers.info.height, headers.info.width)
        found = cls(path, info)
        found._reader = reader
        return found

    _reader: Any

    def _frames(self) -> Iterator[np.ndarray]:
        import decord

        # Other code in the process (VBench's ViCLIP reader) may switch decord to torch tensors.
        decord.bridge.set_bridge("native")
        for index in range(self.info.num_frames):
            try:
                frame = self._reader.next().asnumpy()
            except StopIteration:
                return
            except decord.DECORDError:
                # Damage decord cannot pass: PyAV reads on up to it (the same bytes on h264).
                rest = _PyAvReader(self.path, self.info)._frames()
                yield from (frame for position, frame in enumerate(rest) if position >= index)
                return
            yield frame


# -- GIF and frame folders -----------------------------------------------------------------------------


def _open_image(path: Path) -> Any:
    """PIL's lazy open (header only), with its decompression-bomb refusal as our size limit."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
    except Image.DecompressionBombError as error:
        raise VideoUnreadable(f"{path.name}: frames above the 2560x1440 limit ({error})") from None
    except (UnidentifiedImageError, OSError) as error:
        raise VideoUnreadable(f"not a readable image ({error})") from None
    check_frame_size(image.height, image.width, path)
    return image


class _GifReader(VideoReader):
    @classmethod
    def open(cls, path: Path) -> VideoReader:
        from PIL import ImageSequence

        with _open_image(path) as image:
            count = int(getattr(image, "n_frames", 1))
            # Frame durations live in each frame's header: reading them means visiting each frame.
            durations = [frame.info.get("duration", 100) or 100 for frame in ImageSequence.Iterator(image)]
            info = VideoInfo(1000.0 / float(np.mean(durations)), count, image.height, image.width)
        return cls(path, info)

    def _frames(self) -> Iterator[np.ndarray]:
        from PIL import ImageSequence, UnidentifiedImageError

        try:
            with _open_image(self.path) as image:
                for frame in ImageSequence.Iterator(image):
                    yield np.asarray(frame.convert("RGB"))
        except (UnidentifiedImageError, OSError) as error:
            raise VideoUnreadable(f"not a readable gif ({error})") from None


class _FolderReader(VideoReader):
    """Numbered frame images; fps from an optional `fps.json` ({"fps": 8}), else 8."""

    @classmethod
    def open(cls, folder: Path) -> VideoReader:
        files = frame_files(folder)
        if not files:
            raise VideoUnreadable("no frame images in the folder")
        with _open_image(files[0]) as first:
            height, width = first.height, first.width
        return cls(folder, VideoInfo(_folder_fps(folder), len(files), height, width))

    def _frames(self) -> Iterator[np.ndarray]:
        from PIL import UnidentifiedImageError

        shape = (self.info.height, self.info.width)
        for file in frame_files(self.path):
            try:
                with _open_image(file) as image:
                    if (image.height, image.width) != shape:
                        raise VideoUnreadable("frame images differ in size")
                    yield np.asarray(image.convert("RGB"))
            except (UnidentifiedImageError, OSError) as error:
                raise VideoUnreadable(f"unreadable frame image ({error})") from None


def _folder_fps(folder: Path) -> float:
    meta = folder / "fps.json"
    if not meta.exists():
        return DEFAULT_FOLDER_FPS
    try:
        fps = json.loads(meta.read_text(encoding="utf-8"))["fps"]
        if isinstance(fps, bool) or not isinstance(fps, int | float) or not 0 < fps < 1000:
            raise ValueError(fps)
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise VideoUnreadable('fps.json must hold {"fps": <frames per second>}; fix or remove it') from None
    return float(fps)
