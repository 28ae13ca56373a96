"""Kernel choices measured once per host and remembered (`~/.vbl/kernel-routes.json`).

Which way of computing a layer is fastest depends on the CPU (its vector width, caches, memory),
so each backbone times the candidates on its own shapes the first time it loads on a machine and
keeps the fastest; the key names the CPU model, the PyTorch version, the thread count and the
shapes, so another machine, build or thread count measures again.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

TIMING_REPEATS = 5


def best_time(run: Callable[[], object], repeats: int = TIMING_REPEATS) -> float:
    """Seconds of the fastest of `repeats` calls, after one warm-up call (allocation, kernel pick)."""
    run()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def host_key(*parts: str) -> str:
    return "|".join([cpu_name(), torch.__version__, str(torch.get_num_threads()), *parts])


def cached_choice(key: str, choices: Sequence[str], measure: Callable[[], dict[str, float]]) -> str:
    """The remembered choice for `key`, else the fastest of `measure()` (seconds per choice), saved."""
    from vbench_lite.weights import vbl_home

    cache = vbl_home() / "kernel-routes.json"
    known = read_choices(cache)
    if known.get(key) not in choices:
        timings = measure()
        known[key] = min(timings, key=timings.__getitem__)
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(known, indent=1, sort_keys=True))
        except OSError:
            pass  # a read-only home: measure again next time
    return known[key]


def read_choices(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
