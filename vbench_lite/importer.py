"""`vbl import`: put results made elsewhere into the results store.

Two inputs are understood (issue 2, item 7):

- one of our run directories: `manifest.json` + `scores.parquet` (or, without it,
  `eval_results.json`) + `summary.json`, optionally `videos.parquet` with per-video facts;
- a bare VBench `*eval_results.json`, `{dimension: [aggregate, [{"video_path", "video_results",
  ...extra}]]}` (spec/vbench_dimensions.md §7). Its run id is a hash of the file's bytes, so
  importing the same file twice updates one run. Per-video bools become 0/1; keys other than
  video_path / video_results go to the score's `extra`; the prompt id is the file stem with
  VBench's trailing `-<index>` removed. Its aggregates are the file's raw per-dimension numbers;
  normalised values are not VBench's to give, so a caller passes them as extra `AggregateRow`s.

Re-importing is idempotent: every write is an upsert keyed as in the store.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from vbench_lite import __version__
from vbench_lite.aggregate import canonical_dimension_name
from vbench_lite.errors import InputError
from vbench_lite.store import AggregateRow, ResultStore, ScoreRow, VideoRow

VBENCH_BACKEND = "vbench"
# VBench's files carry no scorer version; this marks "as computed by VBench itself".
VBENCH_DIMENSION_VERSION = "vbench"
VBENCH_RUN_PREFIX = "vbench-"
_SAMPLE_INDEX = re.compile(r"-(\d+)$")  # VBench names samples "{prompt}-{index}.mp4"
_LAYOUT = "expected VBench's layout {dimension: [aggregate, [{video_path, video_results}, ...]]}"
_RUN_FILES = ("manifest.json", "scores.parquet", "eval_results.json", "summary.json")


@dataclass
class VBenchDimension:
    """One dimension of an eval_results.json: the file's aggregate and its per-video entries."""

    aggregate: float | None
    entries: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EvalResults:
    path: Path
    sha256: str
    dimensions: dict[str, VBenchDimension]


