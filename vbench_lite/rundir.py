"""The run directory: what `vbl evaluate` leaves behind, typed, with one reader and one writer per file.

| file | model here | written by |
|---|---|---|
| `manifest.json` | `Manifest` (pydantic), with `RunStatus` | the runner, once per phase |
| `scores.parquet` | a DataFrame with `SCORE_COLUMNS` | the runner, at the end |
| `summary.json` | `Summary` (pydantic) | the runner, at the end |
| `eval_results.json` | `EvalResults`: VBench's `{dimension: [aggregate, [per-video]]}` | the runner, at the end |

Every reader raises `RunDirError`, one line naming the file and what is wrong with it. Manifests
written by earlier vbl versions (schema version 1, the only one so far) load as they are: every
field but the run id has a default, and keys this version does not know are kept.
See docs/architecture.md, "The run directory".
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vbench_lite.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1
MANIFEST, SCORES, SUMMARY, EVAL_RESULTS = "manifest.json", "scores.parquet", "summary.json", "eval_results.json"
# The columns of scores.parquet, one row per (video, dimension). `video_path` is absolute.
SCORE_COLUMNS = (
    "run_id", "video_key", "video_path", "prompt_id", "prompt", "sample_index", "seed", "dimension", "backend",
    "dimension_version", "status", "value", "error", "extra",
)
REQUIRED_SCORE_COLUMNS = ("video_key", "dimension", "status", "value")
SCORE_STATUSES = ("ok", "failed", "skipped")
_EVAL_LAYOUT = "expected VBench's layout {dimension: [numeric aggregate, [{video_path, video_results}, ...]]}"


class RunDirError(InputError):
    """A run-directory file is missing, unreadable or not what vbl writes."""


class RunStatus(StrEnum):
    RUNNING = "running"  # opened; scores are being written
    GENERATED = "generated"  # `vbl generate` finished: videos only
    COMPLETE = "complete"  # every video scored on every requested dimension
    PARTIAL = "partial"  # finished, but some videos failed or some dimensions could not run

    @property
    def finished(self) -> bool:
        return self in (RunStatus.COMPLETE, RunStatus.PARTIAL)


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class ScorerRecord(_Record):
    """What produced one dimension's numbers; scores of two records are comparable when they agree."""

    version: str | None = None
    backend: str | None = None
    weights_sha256: str | None = None
    group: str | None = None
    # Per-video value × value_scale = the aggregate's units (imaging quality stores 0–100 per video);
    # None in manifests written before vbl recorded it.
    value_scale: float | None = None


class ModelRecord(_Record):
    name: str | None = None
    adapter: str | None = None
    task: str | None = None
    revision: str | None = None
    weights_sha256: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class SuiteRecord(_Record):
    name: str | None = None
    version: str | None = None
    sha256: str | None = None


class AggregationRecord(_Record):
    name: str | None = None
    version: str | None = None


class Manifest(_Record):
    """A run's provenance: what was scored, by which scorers, on what machine, by whom."""

    schema_version: int = SCHEMA_VERSION
    run_id: str
    created_at: str | None = None
    status: RunStatus = RunStatus.RUNNING
    vbl: dict[str, Any] = Field(default_factory=dict)
    model: ModelRecord = Field(default_factory=ModelRecord)
    config: dict[str, Any] = Field(default_factory=dict)
    config_hash: str | None = None
    prompt_suite: SuiteRecord | None = None
    aggregation: AggregationRecord | None = None
    dimensions: dict[str, ScorerRecord] = Field(default_factory=dict)
    environment: dict[str, Any] = Field(default_factory=dict)
    seeds: dict[str, int | None] = Field(default_factory=dict)
    generation: dict[str, dict[str, Any]] = Field(default_factory=dict)
    sampled_by: str | None = None
    evaluated_by: str | None = None
    run_dir: str | None = None
    source: str | None = None
    imported_from: dict[str, Any] | None = None

    @classmethod
    def parse(cls, data: Any, where: str) -> Manifest:
        """A manifest from its JSON value; RunDirError naming the first problem."""
        if not isinstance(data, dict):
            raise RunDirError(f"{where} is {_describe(data)}, not a vbl manifest object")
        version = data.get("schema_version", SCHEMA_VERSION)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise RunDirError(f"{where}: schema_version is {version!r}; this vbl reads version {SCHEMA_VERSION} "
                              "or older: upgrade vbench-lite")
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise RunDirError(f"{where} is not a valid vbl manifest: {_first_problem(error)}") from None


