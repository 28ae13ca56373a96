"""`vbl import`: put results made elsewhere into the results store.

Two inputs are understood:

- one of our run directories: `manifest.json` + `scores.parquet` (or, without it,
  `eval_results.json`), optionally `videos.parquet` with per-video facts;
- a bare VBench `*eval_results.json`, `{dimension: [aggregate, [{"video_path", "video_results",
  ...extra}]]}`. Its run id is a hash of the file's bytes. Per-video bools become 0/1; keys other
  than video_path / video_results go to the score's `extra`; the prompt id is the file stem with
  VBench's trailing `-<index>` removed.

What an import may never do, whoever sends the file:
- change a stored run: a run id already in the store is refused (or, with `new_id=True`, the run
  is stored under a new id and the collision is reported in its manifest);
- carry its own aggregates in: every dimension's aggregate and Quality / Semantic / Total are
  recomputed from the per-video scores, as the runner computes them (a `summary.json` in the
  bundle is ignored);
- leave half a run behind: the run, its videos, scores and aggregates go in one transaction.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vbench_lite import __version__
from vbench_lite.aggregate import AggregationScheme, load_scheme, scheme_for_task
from vbench_lite.errors import InputError
from vbench_lite.outputs import imported_dimensions, summarise
from vbench_lite.rundir import (
    EVAL_RESULTS,
    SCORES,
    AggregationRecord,
    EvalResults,
    Manifest,
    ModelRecord,
    RunStatus,
    ScorerRecord,
    has_manifest,
    read_eval_results,
    read_manifest,
    read_scores,
)
from vbench_lite.store import ResultStore, ScoreRow, VideoRow

VBENCH_BACKEND = "vbench"
# VBench's files carry no scorer version; this marks "as computed by VBench itself".
VBENCH_DIMENSION_VERSION = "vbench"
VBENCH_RUN_PREFIX = "vbench-"
_SAMPLE_INDEX = re.compile(r"-(\d+)$")  # VBench names samples "{prompt}-{index}.mp4"

__all__ = ["ImportedRun", "import_path", "read_eval_results", "vbench_run_id"]


@dataclass
class ImportedRun:
    """A run read from a file, not yet stored: what `store.add_run` writes in one transaction."""

    manifest: Manifest
    videos: list[tuple[VideoRow, list[ScoreRow]]]


def import_path(store: ResultStore, path: str | Path, model_name: str | None = None, new_id: bool = False) -> str:
    """Import a run directory or a VBench eval_results.json; return the stored run id."""
    run = read_import(Path(path), model_name)
    wanted = run.manifest.run_id
    if store.has_run(wanted):
        if not new_id:
            raise InputError(f"run {wanted} is already in the store and an import never changes a stored run; "
                             "pass --new-id to import it as a new run")
        run.manifest.run_id = f"{wanted}-import-{uuid.uuid4().hex[:8]}"
        run.manifest.imported_from = {**(run.manifest.imported_from or {}), "collided_with": wanted}
    scores = _scores_frame(run)
    names = list(dict.fromkeys(scores["dimension"]))
    scheme = _import_scheme(run.manifest, names)
    summary = summarise(scores, imported_dimensions(names, run.manifest, scheme), scheme, names, lenient=True)
    if summary.notes:
        run.manifest.imported_from = {**(run.manifest.imported_from or {}), "aggregate_notes": summary.notes}
    store.add_run(run.manifest, run.videos, summary.aggregate_rows())
    return run.manifest.run_id


def _import_scheme(manifest: Manifest, names: list[str]) -> AggregationScheme:
    """The run's own scheme; for a bare VBench file, VBench++'s image-to-video scheme when it holds an
    I2V dimension (recorded in the manifest, with the task), else VBench's."""
    if manifest.aggregation is not None and manifest.aggregation.name:
        return load_scheme(manifest.aggregation.name)
    task = "i2v" if set(names) & set(load_scheme(scheme_for_task("i2v")).group_dims("i2v")) else "t2v"
    scheme = load_scheme(scheme_for_task(task))
    manifest.aggregation = AggregationRecord(name=scheme.name, version=scheme.version)
    manifest.model.task = manifest.model.task or task
    return scheme


