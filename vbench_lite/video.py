"""Video I/O: decode once to uint8 [T, H, W, 3] RGB, VBench's frame samplers, and an mp4 writer.

Decoding uses decord where it is installed (VBench's own reader) and PyAV otherwise; on h264 both
give the same bytes as OpenCV's reader (tests/test_video.py checks it), so every dimension sees the
frames VBench's code would see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vbench_lite.errors import VideoUnreadable

VIDEO_SUFFIXES = {".mp4", ".webm", ".gif", ".mov", ".mkv", ".avi"}
FRAME_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}

# A 4K clip of 129 frames is 3.2 GB of uint8 and runs VBench out of memory (spec §13, #132);
# frames above 2560x1440 are refused with a hint to downscale rather than risk the whole run.
MAX_FRAME_PIXELS = 2560 * 1440
MIN_FRAMES = 2  # every temporal formula needs at least one frame pair


@dataclass
class Video:
    """One decoded video and what is known about where it came from."""

    frames: np.ndarray  # uint8 [T, H, W, 3], RGB
    fps: float
    path: Path
    prompt_id: str = ""
    prompt: str = ""
    sample_index: int = 0
    seed: int | None = None
    aux: dict[str, Any] = field(default_factory=dict)
    image: np.ndarray | None = None  # image-to-video conditioning image, uint8 [H, W, 3] RGB

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    def with_frames(self, frames: np.ndarray, fps: float | None = None) -> Video:
        """The same video with another frame selection (a view; nothing is copied)."""
        return Video(
            frames=frames,
            fps=self.fps if fps is None else fps,
            path=self.path,
            prompt_id=self.prompt_id,
            prompt=self.prompt,
            sample_index=self.sample_index,
            seed=self.seed,
            aux=self.aux,
            image=self.image,
        )


def is_video_path(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES or (path.is_dir() and _frame_files(path) != [])


def decode_video(path: Path, backend: str = "auto") -> tuple[np.ndarray, float]:
    """All frames of `path` as uint8 [T, H, W, 3] RGB, and its frame rate.

    Raises VideoUnreadable with a one-line reason for anything that cannot be scored.
    """
    path = Path(path)
    if path.is_dir():
        frames, fps = _decode_frame_folder(path)
    elif path.suffix.lower() == ".gif":
        frames, fps = _decode_gif(path)
    else:
        _check_frame_size(*_probe_size(path), path)
        use_decord = backend == "decord" or (backend == "auto" and _decord_available())
        frames, fps = _decode_decord(path) if use_decord else _decode_pyav(path)
    if frames.ndim != 4 or frames.shape[0] < MIN_FRAMES:
        count = 0 if frames.ndim != 4 else frames.shape[0]
        raise VideoUnreadable(f"{count} frame(s) decoded; at least {MIN_FRAMES} are needed")
    _check_frame_size(frames.shape[1], frames.shape[2], path)
    return frames, fps


def read_image(path: Path) -> np.ndarray:
    """An image-to-video conditioning image as uint8 [H, W, 3] RGB (grey or RGBA converted)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise VideoUnreadable(f"conditioning image {path} not found") from None
    except (UnidentifiedImageError, OSError) as error:
        raise VideoUnreadable(f"conditioning image {Path(path).name} is not readable ({error})") from None


def middle_indices(num_frames: int, k: int) -> list[int]:
    """VBench's "middle" uniform sampler (spec §2): the centre of each of min(k, L) equal segments.

    With fewer frames than k, the list is padded by repeating the last index, as VBench does.
    """
    segments = min(k, num_frames)
    bounds = np.linspace(0, num_frames, segments + 1).astype(int)
    indices = [int((bounds[j] + bounds[j + 1] - 1) // 2) for j in range(segments)]
    return indices + [indices[-1]] * (k - len(indices))


def fps_interval(fps: float, target_fps: float) -> int:
    """Frame step that brings `fps` to about `target_fps` (dynamic degree, spec §4.5)."""
    return max(1, round(fps / target_fps))


def write_mp4(path: Path, frames: np.ndarray, fps: float, crf: int = 18) -> Path:
    """Encode uint8 [T, H, W, 3] RGB frames as h264 mp4 (even sizes, yuv420p)."""
    import av

    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}")
    height, width = frames.shape[1] - frames.shape[1] % 2, frames.shape[2] - frames.shape[2] % 2
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    from fractions import Fraction

    with av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf)}
        for frame in frames:
            image = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:height, :width]))
            container.mux(stream.encode(image))
        container.mux(stream.encode())
    tmp.replace(path)
    return path