class DimensionSummary(_Record):
    group: str | None = None
    backend: str | None = None
    n: int = 0
    failed: int = 0
    skipped: int = 0
    raw: float | None = None
    normalised: float | None = None


class Summary(_Record):
    """summary.json: each dimension's raw and normalised score, then the groups (Quality / Semantic,
    or Quality / I2V for an image-to-video scheme) and the Total."""

    aggregation: str | None = None
    dimensions: dict[str, DimensionSummary] = Field(default_factory=dict)
    quality: float | None = None
    semantic: float | None = None
    i2v: float | None = None
    total: float | None = None
    quality_partial: float | None = None
    semantic_partial: float | None = None
    i2v_partial: float | None = None
    missing: dict[str, list[str]] = Field(default_factory=dict)
    videos: int = 0
    failed_videos: int = 0

    def to_json(self) -> dict[str, Any]:
        """Only the scheme's groups (`missing` has one key per group): VBench's quality and semantic
        for text-to-video, quality and i2v for VBench++'s image-to-video scheme."""
        data = super().to_json()
        groups = set(self.missing) or {"quality", "semantic"}
        for group in {"quality", "semantic", "i2v"} - groups:
            if data[group] is None and data[f"{group}_partial"] is None:
                del data[group], data[f"{group}_partial"]
        return data


# -- manifest.json -------------------------------------------------------------------------------


def has_manifest(run_dir: Path) -> bool:
    return (Path(run_dir) / MANIFEST).is_file()


def read_manifest(run_dir: Path) -> Manifest:
    path = Path(run_dir) / MANIFEST
    return Manifest.parse(_read_json(path, "vbl run directory"), str(path))


def write_manifest(run_dir: Path, manifest: Manifest) -> None:
    write_json_atomic(Path(run_dir) / MANIFEST, manifest.to_json())


# -- scores.parquet ------------------------------------------------------------------------------


