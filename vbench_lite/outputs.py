"""What a finished run leaves behind: the summary, VBench's `eval_results.json`, the long scores
table and the printed score table. Everything here is computed from the store's rows, so a resumed
run and an uninterrupted one write the same files.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.table import Table

from vbench_lite import registry
from vbench_lite.aggregate import Aggregate, AggregationScheme, aggregate
from vbench_lite.dimension import Dimension, ScoringContext, VideoScore
from vbench_lite.rundir import (
    DimensionSummary,
    Manifest,
    Summary,
    write_eval_results,
    write_scores,
    write_summary,
)
from vbench_lite.store import AggregateRow

GROUP_LABELS = {"quality": "Quality", "semantic": "Semantic", "i2v": "I2V"}


@dataclass
class DimensionResult:
    name: str
    group: str
    backend: str
    n: int
    failed: int
    skipped: int
    raw: float | None
    normalised: float | None


@dataclass
class RunSummary:
    dimensions: list[DimensionResult]
    aggregate: Aggregate
    videos: int
    failed_videos: int
    # dimension -> why its aggregate is the plain mean of per-video values (imports only)
    notes: dict[str, str] = field(default_factory=dict)

    def aggregate_rows(self) -> list[AggregateRow]:
        rows = [
            AggregateRow(name=d.name, raw=d.raw, normalised=d.normalised, n=d.n,
                         backend=d.backend, group=d.group)
            for d in self.dimensions
        ]
        summaries = {**self.aggregate.groups, "total": self.aggregate.total}  # quality, semantic|i2v, total
        for name, value in summaries.items():
            rows.append(AggregateRow(name=name, raw=value, normalised=value, n=0, group="summary"))
        return rows

    def to_file(self) -> Summary:
        agg = self.aggregate
        return Summary(
            aggregation=agg.scheme,
            dimensions={
                d.name: DimensionSummary(**{k: v for k, v in asdict(d).items() if k != "name"})
                for d in self.dimensions
            },
            quality=agg.quality, semantic=agg.semantic, i2v=agg.i2v, total=agg.total,
            quality_partial=agg.quality_partial, semantic_partial=agg.semantic_partial,
            i2v_partial=agg.groups_partial.get("i2v"),
            missing=agg.missing, videos=self.videos, failed_videos=self.failed_videos,
        )


def video_scores(rows: pd.DataFrame, dimension: Dimension) -> list[VideoScore]:
    """The store's ok rows of one dimension, back as the VideoScores the dimension returned."""
    scores = []
    for value, extra in zip(rows["value"], rows["extra"], strict=True):
        parsed = _extra_dict(extra)
        value = bool(value) if dimension.value_kind == "bool" else float(value)
        scores.append(VideoScore(value=value, extra=parsed))
    return scores


def _extra_dict(extra: object) -> dict:
    """A score's extra keys: the store hands back JSON text, an import hands over the parsed dict."""
    if isinstance(extra, dict):
        return extra
    return json.loads(extra) if isinstance(extra, str) and extra else {}


def summarise(
    scores: pd.DataFrame, dimensions: dict[str, Dimension], scheme: AggregationScheme,
    requested: list[str], lenient: bool = False, long: bool = False,
) -> RunSummary:
    """Each dimension's aggregate from its ok rows, normalised, then Quality / Semantic / Total.

    `lenient` (imports): where a dimension's own aggregate cannot be computed from what the file
    holds (VBench's files lack the pair counts our pair-weighted aggregates need), the plain mean
    of the per-video values is taken and `notes` says so. `long` (VBench-Long): the plain mean of
    the per-video values (each already a mean over clips), in the aggregate's units.
    """
    results = []
    raw: dict[str, float] = {}
    notes: dict[str, str] = {}
    for name in requested:
        rows = scores[scores["dimension"] == name]
        ok = rows[rows["status"] == "ok"]
        dimension = dimensions[name]
        value = None
        if len(ok) and long:
            value = float(ok["value"].astype(float).mean()) * dimension.video_value_scale
        elif len(ok):
            try:
                value = dimension.aggregate(video_scores(ok, dimension))
            except (KeyError, TypeError, ValueError) as error:
                if not lenient:
                    raise
                value = float(ok["value"].astype(float).mean()) * dimension.video_value_scale
                notes[name] = f"plain mean of per-video values ({type(error).__name__}: {error})"
        if value is not None and math.isnan(value):
            value = None
        if value is not None:
            raw[name] = value
        backend = ok["backend"].iloc[0] if len(ok) else dimension.backend
        results.append(DimensionResult(
            name=name, group=dimension.group, backend=backend, n=len(ok),
            failed=int((rows["status"] == "failed").sum()),
            skipped=int((rows["status"] == "skipped").sum()),
            raw=value, normalised=scheme.normalise(name, value) if value is not None else None,
        ))
    failed_videos = scores.loc[scores["status"] == "failed", "video_key"].nunique()
    return RunSummary(
        dimensions=results, aggregate=aggregate(raw, scheme),
        videos=int(scores["video_key"].nunique()), failed_videos=int(failed_videos), notes=notes,
    )


