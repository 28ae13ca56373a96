"""Test helper: write synthetic run directories in the run-dir format (manifest + scores.parquet).

`write_run(folder, {dimension: {prompt_id: [per-sample values]}})` gives what `vbl evaluate`
would leave behind, so the gate's tests read real files through the real reader.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SUITE_SHA = "a" * 64
VBENCH_GROUPS = {
    "subject_consistency": "quality",
    "background_consistency": "quality",
    "temporal_flickering": "quality",
    "motion_smoothness": "quality",
    "dynamic_degree": "quality",
    "aesthetic_quality": "quality",
    "imaging_quality": "quality",
    "object_class": "semantic",
    "multiple_objects": "semantic",
    "human_action": "semantic",
    "color": "semantic",
    "spatial_relationship": "semantic",
    "scene": "semantic",
    "appearance_style": "semantic",
    "temporal_style": "semantic",
    "overall_consistency": "semantic",
}

Scores = dict[str, dict[str, list[float]]]


def write_run(
    run_dir: Path,
    scores: Scores,
    *,
    model: str = "tiny",
    revision: str = "r1",
    status: str = "complete",
    suite_sha: str | None = SUITE_SHA,
    scorer_version: dict[str, str] | None = None,
    backend: dict[str, str] | None = None,
    aggregation_version: str = "1.0",
    failed: dict[str, list[tuple[str, int]]] | None = None,
) -> Path:
    """A run directory holding `scores` (values per sample, in sample-index order)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    run_id = f"run-{run_dir.name}"
    rows: list[dict[str, Any]] = []
    for dim, per_prompt in scores.items():
        for prompt_id, values in per_prompt.items():
            for sample_index, value in enumerate(values):
                rows.append(_row(run_id, dim, prompt_id, sample_index, "ok", float(value), backend))
    for dim, videos in (failed or {}).items():
        for prompt_id, sample_index in videos:
            rows.append(_row(run_id, dim, prompt_id, sample_index, "failed", float("nan"), backend))
    pd.DataFrame(rows).to_parquet(run_dir / "scores.parquet", index=False)
    manifest = {
        "schema_version": 1,
        "run_id": run_id,
        "created_at": "2026-11-23T10:00:00+00:00",
        "status": status,
        "vbl": {"version": "0.1.0", "git_sha": None},
        "model": {"name": model, "revision": revision, "weights_sha256": None, "task": "t2v", "options": {}},
        "config": {},
        "config_hash": "c" * 64,
        "prompt_suite": None if suite_sha is None else {"name": "synthetic", "version": "1", "sha256": suite_sha},
        "aggregation": {"name": "vbench-v1", "version": aggregation_version},
        "dimensions": {
            dim: {
                "version": (scorer_version or {}).get(dim, "1"),
                "backend": (backend or {}).get(dim, "vbench"),
                "weights_sha256": None,
                "group": VBENCH_GROUPS.get(dim, "extra"),
            }
            for dim in scores
        },
        "environment": {"python": "3.11", "device": "cpu"},
        "seeds": {},
        "sampled_by": "test",
        "evaluated_by": "test",
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return run_dir


def _row(
    run_id: str, dim: str, prompt_id: str, sample_index: int, status: str, value: float, backend: dict[str, str] | None
) -> dict[str, Any]:
    key = f"{prompt_id}-{sample_index}"
    return {
        "run_id": run_id,
        "video_key": key,
        "video_path": f"videos/{key}.mp4",
        "prompt_id": prompt_id,
        "prompt": f"prompt {prompt_id}",
        "sample_index": sample_index,
        "seed": 1000 + sample_index,
        "dimension": dim,
        "backend": (backend or {}).get(dim, "vbench"),
        "dimension_version": "1",
        "status": status,
        "value": value,
        "error": None if status == "ok" else "boom",
        "extra": "{}",
    }


def synthetic(
    n_prompts: int = 40,
    samples: int = 3,
    level: float = 0.6,
    spread: float = 0.1,
    seed: int = 1,
) -> dict[str, list[float]]:
    """Per-prompt sample values: prompts differ a lot (spread), samples of one prompt a little."""
    rng = np.random.default_rng(seed)
    prompt_levels = level + spread * rng.standard_normal(n_prompts)
    return {f"p{i:03d}": list(prompt_levels[i] + 0.002 * rng.standard_normal(samples)) for i in range(n_prompts)}


def shifted(
    per_prompt: dict[str, list[float]], shift: float, noise: float = 0.0, seed: int = 2
) -> dict[str, list[float]]:
    """The same prompts moved by `shift`, plus per-prompt noise that sums to exactly zero.

    Zero-sum noise (pairs of +z and -z) keeps the mean shift exactly `shift`, so a test can put
    the point estimate just past a margin and know which side of it it lies on.
    """
    ids = sorted(per_prompt)
    rng = np.random.default_rng(seed)
    half = rng.standard_normal(len(ids) // 2) * noise
    offsets = np.concatenate([half, -half, np.zeros(len(ids) % 2)])
    return {p: [v + shift + offsets[i] for v in per_prompt[p]] for i, p in enumerate(ids)}
