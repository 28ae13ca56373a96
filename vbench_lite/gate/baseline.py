"""Baseline files: a reviewed, committed record of one run's per-prompt scores and hashes.

`vbl baseline promote RUN --out baselines/NAME.json` turns a finished run into one;
`vbl gate --baseline` reads it back (docs/gate.md). The file holds everything
the compatibility check needs (prompt-suite hash, scorer versions, backends and weight hashes,
aggregation version) and the per-prompt raw means the paired statistics need, plus per-video
values of binary dimensions for the McNemar test. It is plain, sorted JSON so a reviewer can
read the diff of a promotion.
"""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from vbench_lite.gate.errors import GateUsageError, IncompatibleData
from vbench_lite.gate.inputs import ScorerInfo, ScoreSource, is_binary, load_run

SCHEMA_VERSION = 1
KIND = "vbl-gate-baseline"


class PromptSuiteRef(BaseModel):
    name: str | None = None
    version: str | None = None
    sha256: str | None = None


class ScorerRef(BaseModel):
    version: str | None = None
    backend: str | None = None
    weights_sha256: str | None = None
    group: str | None = None


class AggregationRef(BaseModel):
    name: str | None = None
    version: str | None = None


class ModelRef(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str | None = None
    revision: str | None = None


class BaselineFile(BaseModel):
    """The on-disk schema, validated on every load."""

    model_config = ConfigDict(extra="allow")

    schema_version: Literal[1]
    kind: Literal["vbl-gate-baseline"] = "vbl-gate-baseline"
    created_at: str
    source_run: dict[str, Any] = {}
    model: ModelRef
    prompt_suite: PromptSuiteRef | None
    scorers: dict[str, ScorerRef]
    aggregation: AggregationRef
    config_hash: str | None
    aggregates: dict[str, dict[str, Any]] = {}
    per_prompt: dict[str, dict[str, float]]
    per_video: dict[str, dict[str, dict[str, float]]] = {}

    @field_validator("per_prompt", "per_video")
    @classmethod
    def _finite(cls, table: dict[str, Any]) -> dict[str, Any]:
        def check(where: str, value: Any) -> None:
            if isinstance(value, dict):
                for key, inner in value.items():
                    check(f"{where}.{key}", inner)
            elif not math.isfinite(value):
                raise ValueError(f"{where} is {value}; a baseline holds finite scores only")

        for dim, values in table.items():
            check(dim, values)
        return table


def promote(run_dir: Path) -> dict[str, Any]:
    """The baseline record of a finished run directory (a dict ready for `write_baseline`)."""
    from vbench_lite.aggregate import aggregate, load_scheme
    from vbench_lite.gate.stats import mean_interval

    run = load_run(Path(run_dir), "run")
    if run.status != "complete":
        raise IncompatibleData(
            f"run {run_dir} has status '{run.status}', not 'complete'; only a finished run can become a baseline"
        )
    if not run.per_prompt:
        raise IncompatibleData(f"run {run_dir} has no successful scores to promote")
    manifest = run.manifest
    assert manifest is not None  # load_run always reads one
    aggregates: dict[str, dict[str, Any]] = {}
    for dim, means in run.per_prompt.items():
        low, high = mean_interval(means.to_numpy(), seed=0)
        aggregates[dim] = {
            "prompt_mean": float(means.mean()),
            "ci95_low": low,
            "ci95_high": high,
            "n_prompts": int(means.size),
            "n_videos": int(run.per_video[dim].size),
        }
    scheme_name = run.aggregation.get("name") or "vbench-v1"
    groups = aggregate({d: float(m.mean()) for d, m in run.per_prompt.items()}, load_scheme(scheme_name))
    for name, value in (
        ("quality_score", groups.quality),
        ("semantic_score", groups.semantic),
        ("total_score", groups.total),
    ):
        if value is not None:
            aggregates[name] = {"prompt_mean": value}
    record = {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source_run": {
            "run_id": run.run_id,
            "created_at": manifest.created_at,
            "path": str(Path(run_dir)),
            "vbl": manifest.vbl,
            "environment": manifest.environment,
        },
        "model": run.model,
        "prompt_suite": run.prompt_suite,
        "scorers": {
            dim: {"version": s.version, "backend": s.backend, "weights_sha256": s.weights_sha256, "group": s.group}
            for dim, s in sorted(run.scorers.items())
        },
        "aggregation": run.aggregation,
        "config_hash": run.config_hash,
        "aggregates": aggregates,
        "per_prompt": {
            dim: {str(p): float(v) for p, v in means.items()} for dim, means in sorted(run.per_prompt.items())
        },
        "per_video": {
            dim: _nested_per_video(values) for dim, values in sorted(run.per_video.items()) if is_binary(values)
        },
    }
    # Validate what we write with the same schema the reader uses.
    BaselineFile.model_validate(record)
    return record