def imported_dimensions(
    names: list[str], manifest: Manifest, scheme: AggregationScheme
) -> dict[str, Dimension]:
    """Dimension objects to aggregate stored scores with (no model is loaded): the installed
    plugin's, else a plain mean in the group the scheme or the manifest gives."""
    found: dict[str, Dimension] = {}
    installed = set(registry.dimension_names())
    for name in names:
        if name in installed:
            found[name] = registry.load_dimension_class(name)(ScoringContext())
            continue
        record = manifest.dimensions.get(name)
        norm = scheme.dims.get(name)
        group = norm.group if norm else (record.group if record and record.group else "extra")
        found[name] = type(f"PlainMean_{name}", (_PlainMean,), {"name": name, "group": group})()
    return found


class _PlainMean(Dimension):
    """Aggregates a dimension no installed plugin provides: the mean of its per-video values."""

    name = "plain_mean"
    version = "0"
    group = "extra"

    def score_batch(self, videos: list[Any]) -> list[VideoScore]:
        raise NotImplementedError("aggregates stored scores only")


def eval_results(scores: pd.DataFrame, summary: RunSummary, dimensions: dict[str, Dimension]) -> dict:
    """VBench's layout: {dimension: [aggregate, [{"video_path", "video_results", ...extra, "backend"}]]}.

    Each per-video entry names the backend that scored it (VBench's layout allows extra keys and
    its own files have none), so an import of this file never mistakes it for VBench's own numbers.
    """
    out: dict[str, Any] = {}
    for result in summary.dimensions:
        if result.raw is None:
            continue
        rows = scores[(scores["dimension"] == result.name) & (scores["status"] == "ok")]
        per_video = []
        scored = zip(rows["video_path"], rows["backend"], video_scores(rows, dimensions[result.name]), strict=True)
        for path, backend, score in scored:
            per_video.append({"video_path": path, "video_results": score.value, **score.extra, "backend": backend})
        out[result.name] = [result.raw, per_video]
    return out


def write_run_outputs(
    run_dir: Path, scores: pd.DataFrame, summary: RunSummary, dimensions: dict[str, Dimension]
) -> None:
    write_eval_results(run_dir, eval_results(scores, summary, dimensions))
    write_summary(run_dir, summary.to_file())
    write_scores(run_dir, scores)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"


def score_table(summary: RunSummary, title: str = "") -> Table:
    """Each dimension's raw and normalised score, then the scheme's groups (Quality and Semantic, or
    Quality and I2V) and Total."""
    table = Table(title=title or None)
    for column in ("dimension", "group", "backend", "videos", "raw", "normalised"):
        table.add_column(column, justify="right" if column in ("videos", "raw", "normalised") else "left")
    for d in summary.dimensions:
        videos = str(d.n) + (f" ({d.failed} failed)" if d.failed else "")
        table.add_row(d.name, d.group, d.backend, videos,
                      "missing" if d.raw is None else f"{d.raw:.4f}", _pct(d.normalised))
    agg = summary.aggregate
    table.add_section()
    for group, value in agg.groups.items():
        label, partial = GROUP_LABELS.get(group, group), agg.groups_partial.get(group)
        missing = agg.missing.get(group, [])
        if value is not None:
            table.add_row(label, "", "", "", "", _pct(value))
        elif partial is not None:
            table.add_row(label, "", "", "", "", f"{_pct(partial)} partial, {len(missing)} dims missing")
        else:
            table.add_row(label, "", "", "", "", "missing")
    table.add_row("Total", "", "", "", "", _pct(agg.total) if agg.total is not None else "missing")
    return table