def read_import(path: Path, model_name: str | None = None) -> ImportedRun:
    """The run a path holds (checked, one-line InputError otherwise); nothing is written."""
    if not path.exists():
        raise InputError(f"nothing to import at {path}: give a vbl run directory or a VBench *eval_results.json file")
    if path.is_dir():
        if has_manifest(path):
            return _read_run_dir(path)
        found = sorted(path.glob("*eval_results.json"))
        if len(found) != 1:
            what = "none" if not found else ", ".join(p.name for p in found)
            raise InputError(
                f"{path} is not a vbl run directory (no manifest.json) and holds "
                f"{'no' if not found else 'several'} *eval_results.json ({what}); "
                "give a run directory or one eval_results.json file"
            )
        path = found[0]
    return _read_vbench_file(path, model_name)


def vbench_run_id(results: EvalResults) -> str:
    return VBENCH_RUN_PREFIX + results.sha256[:16]


# -- a bare VBench eval_results.json --------------------------------------------------------------


def _read_vbench_file(path: Path, model_name: str | None) -> ImportedRun:
    results = read_eval_results(path)
    for name, dimension in results.dimensions.items():
        if not dimension.entries:
            raise InputError(f"{path.name}: '{name}' has no per-video results; an import recomputes every "
                             "aggregate from them, so give VBench's full eval_results.json")
    stem = path.stem
    manifest = Manifest(
        run_id=vbench_run_id(results),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        status=RunStatus.COMPLETE,
        vbl={"version": __version__},
        model=ModelRecord(name=model_name or stem.removesuffix("_eval_results").removesuffix("eval_results") or stem),
        dimensions={name: _file_scorer(dimension.entries) for name, dimension in results.dimensions.items()},
        source=f"import of VBench {path.name}",
        imported_from={"path": str(path.resolve()), "sha256": results.sha256, "format": "vbench eval_results.json"},
    )
    return ImportedRun(manifest, _eval_results_videos(results, manifest.dimensions))


def _file_scorer(entries: list[dict[str, Any]]) -> ScorerRecord:
    """VBench's own files name no backend: their numbers are VBench's. vbl's files name the backend
    in every entry; a scorer version is not recorded there."""
    recorded = next((str(e["backend"]) for e in entries if e.get("backend")), None)
    if recorded is None:
        return ScorerRecord(version=VBENCH_DIMENSION_VERSION, backend=VBENCH_BACKEND)
    return ScorerRecord(version=None, backend=recorded)


def _eval_results_videos(
    results: EvalResults, scorers: dict[str, ScorerRecord]
) -> list[tuple[VideoRow, list[ScoreRow]]]:
    """One video per path, holding its scores on every dimension of the file."""
    paths = [item["video_path"] for dim in results.dimensions.values() for item in dim.entries]
    root = _common_folder(paths)
    per_video: dict[str, tuple[VideoRow, dict[str, ScoreRow]]] = {}
    for name, dimension in results.dimensions.items():
        scorer = scorers.get(name) or ScorerRecord(version=VBENCH_DIMENSION_VERSION, backend=VBENCH_BACKEND)
        for item in dimension.entries:
            key = _video_key(item["video_path"], root)
            if key not in per_video:
                per_video[key] = (_vbench_video(key, item["video_path"]), {})
            per_video[key][1][name] = _vbench_score(key, name, scorer, item)
    return [(video, list(by_dimension.values())) for video, by_dimension in per_video.values()]


def _vbench_video(key: str, video_path: str) -> VideoRow:
    stem = Path(video_path).stem
    match = _SAMPLE_INDEX.search(stem)
    prompt = stem[: match.start()] if match else stem
    return VideoRow(video_key=key, path=video_path, prompt_id=prompt, prompt=prompt,
                    sample_index=int(match.group(1)) if match else 0, seed=None)


