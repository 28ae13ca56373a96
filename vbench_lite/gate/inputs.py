"""Read what the gate compares: a run directory or a baseline file, as per-prompt score tables.

A run directory gives `manifest.json` + `scores.parquet` (read through `vbench_lite.rundir`); only
rows with status "ok" count, and the samples of each prompt are averaged first, because the gate
resamples prompts, not videos (docs/gate.md, "Statistics"). A baseline file (`baseline.py`)
already holds the per-prompt means. Both become a `ScoreSource` holding raw (not normalised)
values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from vbench_lite.gate.errors import GateUsageError, IncompatibleData
from vbench_lite.rundir import Manifest, RunDirError, ScorerRecord, has_manifest, read_manifest
from vbench_lite.rundir import read_scores as read_scores_file

SCORE_COLUMNS = ("video_key", "prompt_id", "sample_index", "dimension", "status", "value")


@dataclass(frozen=True)
class ScorerInfo:
    """What produced one dimension's numbers; two sources must agree on it to be compared."""

    version: str | None
    backend: str | None
    weights_sha256: str | None = None
    group: str | None = None


@dataclass
class ScoreSource:
    """One side of a comparison: provenance plus per-prompt raw means per dimension."""

    label: str
    path: Path
    kind: str  # "run" | "baseline"
    status: str  # "complete" for a finished run and for every baseline
    run_id: str | None
    model: dict[str, Any]
    prompt_suite: dict[str, Any] | None
    aggregation: dict[str, Any]
    config_hash: str | None
    scorers: dict[str, ScorerInfo]
    per_prompt: dict[str, pd.Series]  # dimension -> Series(prompt_id -> mean raw value)
    # dimension -> Series((prompt_id, sample_index) -> value); a run has every dimension, a
    # baseline only its binary ones (what the McNemar test pairs).
    per_video: dict[str, pd.Series] = field(default_factory=dict)
    failed_videos: dict[str, int] = field(default_factory=dict)
    manifest: Manifest | None = None  # a run's manifest (None for a baseline file)

    @property
    def model_label(self) -> str:
        name = self.model.get("name") or "model"
        revision = self.model.get("revision")
        return f"{name}@{revision}" if revision else str(name)


def load_run(run_dir: Path, label: str = "run") -> ScoreSource:
    if not has_manifest(run_dir):
        raise GateUsageError(
            f"{label} {run_dir} is not a run directory (no manifest.json); give the --out folder "
            "of `vbl evaluate` or a baseline .json"
        )
    try:
        manifest = read_manifest(run_dir)
        scores = read_scores(run_dir)
    except RunDirError as error:
        raise IncompatibleData(f"{label}: {error}") from None
    return source_from_scores(label, run_dir, manifest, scores)


def source_from_scores(
    label: str, path: Path, manifest: Manifest, scores: pd.DataFrame, scales: dict[str, float] | None = None
) -> ScoreSource:
    """A run as the gate sees it, from its manifest and its long scores table (from the run
    directory, or from the results store for the leaderboard). `scales` (per-video value → the
    aggregate's units) fill in for dimensions the manifest has no record of."""
    ok = scores[scores["status"] == "ok"]
    nan_rows = ok[ok["value"].isna()]
    if len(nan_rows):
        dims = ", ".join(sorted(nan_rows["dimension"].unique()))
        raise IncompatibleData(
            f"{label} {path}: {len(nan_rows)} score(s) marked ok are NaN ({dims}); "
            "re-run the evaluation of those videos"
        )
    # Per-video values in aggregate units (imaging quality stores 0–100 per video, as VBench does).
    recorded = {name: r.value_scale for name, r in manifest.dimensions.items() if r.value_scale is not None}
    scales = {**(scales or {}), **recorded}
    per_video = {
        str(dim): rows.set_index(["prompt_id", "sample_index"])["value"].astype(float).sort_index()
        * scales.get(str(dim), 1.0)
        for dim, rows in ok.groupby("dimension", sort=True)
    }
    per_prompt = {dim: prompt_means(series) for dim, series in per_video.items()}
    failed = scores[scores["status"] == "failed"].groupby("dimension").size()
    return ScoreSource(
        label=label,
        path=path,
        kind="run",
        status=str(manifest.status),
        run_id=manifest.run_id,
        model=manifest.model.to_json(),
        prompt_suite=manifest.prompt_suite.to_json() if manifest.prompt_suite else None,
        aggregation=manifest.aggregation.to_json() if manifest.aggregation else {},
        config_hash=manifest.config_hash,
        scorers=scorers_from_manifest(manifest),
        per_prompt=per_prompt,
        per_video=per_video,
        failed_videos={str(k): int(v) for k, v in failed.items()},
        manifest=manifest,
    )


def read_scores(run_dir: Path) -> pd.DataFrame:
    """`scores.parquet`, one row per (video, dimension), latest row kept for a re-scored video."""
    scores = read_scores_file(run_dir)
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise RunDirError(f"{run_dir} scores.parquet lacks column(s) {', '.join(missing)}")
    return gate_scores(scores)


def gate_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """The scores the gate pairs: one row per (video, dimension), every video with a prompt id."""
    scores = scores.drop_duplicates(["video_key", "dimension"], keep="last").copy()
    # A folder run may leave prompt ids empty; the video itself is then the prompt.
    empty = scores["prompt_id"].isna() | (scores["prompt_id"].astype(str) == "")
    scores.loc[empty, "prompt_id"] = scores.loc[empty, "video_key"]
    scores["prompt_id"] = scores["prompt_id"].astype(str)
    scores["sample_index"] = scores["sample_index"].fillna(0).astype(int)
    return scores


def prompt_means(per_video: pd.Series) -> pd.Series:
    """Average the samples of each prompt: the unit the gate resamples (its samples share a seed
    schedule and are not independent)."""
    return per_video.groupby(level="prompt_id").mean().sort_index()


def scorers_from_manifest(manifest: Manifest) -> dict[str, ScorerInfo]:
    return {name: scorer_info(record) for name, record in manifest.dimensions.items()}


def scorer_info(record: ScorerRecord) -> ScorerInfo:
    return ScorerInfo(version=_text(record.version), backend=_text(record.backend),
                      weights_sha256=_text(record.weights_sha256), group=_text(record.group))


def is_binary(values: pd.Series) -> bool:
    """True when every per-video value is 0 or 1 (dynamic degree's booleans)."""
    return len(values) > 0 and bool(values.isin([0.0, 1.0]).all())


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)
