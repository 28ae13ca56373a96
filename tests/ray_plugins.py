"""Test dimensions and a generator for the Ray executor's tests. They live in an importable module
(not a test file) because Ray replicas are other processes that import a plugin by `module:Class`.

Replicas cannot append to a list in the test process, so these plugins leave their traces in
files named by the run's options (`--option` / `--model-option key=value`), which every
replica receives.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import ClassVar

from vbench_lite.dimension import Dimension, FrameNeeds, Option, VideoScore
from vbench_lite.generator import GeneratedVideo, GenerationRequest, Generator
from vbench_lite.video import Video

SCORED_LOG = "scored_log"  # option: a file that gets one line per video a dimension scored
CRASH_ON = "crash_on"  # option: a text in a video path that makes `crashy` kill its process
CRASH_TIMES = "crash_times"  # option: how many times it does so (then it scores normally)
CRASH_COUNT = "crash_count"  # option: the file that counts the crashes so far, across processes
CRASH_IN_SETUP = "crash_in_setup"  # option: kill the process while "loading models", every time


def _text(value: object) -> str:
    return str(value)


def _append_line(path: str, line: str) -> None:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # several replicas write at once
        handle.write(line + "\n")


class MeanBrightness(Dimension):
    """Mean pixel value of the 8 "middle" frames, scaled to [0, 1]; logs each video it scores."""

    name: ClassVar[str] = "mean_brightness"
    version: ClassVar[str] = "1"
    group: ClassVar = "extra"
    frames: ClassVar[FrameNeeds] = FrameNeeds(mode="middle", count=8)
    backends: ClassVar[tuple[str, ...]] = ("embedded", "plain")
    options: ClassVar[tuple[Option, ...]] = (Option(SCORED_LOG, _text),)

    def setup(self) -> None:
        # As some first-party dimensions do: a per-dimension option the driver's
        # `resolve_backend()` knows nothing of picks the backend at setup.
        self.backend = str(self.context.options.get("mean_brightness.backend", self.resolve_backend()))

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        log = self.context.options.get(SCORED_LOG)
        for video in videos:
            if log:
                _append_line(log, f"{self.name}\t{video.path}\t{os.getpid()}")
        return [VideoScore(value=float(v.frames.mean() / 255), extra={"frames": v.num_frames}) for v in videos]


class Crashy(Dimension):
    """Kills its own process (as a segfault or an OOM kill would) on chosen videos, a few times."""

    name: ClassVar[str] = "crashy"
    version: ClassVar[str] = "1"
    group: ClassVar = "extra"
    backends: ClassVar[tuple[str, ...]] = ("embedded",)
    options: ClassVar[tuple[Option, ...]] = tuple(
        Option(key, lambda value: value) for key in (CRASH_ON, CRASH_TIMES, CRASH_COUNT, CRASH_IN_SETUP)
    )

    def setup(self) -> None:
        if self.context.options.get(CRASH_IN_SETUP):
            os._exit(1)

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        options = self.context.options
        for video in videos:
            if options.get(CRASH_ON) and options[CRASH_ON] in str(video.path):
                counter = Path(options[CRASH_COUNT])
                crashes = len(counter.read_text().splitlines()) if counter.exists() else 0
                if crashes < int(options.get(CRASH_TIMES, 1)):
                    _append_line(str(counter), str(video.path))
                    os._exit(1)
        return [VideoScore(value=float(v.num_frames)) for v in videos]


class CopyingGenerator(Generator):
    """"Generates" by copying a real clip to the requested path, atomically as real generators
    write; logs each video it makes, so a test can tell what was generated twice."""

    name: ClassVar[str] = "copying"
    task: ClassVar = "t2v"

    def load(self, device: str, dtype: str, weights: Path | None) -> None:
        self.source = Path(self.options["source"])

    def generate(self, requests: list[GenerationRequest]) -> list[GeneratedVideo]:
        results = []
        for request in requests:
            request.out_path.parent.mkdir(parents=True, exist_ok=True)
            partial = request.out_path.with_name(f".{request.out_path.name}.partial")
            shutil.copyfile(self.source, partial)
            os.replace(partial, request.out_path)  # an mp4 appears only once complete
            _append_line(self.options["generated_log"], str(request.out_path))
            results.append(GeneratedVideo(request=request, path=request.out_path))
        return results