def _vbench_score(key: str, dimension: str, scorer: ScorerRecord, item: dict[str, Any]) -> ScoreRow:
    extra = {k: v for k, v in item.items() if k not in ("video_path", "video_results", "backend")}
    value = _number(item["video_results"])
    # The entry's own backend (vbl writes one into each entry) wins over the scorer's default.
    backend, version = str(item.get("backend") or scorer.backend or VBENCH_BACKEND), str(scorer.version or "")
    if value is None:
        # A list or a string (some VBench variants) is kept, not coerced into a wrong number.
        extra["video_results"] = item["video_results"]
        return ScoreRow(key, dimension, backend, version, "failed", None, extra, error="video_results is not a number")
    return ScoreRow(key, dimension, backend, version, "ok", value, extra)


# -- one of our run directories ------------------------------------------------------------------


def _read_run_dir(run_dir: Path) -> ImportedRun:
    manifest = read_manifest(run_dir)
    here = str(run_dir.resolve())
    # Every import says so (the leaderboard serves an imported run's videos from --results only).
    manifest.imported_from = {**(manifest.imported_from or {}), "path": here}
    if manifest.run_dir and manifest.run_dir != here:
        manifest.imported_from["run_dir"] = manifest.run_dir  # where it was made
    manifest.run_dir = here
    if not manifest.status.finished:
        raise InputError(f"{run_dir} holds run {manifest.run_id} with status '{manifest.status}': a half-written "
                         "run; finish it with `vbl evaluate … --resume` first")
    if (run_dir / SCORES).exists():
        videos = _scores_table_videos(read_scores(run_dir), _video_facts(run_dir))
    elif (run_dir / EVAL_RESULTS).exists():
        videos = _eval_results_videos(read_eval_results(run_dir / EVAL_RESULTS), manifest.dimensions)
    else:
        raise InputError(f"{run_dir} has neither {SCORES} nor {EVAL_RESULTS}: no scores to import")
    return ImportedRun(manifest, videos)


def _scores_table_videos(
    table: pd.DataFrame, facts: dict[str, dict[str, Any]]
) -> list[tuple[VideoRow, list[ScoreRow]]]:
    videos = []
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
        videos.append((video, scores))
    return videos


def _video_facts(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Per-video fps / size / status from an optional videos.parquet, keyed by video_key."""
    path = run_dir / "videos.parquet"
    if not path.exists():
        return {}
    try:
        table = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several unrelated types for a broken file
        raise InputError(f"{path} is unreadable ({str(error).splitlines()[0]}); remove or re-copy it") from None
    if "video_key" not in table.columns:
        return {}
    wanted = [c for c in ("fps", "num_frames", "width", "height", "status", "error") if c in table.columns]
    return {str(row["video_key"]): {c: _cell(row, c) for c in wanted} for _, row in table.iterrows()}


def _scores_frame(run: ImportedRun) -> pd.DataFrame:
    """The run's scores in the store's long format, for the aggregate computed from them."""
    rows = [
        {"video_key": s.video_key, "dimension": s.dimension, "backend": s.backend, "status": s.status,
         "value": s.value, "extra": s.extra}
        for _, scores in run.videos for s in scores
    ]
    return pd.DataFrame(rows, columns=["video_key", "dimension", "backend", "status", "value", "extra"])


# -- small helpers ---------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A finite float (bools as 0/1), or None for anything that is not a number."""
    if isinstance(value, np.generic):  # numpy scalars from parquet
        value = value.item()
    if isinstance(value, bool | int | float):
        number = float(value)
        return None if np.isnan(number) else number
    return None


def _cell(row: Any, column: str) -> Any:
    """A parquet cell as a plain Python value, with pandas' missing values as None."""
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
    import json

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