def import_path(
    store: ResultStore,
    path: str | Path,
    model_name: str | None = None,
    aggregates: Iterable[AggregateRow] = (),
) -> str:
    """Import a run directory or a VBench eval_results.json; return the stored run id.

    `aggregates` are stored too, replacing any imported aggregate of the same name (e.g. the
    normalised scores and Quality / Semantic / Total that the aggregation module computes).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"nothing to import at {path}: give a vbl run directory or a VBench *eval_results.json file")
    if path.is_dir():
        if (path / "manifest.json").exists():
            return import_run_dir(store, path, aggregates)
        found = sorted(path.glob("*eval_results.json"))
        if len(found) != 1:
            what = "none" if not found else ", ".join(p.name for p in found)
            raise InputError(
                f"{path} is not a vbl run directory (no manifest.json) and holds "
                f"{'no' if not found else 'several'} *eval_results.json ({what}); "
                "give a run directory or one eval_results.json file"
            )
        path = found[0]
    return import_eval_results(store, path, model_name, aggregates)


# ---------------------------------------------------------------------------------------------
# A bare VBench eval_results.json
# ---------------------------------------------------------------------------------------------


def read_eval_results(path: str | Path) -> EvalResults:
    """Parse and check a VBench eval_results.json; any unusable file is a one-line InputError."""
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        data = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        where = f" (line {error.lineno}, column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
        raise InputError(f"{path.name} is not JSON{where}; give a VBench eval_results.json") from None
    if not isinstance(data, dict):
        raise InputError(f"{path.name}: top level is {_describe(data)}; {_LAYOUT}")
    if not data:
        raise InputError(f"{path.name} holds no dimension scores; {_LAYOUT}")
    dimensions: dict[str, VBenchDimension] = {}
    for key, entry in data.items():
        if not (isinstance(entry, list) and len(entry) >= 2 and isinstance(entry[1], list)):
            raise InputError(f"{path.name}: '{key}' is {_describe(entry)}; {_LAYOUT}")
        for index, item in enumerate(entry[1]):
            if not (isinstance(item, dict) and isinstance(item.get("video_path"), str) and "video_results" in item):
                raise InputError(
                    f"{path.name}: '{key}' video #{index} is {_describe(item)}, "
                    f"without video_path / video_results; {_LAYOUT}"
                )
        aggregate = _number(entry[0])
        dimensions[canonical_dimension_name(str(key))] = VBenchDimension(aggregate, entry[1])
    return EvalResults(path, hashlib.sha256(content).hexdigest(), dimensions)


def import_eval_results(
    store: ResultStore,
    path: str | Path,
    model_name: str | None = None,
    aggregates: Iterable[AggregateRow] = (),
) -> str:
    results = read_eval_results(path)
    run_id = VBENCH_RUN_PREFIX + results.sha256[:16]
    stem = results.path.stem
    model = model_name or stem.removesuffix("_eval_results").removesuffix("eval_results") or stem
    manifest = {
        "schema_version": 1,
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "status": "complete",
        "vbl": {"version": __version__},
        "model": {"name": model, "revision": None, "weights_sha256": None, "task": None},
        "prompt_suite": None,
        "aggregation": None,
        "dimensions": {
            name: {"version": VBENCH_DIMENSION_VERSION, "backend": VBENCH_BACKEND} for name in results.dimensions
        },
        "source": f"import of VBench {results.path.name}",
        "imported_from": {
            "path": str(results.path.resolve()),
            "sha256": results.sha256,
            "format": "vbench eval_results.json",
        },
    }
    store.begin_run(run_id, manifest)
    _record_eval_results(store, run_id, results, backends={})
    rows = _raw_aggregates(results, backends={})
    store.finish_run(run_id, "complete", _merged(rows, aggregates))
    return run_id


def _record_eval_results(
    store: ResultStore, run_id: str, results: EvalResults, backends: dict[str, tuple[str, str]]
) -> None:
    """One transaction per video, holding its scores on every dimension of the file."""
    paths = [item["video_path"] for dim in results.dimensions.values() for item in dim.entries]
    root = _common_folder(paths)
    per_video: dict[str, tuple[VideoRow, dict[str, ScoreRow]]] = {}
    for name, dimension in results.dimensions.items():
        backend, version = backends.get(name, (VBENCH_BACKEND, VBENCH_DIMENSION_VERSION))
        for item in dimension.entries:
            key = _video_key(item["video_path"], root)
            if key not in per_video:
                per_video[key] = (_vbench_video(key, item["video_path"]), {})
            per_video[key][1][name] = _vbench_score(key, name, backend, version, item)
    for video, by_dimension in per_video.values():
        store.record_video(run_id, video, list(by_dimension.values()))


def _vbench_video(key: str, video_path: str) -> VideoRow:
    stem = Path(video_path).stem
    match = _SAMPLE_INDEX.search(stem)
    prompt = stem[: match.start()] if match else stem
    return VideoRow(
        video_key=key,
        path=video_path,
        prompt_id=prompt,
        prompt=prompt,
        sample_index=int(match.group(1)) if match else 0,
        seed=None,
    )


def _vbench_score(key: str, dimension: str, backend: str, version: str, item: dict[str, Any]) -> ScoreRow:
    extra = {k: v for k, v in item.items() if k not in ("video_path", "video_results")}
    value = _number(item["video_results"])
    if value is None:
        # A list or a string (some VBench variants) is kept, not coerced into a wrong number.
        extra["video_results"] = item["video_results"]
        return ScoreRow(
            key,
            dimension,
            backend,
            version,
            "failed",
            None,
            extra,
            error="video_results is not a number",
        )
    return ScoreRow(key, dimension, backend, version, "ok", value, extra)


def _raw_aggregates(results: EvalResults, backends: dict[str, tuple[str, str]]) -> list[AggregateRow]:
    return [
        AggregateRow(
            name,
            dim.aggregate,
            None,
            len(dim.entries),
            backend=backends.get(name, (VBENCH_BACKEND, ""))[0],
        )
        for name, dim in results.dimensions.items()
    ]


# ---------------------------------------------------------------------------------------------
# One of our run directories
# ---------------------------------------------------------------------------------------------


def import_run_dir(store: ResultStore, run_dir: str | Path, aggregates: Iterable[AggregateRow] = ()) -> str:
    run_dir = Path(run_dir)
    manifest = _read_json(run_dir / "manifest.json")
    if not isinstance(manifest, dict):
        raise InputError(f"{run_dir / 'manifest.json'} is {_describe(manifest)}, not a vbl manifest object")
    run_id = str(manifest.get("run_id") or run_dir.resolve().name)
    stored = {**manifest, "run_id": run_id, "run_dir": str(run_dir.resolve())}
    if manifest.get("run_dir") and manifest["run_dir"] != stored["run_dir"]:
        stored["imported_from"] = {"run_dir": manifest["run_dir"]}  # where the run was made
    dims = manifest.get("dimensions")
    dims = dims if isinstance(dims, dict) else {}
    backends = {
        canonical_dimension_name(name): (
            str(d.get("backend") or VBENCH_BACKEND),
            str(d.get("version") or ""),
        )
        for name, d in dims.items()
        if isinstance(d, dict)
    }

    store.begin_run(run_id, stored)
    results = None
    if (run_dir / "scores.parquet").exists():
        _record_scores_table(store, run_id, run_dir)
    elif (run_dir / "eval_results.json").exists():
        results = read_eval_results(run_dir / "eval_results.json")
        _record_eval_results(store, run_id, results, backends)
    rows: list[AggregateRow] = []
    if (run_dir / "summary.json").exists():
        rows = _summary_aggregates(run_dir / "summary.json")
    elif results is not None:
        rows = _raw_aggregates(results, backends)
    store.finish_run(run_id, str(manifest.get("status") or "complete"), _merged(rows, aggregates))
    return run_id


_SCORE_COLUMNS_NEEDED = ("video_key", "dimension", "status", "value")


def _record_scores_table(store: ResultStore, run_id: str, run_dir: Path) -> None:
    import pandas as pd

    path = run_dir / "scores.parquet"
    try:
        table = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several unrelated types for a broken file
        raise InputError(f"cannot read {path}: {_first_line(error)}; re-run or re-copy the run") from None
    missing = [c for c in _SCORE_COLUMNS_NEEDED if c not in table.columns]
    if missing:
        raise InputError(f"{path} lacks column(s) {', '.join(missing)}; is it a vbl scores table?")
    facts = _video_facts(run_dir)
    for key, rows in table.groupby("video_key", sort=True):
        first = rows.iloc[0]
        scores = [
            ScoreRow(
                video_key=str(key),
                dimension=str(row["dimension"]),
                backend=_text(row, "backend", VBENCH_BACKEND),
                dimension_version=_text(row, "dimension_version", ""),
                status=str(row["status"]),
                value=_number(_cell(row, "value")),
                extra=_extra(_cell(row, "extra")),
                error=_cell(row, "error"),
            )
            for _, row in rows.iterrows()
        ]
        all_failed = all(s.status == "failed" for s in scores)
        video = VideoRow(
            video_key=str(key),
            path=_text(first, "video_path", str(key)),
            prompt_id=_text(first, "prompt_id", ""),
            prompt=_text(first, "prompt", ""),
            sample_index=int(_cell(first, "sample_index") or 0),
            seed=None if _cell(first, "seed") is None else int(_cell(first, "seed")),
            status="failed" if all_failed else "ok",
            error=scores[0].error if all_failed else None,
        )
        for name, value in facts.get(str(key), {}).items():
            setattr(video, name, value)
        store.record_video(run_id, video, scores)


def _video_facts(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Per-video fps / size / status from an optional videos.parquet, keyed by video_key."""
    path = run_dir / "videos.parquet"
    if not path.exists():
        return {}
    import pandas as pd

    table = pd.read_parquet(path)
    if "video_key" not in table.columns:
        return {}
    wanted = [c for c in ("fps", "num_frames", "width", "height", "status", "error") if c in table.columns]
    return {str(row["video_key"]): {c: _cell(row, c) for c in wanted} for _, row in table.iterrows()}