def _decord_available() -> bool:
    try:
        import decord  # noqa: F401
    except ImportError:
        return False
    return True


def _probe_size(path: Path) -> tuple[int, int]:
    """(height, width) from the container header, before any frame is decoded."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoUnreadable("no video stream in the file")
            ctx = container.streams.video[0].codec_context
            return int(ctx.height), int(ctx.width)
    except av.FFmpegError as error:
        raise VideoUnreadable(f"not a readable video ({error.strerror or error})") from None


def _check_frame_size(height: int, width: int, path: Path) -> None:
    if height * width > MAX_FRAME_PIXELS:
        raise VideoUnreadable(
            f"frame size {width}x{height} is above the 2560x1440 limit; "
            f"downscale it first, e.g. ffmpeg -i '{path.name}' -vf scale=-2:1080 out.mp4"
        )


def _decode_decord(path: Path) -> tuple[np.ndarray, float]:
    import decord

    # Other code in the process (VBench's ViCLIP reader) may switch decord to torch tensors.
    decord.bridge.set_bridge("native")
    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
        fps = float(reader.get_avg_fps())
        frames = reader.get_batch(list(range(len(reader)))).asnumpy()
    except decord.DECORDError as error:
        # decord gives up on truncated files that PyAV can still read up to the damage.
        try:
            return _decode_pyav(path)
        except VideoUnreadable:
            raise VideoUnreadable(f"decode failed ({str(error).splitlines()[0]})") from None
    return frames, fps


def _decode_pyav(path: Path) -> tuple[np.ndarray, float]:
    import av

    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate = stream.average_rate or stream.guessed_rate or 0
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
    except (av.FFmpegError, IndexError) as error:
        if not frames:
            raise VideoUnreadable(f"decode failed ({error})") from None
        # A truncated file: keep what decoded, as OpenCV and decord do.
    if not frames:
        return np.zeros((0, 0, 0, 3), np.uint8), 0.0
    return np.stack(frames), float(rate)


def _decode_gif(path: Path) -> tuple[np.ndarray, float]:
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            durations = []
            frames = []
            for frame in ImageSequence.Iterator(image):
                frames.append(np.asarray(frame.convert("RGB")))
                durations.append(frame.info.get("duration", 100) or 100)
    except (UnidentifiedImageError, OSError) as error:
        raise VideoUnreadable(f"not a readable gif ({error})") from None
    if not frames:
        return np.zeros((0, 0, 0, 3), np.uint8), 0.0
    return np.stack(frames), 1000.0 / float(np.mean(durations))


def _frame_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)


def _decode_frame_folder(folder: Path) -> tuple[np.ndarray, float]:
    """A folder of numbered frame images; fps from an optional `fps.json` ({"fps": 8}), else 8."""
    from PIL import Image, UnidentifiedImageError

    files = _frame_files(folder)
    try:
        frames = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    except (UnidentifiedImageError, OSError) as error:
        raise VideoUnreadable(f"unreadable frame image ({error})") from None
    if len({f.shape for f in frames}) > 1:
        raise VideoUnreadable("frame images differ in size")
    meta = folder / "fps.json"
    fps = float(json.loads(meta.read_text())["fps"]) if meta.exists() else 8.0
    if not frames:
        return np.zeros((0, 0, 0, 3), np.uint8), fps
    return np.stack(frames), fps
