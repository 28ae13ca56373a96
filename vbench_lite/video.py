"""A video as the dimensions see it, VBench's frame samplers, and an mp4 writer.

`VideoMeta` is what is known before decoding (header and prompt); `Video` adds decoded uint8
[T, H, W, 3] RGB frames (a whole short clip, or the few frames a sampler selected). Decoding
itself, in chunks, is `vbench_lite.decode`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vbench_lite.decode import VideoInfo, decode_video
from vbench_lite.errors import VideoUnreadable

__all__ = ["Video", "VideoMeta", "decode_video", "fps_interval", "middle_indices", "read_image", "write_mp4"]


@dataclass
class VideoMeta:
    """One video before its frames are decoded: its header and where it came from."""

    path: Path
    info: VideoInfo
    prompt_id: str = ""
    prompt: str = ""
    sample_index: int = 0
    seed: int | None = None
    aux: dict[str, Any] = field(default_factory=dict)
    image: np.ndarray | None = None  # image-to-video conditioning image, uint8 [H, W, 3] RGB

    @property
    def fps(self) -> float:
        return self.info.fps

    @property
    def num_frames(self) -> int:
        return self.info.num_frames

    def with_frames(self, frames: np.ndarray) -> Video:
        return Video(frames=frames, fps=self.fps, path=self.path, prompt_id=self.prompt_id, prompt=self.prompt,
                     sample_index=self.sample_index, seed=self.seed, aux=self.aux, image=self.image)


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
    def meta(self) -> VideoMeta:
        info = VideoInfo(self.fps, self.num_frames, self.height, self.width)
        return VideoMeta(path=self.path, info=info, prompt_id=self.prompt_id, prompt=self.prompt,
                         sample_index=self.sample_index, seed=self.seed, aux=self.aux, image=self.image)

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
    """VBench's "middle" uniform sampler: the centre of each of min(k, L) equal segments
    (docs/dimensions.md, "Frame samplers").

    With fewer frames than k, the list is padded by repeating the last index, as VBench does.
    """
    segments = min(k, num_frames)
    bounds = np.linspace(0, num_frames, segments + 1).astype(int)
    indices = [int((bounds[j] + bounds[j + 1] - 1) // 2) for j in range(segments)]
    return indices + [indices[-1]] * (k - len(indices))


def fps_interval(fps: float, target_fps: float) -> int:
    """Frame step that brings `fps` to about `target_fps` (dynamic degree's ~8 fps)."""
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
