"""Read what the gate compares: a run directory or a baseline file, as per-prompt score tables.

A run directory (COMMON run-dir format) gives `manifest.json` + `scores.parquet`; only rows with
status "ok" count, and the samples of each prompt are averaged first, because the gate resamples
prompts, not videos (spec/ecosystem.md §3.2). A baseline file (`baseline.py`) already holds the
per-prompt means. Both become a `ScoreSource` holding raw (not normalised) values.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from vbench_lite.gate.errors import GateUsageError, IncompatibleData

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

    @property
    def model_label(self) -> str:
        name = self.model.get("name") or "model"
        revision = self.model.get("revision")
        return f"{name}@{revision}" if revision else str(name)


def load_source(path: Path, label: str) -> ScoreSource:
    """A run directory, or a baseline JSON file (anything that is not a directory)."""
    path = Path(path)
    if not path.exists():
        raise GateUsageError(f"{label} not found: {path} (give a run directory or a baseline .json)")
    if path.is_dir():
        return load_run(path, label)
    from vbench_lite.gate.baseline import load_baseline

    return load_baseline(path, label)


def load_run(run_dir: Path, label: str = "run") -> ScoreSource:
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.exists():
        raise GateUsageError(
            f"{label} {run_dir} is not a run directory (no manifest.json); give the --out folder "
            "of `vbl evaluate` or a baseline .json"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IncompatibleData(f"{label} {manifest_path} is unreadable: {error}") from None
    if not isinstance(manifest, dict):
        raise IncompatibleData(f"{label} {manifest_path} is not a JSON object")
    scores = read_scores(run_dir, label)
    ok = scores[scores["status"] == "ok"]
    nan_rows = ok[ok["value"].isna()]
    if len(nan_rows):
        dims = ", ".join(sorted(nan_rows["dimension"].unique()))
        raise IncompatibleData(
            f"{label} {run_dir}: {len(nan_rows)} score(s) marked ok are NaN ({dims}); "
            "re-run the evaluation of those videos"
        )
    # Per-video values in aggregate units (imaging quality stores 0–100 per video, as VBench does).
    scales = {name: float(info.get("value_scale", 1.0)) for name, info in (manifest.get("dimensions") or {}).items()}
    per_video = {
        str(dim): rows.set_index(["prompt_id", "sample_index"])["value"].astype(float).sort_index()
        * scales.get(str(dim), 1.0)
        for dim, rows in ok.groupby("dimension", sort=True)
    }
    per_prompt = {dim: prompt_means(series) for dim, series in per_video.items()}
    failed = scores[scores["status"] == "failed"].groupby("dimension").size()
    return ScoreSource(
        label=label,
        path=run_dir,
        kind="run",
        status=str(manifest.get("status", "unknown")),
        run_id=manifest.get("run_id"),
        model=dict(manifest.get("model") or {}),
        prompt_suite=manifest.get("prompt_suite"),
        aggregation=dict(manifest.get("aggregation") or {}),
        config_hash=manifest.get("config_hash"),
        scorers=scorers_from_manifest(manifest.get("dimensions") or {}),
        per_prompt=per_prompt,
        per_video=per_video,
        failed_videos={str(k): int(v) for k, v in failed.items()},
    )


def read_scores(run_dir: Path, label: str) -> pd.DataFrame:
    """`scores.parquet`, one row per (video, dimension), latest row kept for a re-scored video."""
    path = run_dir / "scores.parquet"
    if not path.exists():
        raise IncompatibleData(f"{label} {run_dir} has no scores.parquet: the run wrote no scores")
    try:
        scores = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several unrelated types for a damaged file
        raise IncompatibleData(f"{label} {path} is unreadable: {error}") from None
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise IncompatibleData(f"{label} {path} lacks column(s) {', '.join(missing)}")
    scores = scores.drop_duplicates(["video_key", "dimension"], keep="last").copy()
    # A folder run may leave prompt ids empty; the video itself is then the prompt.
    empty = scores["prompt_id"].isna() | (scores["prompt_id"].astype(str) == "")
    scores.loc[empty, "prompt_id"] = scores.loc[empty, "video_key"]
    scores["prompt_id"] = scores["prompt_id"].astype(str)
    scores["sample_index"] = scores["sample_index"].fillna(0).astype(int)
    return scores


def prompt_means(per_video: pd.Series) -> pd.Series:
    """Average the samples of each prompt: the unit the gate resamples (spec §3.2)."""
    return per_video.groupby(level="prompt_id").mean().sort_index()


def scorers_from_manifest(dimensions: dict[str, Any]) -> dict[str, ScorerInfo]:
    out: dict[str, ScorerInfo] = {}
    for name, info in dimensions.items():
        info = info or {}
        out[str(name)] = ScorerInfo(
            version=_text(info.get("version")),
            backend=_text(info.get("backend")),
            weights_sha256=_text(info.get("weights_sha256")),
            group=_text(info.get("group")),
        )
    return out


def is_binary(values: pd.Series) -> bool:
    """True when every per-video value is 0 or 1 (dynamic degree's booleans, spec §4.5)."""
    return len(values) > 0 and bool(values.isin([0.0, 1.0]).all())


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)