def write_baseline(record: dict[str, Any], out: Path) -> Path:
    """Write atomically (temp file + rename) so a crashed promote leaves no half file."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    return out


def load_baseline(path: Path, label: str = "baseline") -> ScoreSource:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise IncompatibleData(f"{label} {path} is unreadable: {error}") from None
    except json.JSONDecodeError as error:
        raise IncompatibleData(
            f"{label} {path} is not JSON (line {error.lineno}: {error.msg}); give a file written "
            "by `vbl baseline promote` or a run directory"
        ) from None
    if isinstance(data, dict) and data.get("schema_version") not in (None, SCHEMA_VERSION):
        raise IncompatibleData(
            f"{label} {path} has schema_version {data.get('schema_version')}; this vbl reads "
            f"version {SCHEMA_VERSION}: re-promote the baseline with this vbl"
        )
    try:
        baseline = BaselineFile.model_validate(data)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "top level"
        raise IncompatibleData(f"{label} {path} is not a valid baseline: {where}: {problem['msg']}") from None
    per_prompt = {
        dim: pd.Series(values, dtype=float).rename_axis("prompt_id").sort_index()
        for dim, values in baseline.per_prompt.items()
    }
    per_video = {dim: _flat_per_video(values) for dim, values in baseline.per_video.items()}
    return ScoreSource(
        label=label,
        path=Path(path),
        kind="baseline",
        status="complete",
        run_id=baseline.source_run.get("run_id"),
        model=baseline.model.model_dump(),
        prompt_suite=None if baseline.prompt_suite is None else baseline.prompt_suite.model_dump(),
        aggregation=baseline.aggregation.model_dump(),
        config_hash=baseline.config_hash,
        scorers={dim: ScorerInfo(**s.model_dump()) for dim, s in baseline.scorers.items()},
        per_prompt=per_prompt,
        per_video=per_video,
    )


def _nested_per_video(values: pd.Series) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    index: list[Any] = values.index.tolist()
    for (prompt_id, sample_index), value in zip(index, values.tolist(), strict=True):
        out.setdefault(str(prompt_id), {})[str(sample_index)] = float(value)
    return out


def _flat_per_video(nested: dict[str, dict[str, float]]) -> pd.Series:
    index = [(p, int(s)) for p, samples in nested.items() for s in samples]
    values = [v for samples in nested.values() for v in samples.values()]
    multi = pd.MultiIndex.from_tuples(index, names=["prompt_id", "sample_index"])
    return pd.Series(values, index=multi, dtype=float).sort_index()




def load_source(path: Path, label: str) -> ScoreSource:
    """A run directory, or a baseline JSON file (anything that is not a directory)."""
    path = Path(path)
    if not path.exists():
        raise GateUsageError(f"{label} not found: {path} (give a run directory or a baseline .json)")
    if path.is_dir():
        return load_run(path, label)
    return load_baseline(path, label)


__all__ = ["BaselineFile", "load_baseline", "load_source", "promote", "write_baseline"]