def _summary_aggregates(path: Path) -> list[AggregateRow]:
    """summary.json: {dimensions: {dim: {raw, normalised, n, backend, group}}, quality, ...}."""
    summary = _read_json(path)
    if not isinstance(summary, dict):
        raise InputError(f"{path} is {_describe(summary)}, not a vbl summary object")
    dims = summary.get("dimensions") or {}
    rows = [
        AggregateRow(
            name,
            _number(d.get("raw")),
            _number(d.get("normalised")),
            int(d.get("n") or 0),
            d.get("backend"),
            d.get("group"),
        )
        for name, d in dims.items()
        if isinstance(d, dict)
    ]
    for name in ("quality", "semantic", "i2v", "total"):  # "i2v": image-to-video runs' second group
        if name in summary:
            # As the runner stores them (outputs.RunSummary.aggregate_rows): the group score in
            # both value columns, n = 0, so an imported run reads exactly like an evaluated one.
            value = _number(summary[name])
            rows.append(AggregateRow(name, value, value, 0, group="summary"))
    return rows


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _merged(imported: list[AggregateRow], given: Iterable[AggregateRow]) -> list[AggregateRow]:
    by_name = {row.name: row for row in imported}
    by_name.update({row.name: row for row in given})
    return list(by_name.values())


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not valid JSON ({_first_line(error)}); fix or re-create it") from None


def _number(value: Any) -> float | None:
    """A finite float (bools as 0/1), or None for anything that is not a number."""
    if isinstance(value, np.generic):  # numpy scalars from parquet
        value = value.item()
    if isinstance(value, bool | int | float):
        number = float(value)
        return None if math.isnan(number) else number
    return None


def _cell(row: Any, column: str) -> Any:
    """A parquet cell as a plain Python value, with pandas' missing values as None."""
    import pandas as pd

    if column not in row.index:
        return None
    value = row[column]
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _text(row: Any, column: str, default: str) -> str:
    """A text cell verbatim ("" stays ""); the default only where the column or value is absent."""
    value = _cell(row, column)
    return default if value is None else str(value)


def _extra(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {"text": value}
        return parsed if isinstance(parsed, dict) else {"value": parsed}
    return {}


def _common_folder(paths: list[str]) -> str | None:
    folders = [os.path.dirname(p) for p in paths]
    try:
        return os.path.commonpath(folders) if folders else None
    except ValueError:  # absolute and relative paths mixed: keep whole paths as keys
        return None


def _video_key(video_path: str, root: str | None) -> str:
    """The path relative to the folder all the file's videos share (unique within the run)."""
    return os.path.relpath(video_path, root) if root else video_path


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str)
    kind = type(value).__name__
    return f"a {kind} {text}" if len(text) <= 40 else f"a {kind} {text[:37]}..."


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