def read_scores(run_dir: Path) -> pd.DataFrame:
    """The scores table, checked: the columns vbl needs and only known statuses."""
    import pandas as pd

    path = Path(run_dir) / SCORES
    if not path.is_file():
        raise RunDirError(f"{path} does not exist: the run wrote no scores (finish it with --resume)")
    try:
        scores = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several unrelated types for a damaged file
        raise RunDirError(f"{path} is unreadable ({_first_line(error)}); re-run or re-copy the run") from None
    missing = [c for c in REQUIRED_SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise RunDirError(f"{path} lacks column(s) {', '.join(missing)}; is it a vbl scores table?")
    unknown = sorted(set(scores["status"].astype(str)) - set(SCORE_STATUSES))
    if unknown:
        raise RunDirError(f"{path} has unknown status value(s) {', '.join(unknown)}")
    return scores


def write_scores(run_dir: Path, scores: pd.DataFrame) -> None:
    tmp = Path(run_dir) / (SCORES + ".part")
    scores.to_parquet(tmp, index=False)
    os.replace(tmp, Path(run_dir) / SCORES)


# -- summary.json --------------------------------------------------------------------------------


def read_summary(run_dir: Path) -> Summary:
    path = Path(run_dir) / SUMMARY
    data = _read_json(path, "vbl summary")
    try:
        return Summary.model_validate(data)
    except ValidationError as error:
        raise RunDirError(f"{path} is not a vbl summary: {_first_problem(error)}") from None


def write_summary(run_dir: Path, summary: Summary) -> None:
    write_json_atomic(Path(run_dir) / SUMMARY, summary.to_json())


# -- VBench's eval_results.json -------------------------------------------------------------------


@dataclass
class VBenchDimension:
    """One dimension of an eval_results.json: the file's aggregate and its per-video entries."""

    aggregate: float | None
    entries: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EvalResults:
    path: Path | None
    sha256: str
    dimensions: dict[str, VBenchDimension]


def canonical_dimension_name(name: str) -> str:
    """VBench writes "subject consistency" in some files and "subject_consistency" in others."""
    return name.strip().lower().replace(" ", "_")


def read_eval_results(path: Path) -> EvalResults:
    """A VBench `eval_results.json`, a run directory holding one, or VBench's output folder with
    one `*_eval_results.json` per dimension (merged as VBench's cal_final_score merges them).

    Keys may be written with spaces or underscores; per-video entries must carry `video_path` and
    `video_results`; an aggregate that is not a number is kept as None. Anything unusable raises
    RunDirError in one line.
    """
    import hashlib

    path = Path(path)
    if not path.exists():
        raise RunDirError(f"eval results file not found: {path}; give a VBench eval_results.json or a run directory")
    files = sorted(path.glob("*eval_results.json")) if path.is_dir() else [path]
    if not files:
        raise RunDirError(f"no eval_results.json in {path}; give a run directory or VBench's output folder")
    digest = hashlib.sha256()
    dimensions: dict[str, VBenchDimension] = {}
    for file in files:
        content = _read_bytes(file)
        digest.update(content)
        for name, dimension in _parse_eval_results(content, file).items():
            earlier = dimensions.get(name)
            if earlier is not None and earlier.aggregate != dimension.aggregate:
                raise RunDirError(f"{path}: dimension '{name}' has different scores in two result files "
                                  f"({earlier.aggregate} and {dimension.aggregate} in {file.name}); "
                                  "keep one file per dimension")
            dimensions[name] = dimension
    return EvalResults(files[0] if len(files) == 1 else path, digest.hexdigest(), dimensions)


def write_eval_results(run_dir: Path, results: dict[str, Any]) -> None:
    write_json_atomic(Path(run_dir) / EVAL_RESULTS, results)


def _parse_eval_results(content: bytes, file: Path) -> dict[str, VBenchDimension]:
    try:
        data = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        where = f" (line {error.lineno}, column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
        raise RunDirError(f"{file.name} is not valid JSON{where}; give a VBench eval_results.json") from None
    return parse_eval_results(data, file.name)


def parse_eval_results(data: Any, label: str) -> dict[str, VBenchDimension]:
    """The dimensions of a parsed eval_results value. A bare number stands for an aggregate
    without per-video entries (some hand-made files); a NaN aggregate is kept (it counts as
    missing in the aggregation); an aggregate that is not a number becomes None."""
    if not isinstance(data, dict):
        raise RunDirError(f"{label}: top level is {_describe(data)}; {_EVAL_LAYOUT}")
    if not data:
        raise RunDirError(f"{label} holds no dimension scores; {_EVAL_LAYOUT}")
    dimensions = {}
    for key, entry in data.items():
        if _is_number(entry):
            dimensions[canonical_dimension_name(str(key))] = VBenchDimension(float(entry))
            continue
        if not (isinstance(entry, list) and len(entry) >= 2 and isinstance(entry[1], list)):
            raise RunDirError(f"{label}: '{key}' is {_describe(entry)}; {_EVAL_LAYOUT}")
        for index, item in enumerate(entry[1]):
            if not (isinstance(item, dict) and isinstance(item.get("video_path"), str) and "video_results" in item):
                raise RunDirError(f"{label}: '{key}' video #{index} is {_describe(item)}, "
                                  f"without video_path / video_results; {_EVAL_LAYOUT}")
        aggregate = float(entry[0]) if _is_number(entry[0]) else None
        dimensions[canonical_dimension_name(str(key))] = VBenchDimension(aggregate, entry[1])
    return dimensions


# -- small helpers ---------------------------------------------------------------------------------


def write_json_atomic(path: Path, data: Any) -> None:
    """Write through a `.part` file and a rename, so a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise RunDirError(f"cannot read {path}: {error.strerror or error}") from None


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise RunDirError(f"{path} does not exist; give a {what}")
    try:
        return json.loads(_read_bytes(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunDirError(f"{path} is not valid JSON ({_first_line(error)}); fix or re-create it") from None


def _is_number(value: Any) -> bool:
    # bool is an int: VBench's binary dimensions store true/false per video, counted as 1/0.
    return isinstance(value, int | float)


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str)
    kind = type(value).__name__
    return f"a {kind} {text}" if len(text) <= 40 else f"a {kind} {text[:37]}..."


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(p) for p in problem["loc"]) or "top level"
    return f"{where}: {problem['msg']}"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
