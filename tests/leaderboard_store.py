"""A small real results store for the leaderboard tests, written through `ResultStore`'s own API.

Runs (all on suite "vbl-mini", scheme vbench-v1, 16 VBench dimensions, 4 prompts x 2 samples):

- alpha @ ckpt-1000, alpha @ ckpt-2000 (better everywhere by +0.02), beta @ v1 (worse): vbench backends;
- gamma @ v1: temporal_flickering scored by an embedded backend ("mixed" backend kind);
- delta @ wip: status "running", only half its videos scored (a half-written run).

Per-video values are deterministic, so the tests can compute expected numbers by hand; aggregates
go through `vbench_lite.aggregate` exactly as the runner stores them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vbench_lite.aggregate import aggregate, load_scheme
from vbench_lite.store import AggregateRow, ResultStore, ScoreRow, VideoRow

PROMPTS = ["a cat", "a dog", "a red car", "waves at dusk"]
SAMPLES = 2
SUITE = {"name": "vbl-mini", "version": "1", "sha256": "ab" * 32}
BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def value_for(dim_index: int, prompt_index: int, sample: int, offset: float) -> float:
    """A plausible raw score in [0.55, 0.95] that varies by dimension, prompt and sample."""
    return 0.6 + 0.02 * dim_index % 0.3 + 0.03 * prompt_index + 0.01 * sample + offset


def manifest(
    run_id: str, model: str, revision: str, backends: dict[str, str], status: str, day: int,
    start: datetime = BASE_TIME,
) -> dict:
    scheme = load_scheme()
    return {
        "schema_version": 1,
        "run_id": run_id,
        "created_at": (start + timedelta(days=day)).isoformat(),
        "status": status,
        "vbl": {"version": "0.1.0", "git_sha": "0123456789abcdef0123"},
        "model": {"name": model, "revision": revision, "weights_sha256": f"{model}-{revision}-sha", "task": "t2v"},
        "config": {"dims": list(backends)},
        "config_hash": f"cfg-{model}-{revision}",
        "prompt_suite": SUITE,
        "aggregation": {"name": scheme.name, "version": scheme.version},
        "dimensions": {
            d: {"version": "1", "backend": b, "weights_sha256": f"w-{d}", "group": scheme.dims[d].group}
            for d, b in backends.items()
        },
        "environment": {"python": "3.11.7", "torch": "2.14.1", "device": "cpu", "dtype": "float32", "host": "ci"},
        "seeds": {f"{p}-{s}.mp4": s for p in PROMPTS for s in range(SAMPLES)},
        "sampled_by": "team-a",
        "evaluated_by": "vbl-ci",
        "run_dir": f"runs/{run_id}",
    }


def add_run(
    store: ResultStore,
    run_id: str,
    model: str,
    revision: str,
    offset: float,
    day: int,
    backends: dict[str, str] | None = None,
    finish: bool = True,
    video_root: Path | None = None,
    dims: list[str] | None = None,
    prompt_offsets: list[float] | None = None,
    prompts: list[str] | None = None,
    start: datetime = BASE_TIME,
    **manifest_fields: object,
) -> None:
    """One run in `store`. `dims` picks a subset of the scheme's dimensions (a partial run),
    `prompt_offsets` adds a per-prompt offset (noise between runs), `prompts` replaces PROMPTS,
    `start` moves the run's date and `manifest_fields` go into its manifest as they are."""
    scheme = load_scheme()
    dims = dims or list(scheme.dims)
    prompt_list = prompts or PROMPTS
    backends = backends or dict.fromkeys(dims, "vbench")
    content = manifest(run_id, model, revision, backends, "complete" if finish else "running", day, start)
    content.update(manifest_fields)
    store.begin_run(run_id, content)
    raw_sums: dict[str, list[float]] = {d: [] for d in dims}
    for p_index, prompt in enumerate(prompt_list):
        for sample in range(SAMPLES):
            if not finish and p_index >= len(prompt_list) // 2:
                continue  # the half-written run stops half way
            key = f"{prompt}-{sample}.mp4"
            path = str(video_root / key) if video_root else f"videos/{key}"
            scores = []
            shift = prompt_offsets[p_index] if prompt_offsets else 0.0
            for dim in dims:
                value = value_for(list(scheme.dims).index(dim), p_index, sample, offset + shift)
                raw_sums[dim].append(value)
                extra = {"per_frame": [value, value]} if dim == "temporal_flickering" else {}
                scores.append(ScoreRow(key, dim, backends[dim], "1", "ok", value, extra))
            store.record_video(run_id, VideoRow(key, path, prompt, prompt, sample, seed=sample), scores)
    if not finish:
        return
    raw = {d: sum(v) / len(v) for d, v in raw_sums.items()}
    result = aggregate(raw, scheme)
    rows = [
        AggregateRow(d, raw[d], result.normalised[d], len(raw_sums[d]), backends[d], scheme.dims[d].group) for d in dims
    ]
    rows += [
        AggregateRow(n, getattr(result, n), getattr(result, n), 0, group="summary")  # None where a dim is missing
        for n in ("quality", "semantic", "total")
    ]
    store.finish_run(run_id, "complete", rows)


def build_store(url: str, video_root: Path | None = None) -> dict[str, str]:
    """Fill an empty store at `url`; returns {label: run_id}."""
    runs = {
        "alpha-1000": ("alpha", "ckpt-1000", 0.0, 0, None, True),
        "alpha-2000": ("alpha", "ckpt-2000", 0.02, 1, None, True),
        "beta": ("beta", "v1", -0.05, 2, None, True),
        "gamma": ("gamma", "v1", 0.01, 3, "mixed", True),
        "delta": ("delta", "wip", 0.0, 4, None, False),
    }
    dims = list(load_scheme().dims)
    with ResultStore(url) as store:
        for run_id, (model, revision, offset, day, kind, finish) in runs.items():
            backends = None
            if kind == "mixed":
                backends = {d: ("efficientnet" if d == "temporal_flickering" else "vbench") for d in dims}
            add_run(store, run_id, model, revision, offset, day, backends, finish, video_root)
    return {label: label for label in runs}


def write_manifest_dir(folder: Path, content: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(content), encoding="utf-8")
    return folder
