"""VBench-Long: a long video is scored as short clips, and the clip scores are averaged back.

`vbl evaluate --long` follows VBench-Long's standard mode (`vbench2_beta_long`):

- Clip length: int(fps) × d frames, d = 10 s for human_action, temporal_style and
  overall_consistency and 2 s for every other dimension (`vbench_lite/data/vbench-long.toml`).
- Clips: consecutive, non-overlapping windows from frame 0; a remainder becomes one more clip made
  of the last int(fps) × d frames (overlapping the one before); a video shorter than one clip is
  one clip, whole.
- With `--long-split scenes`, the video is first cut at scene changes (PySceneDetect's
  ContentDetector at VBench-Long's threshold, 35), and each scene is split as above.
- A long video's score is the mean of its clips' scores (booleans as 0/1); the dimension's score
  is the mean over long videos (VBench-Long takes plain means here, not a dimension's own weighted
  aggregate).

Deviations, by design (docs/dimensions.md, "VBench-Long"): clips are frame-index ranges cut in
memory while the video streams by, not files re-encoded with x264 as VBench-Long writes them, so
the scores skip that second lossy encode; VBench-Long's `--dev_flag` slow-fast fusion of subject
and background consistency (DINOv2 and DreamSim clip-to-clip features) is not supported: ours is
VBench-Long without that flag, where the fused score is the in-clip score.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from vbench_lite.errors import InputError

SCENE_THRESHOLD = 35.0  # VBench-Long's ContentDetector threshold (its preprocess default)
Split = Literal["fixed", "scenes"]


@dataclass(frozen=True)
class LongMode:
    """How long videos are cut: clip seconds per dimension, and whether scene cuts come first."""

    split: Split = "fixed"

    def seconds(self, dimension: str) -> float:
        durations = clip_seconds()
        return durations.get(dimension, durations["default"])

    def clips(self, dimension: str, num_frames: int, fps: float, path: Path) -> list[tuple[int, int]]:
        """The [start, end) frame ranges `dimension` scores of a video."""
        length = max(1, int(fps) * int(self.seconds(dimension)))
        scenes = scene_ranges(path, num_frames) if self.split == "scenes" else [(0, num_frames)]
        return [clip for start, end in scenes for clip in fixed_clips(start, end, length)]


def fixed_clips(start: int, end: int, length: int) -> list[tuple[int, int]]:
    """VBench-Long's windows of `length` frames over [start, end), the remainder as an overlapping
    last window; a span shorter than one window is one clip, whole."""
    if end - start <= length:
        return [(start, end)]
    windows = [(s, s + length) for s in range(start, end - length + 1, length)]
    if windows[-1][1] < end:
        windows.append((end - length, end))
    return windows


def clip_seconds() -> dict[str, float]:
    text = (resources.files("vbench_lite") / "data" / "vbench-long.toml").read_text(encoding="utf-8")
    return {str(k): float(v) for k, v in tomllib.loads(text)["clip_seconds"].items()}


def scene_ranges(path: Path, num_frames: int) -> list[tuple[int, int]]:
    """Scenes of the video as [start, end) frame ranges (PySceneDetect, `pip install scenedetect`);
    the whole video is one scene when none is cut."""
    try:
        import scenedetect
    except ImportError:
        raise InputError("--long-split scenes needs PySceneDetect: pip install 'vbench-lite[long]'") from None
    scenes = scenedetect.detect(str(path), scenedetect.ContentDetector(threshold=SCENE_THRESHOLD))
    ranges = [(int(a.get_frames()), min(int(b.get_frames()), num_frames)) for a, b in scenes]
    return [r for r in ranges if r[1] > r[0]] or [(0, num_frames)]
