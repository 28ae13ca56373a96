"""The leaderboard's tables, as pure functions: results store -> pandas DataFrames.

No Streamlit here, so every number the app shows is unit-tested.

- `load_board` reads the store once (read-only); `board_rows` makes one row per
  (model, revision, prompt suite, aggregation) from the latest finished run of that key.
  Values are the stored aggregates in percent (the VBench leaderboard shows
  x100); nothing the runner or `vbench_lite.aggregate` computed is recomputed here.
- A run's own 95 % intervals are a percentile bootstrap over prompts:
  resample the run's prompts with replacement, average each dimension's per-prompt means and,
  for Quality / Semantic / Total, feed the resampled raw scores through
  `vbench_lite.aggregate.aggregate`. The spread of that distribution is placed around the stored
  aggregate (interval = stored + (bootstrap quantile - plug-in mean)), because a dimension's own
  aggregate (e.g. a pair-weighted mean) may differ slightly from the plain mean over prompts.
- `rank_groups` keeps rows with different prompt suites, aggregation schemes, tasks or backend
  kinds apart: ranks are only given within a group, and the page says so.
- `paired_compare` is the compare page: per-dimension deltas over the prompts both runs share,
  computed by `vbl gate`'s own code (same interval, same verdict), and a win/tie/loss count.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from vbench_lite.aggregate import AggregationScheme, aggregate, load_scheme
from vbench_lite.errors import InputError, VblError
from vbench_lite.gate.compat import check_compatibility, scorer_differences
from vbench_lite.gate.decision import RowOutcome
from vbench_lite.gate.engine import compare
from vbench_lite.gate.inputs import ScoreSource, gate_scores, source_from_scores
from vbench_lite.gate.policy import load_policy
from vbench_lite.gate.stats import paired_bootstrap
from vbench_lite.rundir import Manifest, canonical_dimension_name
from vbench_lite.store import AGGREGATE_COLUMNS, RUN_COLUMNS, SCORE_COLUMNS, ResultStore

SUMMARY_NAMES = ("total", "quality", "semantic", "i2v")  # "i2v": the I2V scheme's second group
PARTIAL_NAMES = ("quality", "semantic", "i2v")  # the group scores that can be partial; Total never is
FINISHED = ("complete", "partial")  # the runner's end states; "running" is still being written
N_BOOTSTRAP = 1000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
TIE_TOLERANCE = 0.1  # percent points: per-prompt differences this small count as a tie
VBENCH_BACKEND = "vbench"
IDENTITY_COLUMNS = ["model", "revision", "suite", "aggregation"]
COMPARE_COLUMNS = ["dimension", "backend_a", "backend_b", "comparable", "shared_prompts", "mean_a", "mean_b", "delta",
                   "delta_lo", "delta_hi", "status", "wins", "ties", "losses"]


@dataclass
class Board:
    """Everything the pages read, fetched from the store in one go."""

    runs: pd.DataFrame
    aggregates: pd.DataFrame
    scores: pd.DataFrame
    manifests: dict[str, Manifest] = field(default_factory=dict)

    def manifest(self, run_id: str) -> Manifest:
        """The run's manifest; an empty one for a run that has none (a published row)."""
        return self.manifests.get(run_id) or Manifest(run_id=run_id)

    @property
    def empty(self) -> bool:
        return self.runs.empty

    def finished_runs(self) -> pd.DataFrame:
        return self.runs[self.runs["status"].isin(FINISHED)]

    def unfinished_runs(self) -> pd.DataFrame:
        return self.runs[~self.runs["status"].isin(FINISHED)]


def load_board(url: str) -> Board:
    """Read the whole store read-only. Raises `StoreUnreachable` (a one-line error) on failure."""
    with ResultStore(url, read_only=True) as store:
        runs = store.runs_frame()
        manifests = {run_id: _manifest(run_id, store.run_manifest(run_id)) for run_id in runs["run_id"]}
        return Board(
            runs=runs,
            aggregates=store.aggregates_frame(),
            scores=store.scores_frame(),
            manifests=manifests,
        )


def empty_board() -> Board:
    """The board of a store that does not exist yet: no runs (see `store_file_missing`)."""
    return Board(
        runs=pd.DataFrame(columns=RUN_COLUMNS),
        aggregates=pd.DataFrame(columns=AGGREGATE_COLUMNS),
        scores=pd.DataFrame(columns=SCORE_COLUMNS),
    )


def store_file_missing(url: str) -> Path | None:
    """The SQLite file a store URL names, when it does not exist yet: nothing was stored there, so
    the board has no runs (an unreachable server or a damaged file is still an error)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    database = parsed.database or ""
    if not parsed.drivername.startswith("sqlite") or database in ("", ":memory:") or database.startswith("file:"):
        return None
    path = Path(database).expanduser()
    return None if path.exists() else path.absolute()


def run_age(created_at: Any, now: datetime | None = None) -> timedelta | None:
    """How long ago a run started (its `created_at`), or None when it has no readable time."""
    started = pd.to_datetime(created_at, utc=True, errors="coerce")
    if pd.isna(started):
        return None
    return (now or datetime.now(UTC)) - started.to_pydatetime()


def format_age(age: timedelta) -> str:
    """"3 d 4 h", "2 h 5 min", "12 min" (never negative: a clock ahead reads as just now)."""
    minutes = max(0, int(age.total_seconds() // 60))
    days, hours, mins = minutes // (24 * 60), minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def video_roots(board: Board, run_id: str) -> list[Path]:
    """Folders the run's own videos may be served from, besides the results root: the input
    folder `vbl evaluate --videos DIR` read (`config.videos`, stored absolute) and the run
    directory it wrote (generated videos). Only for a run vbl evaluated into this store: an
    imported run's manifest (every import records `imported_from`) came from elsewhere, so it
    widens nothing, and one run's folders never serve another run's paths."""
    manifest = board.manifest(run_id)
    if manifest.imported_from is not None:
        return []
    roots = []
    for folder in (manifest.config.get("videos"), manifest.run_dir):
        if isinstance(folder, str) and folder and "\x00" not in folder and Path(folder).is_absolute():
            path = Path(folder)
            roots.append(path.parent if path.is_file() else path)  # --videos may name one file
    return roots


def _manifest(run_id: str, stored: dict | None) -> Manifest:
    """A stored manifest as the typed record; one the store holds but vbl cannot read shows empty."""
    try:
        return Manifest.parse(stored, f"the manifest of run {run_id}") if stored else Manifest(run_id=run_id)
    except InputError:
        return Manifest(run_id=run_id)


def scheme_for(name: str | None) -> AggregationScheme:
    """The run's aggregation scheme; runs that name none (bare VBench imports) use the default."""
    try:
        return load_scheme(name) if name else load_scheme()
    except InputError:
        return load_scheme()


# ---------------------------------------------------------------------------------------------
# The main table
# ---------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA else str(value)


def latest_runs(board: Board) -> pd.DataFrame:
    """The newest finished run per (model, revision, suite, aggregation), with the run count."""
    runs = board.finished_runs().copy()
    if runs.empty:
        return runs.assign(runs=pd.Series(dtype="int64"))
    runs["model"] = runs["model_name"].map(_text)
    runs["revision"] = runs["model_revision"].map(_text)
    runs["suite"] = runs["prompt_suite"].map(_text)
    runs["aggregation"] = runs["aggregation"].map(_text)
    runs = runs.sort_values(["created_at", "run_id"])
    counts = runs.groupby(IDENTITY_COLUMNS, sort=False)["run_id"].transform("count")
    runs["runs"] = counts
    return runs.drop_duplicates(IDENTITY_COLUMNS, keep="last").reset_index(drop=True)


def prompt_matrix(scores: pd.DataFrame, run_id: str, aggregates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-prompt mean of the ok per-video values: index prompt_id, one column per dimension.

    With `aggregates`, each column is put in the units of the run's stored raw aggregate: scaled
    by stored aggregate / mean of the per-video values. A dimension's aggregate may be a rescaled
    mean (VBench's imaging quality stores MUSIQ's 0-100 per video and divides by 100) or a
    weighted one (pair-weighted consistency); this keeps intervals and deltas in the units the
    board shows, and leaves a plain-mean dimension untouched (factor 1).
    """
    ok = scores[(scores["run_id"] == run_id) & (scores["status"] == "ok") & scores["value"].notna()]
    if ok.empty:
        return pd.DataFrame()
    matrix = ok.pivot_table(index="prompt_id", columns="dimension", values="value", aggfunc="mean")
    for dim, factor in unit_factors(scores, aggregates, run_id).items():
        if dim in matrix.columns:
            matrix[dim] = matrix[dim] * factor
    return matrix


def unit_factors(scores: pd.DataFrame, aggregates: pd.DataFrame | None, run_id: str) -> dict[str, float]:
    """Per dimension: stored raw aggregate / mean of the ok per-video values (1 for a plain mean)."""
    if aggregates is None:
        return {}
    ok = scores[(scores["run_id"] == run_id) & (scores["status"] == "ok") & scores["value"].notna()]
    mine = aggregates[aggregates["run_id"] == run_id]
    stored = dict(zip(mine["name"].map(canonical_dimension_name), mine["raw"], strict=True))
    factors: dict[str, float] = {}
    means: dict[Any, Any] = ok.groupby("dimension")["value"].mean().to_dict()
    for dim, mean in means.items():
        target = stored.get(canonical_dimension_name(str(dim)))
        if target is not None and not pd.isna(target) and mean != 0:
            factors[str(dim)] = float(target) / float(mean)
    return factors


def bootstrap_means(matrix: np.ndarray, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """[n_boot, dims] means over prompts resampled with replacement (NaN cells are skipped).

    Resampling is drawn as multinomial counts per prompt, so memory is n_boot x prompts, not
    n_boot x prompts x dims.
    """
    prompts = matrix.shape[0]
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(prompts, np.full(prompts, 1.0 / prompts), size=n_boot).astype(float)
    present = ~np.isnan(matrix)
    totals = counts @ np.where(present, matrix, 0.0)
    weights = counts @ present.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return totals / weights


def _interval(point: float, draws: np.ndarray, plugin: float) -> tuple[float, float]:
    draws = draws[~np.isnan(draws)]
    if math.isnan(point) or draws.size == 0 or math.isnan(plugin):
        return math.nan, math.nan
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return point + (low - plugin), point + (high - plugin)


def run_intervals(
    matrix: pd.DataFrame,
    stored_raw: dict[str, float],
    stored_summary: dict[str, float],
    scheme: AggregationScheme,
    n_boot: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, tuple[float, float]]:
    """95 % intervals (fractions, raw scale for dimensions) keyed by dimension or summary name."""
    if matrix.empty:
        return {}
    dims = [canonical_dimension_name(d) for d in matrix.columns]
    values = matrix.to_numpy(dtype=float)
    plugin = np.nanmean(values, axis=0)
    draws = bootstrap_means(values, n_boot, seed)
    intervals = {dim: _interval(stored_raw.get(dim, math.nan), draws[:, i], plugin[i]) for i, dim in enumerate(dims)}
    if any(not math.isnan(stored_summary.get(name, math.nan)) for name in SUMMARY_NAMES):
        plugin_agg = aggregate(dict(zip(dims, plugin, strict=True)), scheme)
        resampled = [aggregate(dict(zip(dims, row, strict=True)), scheme) for row in draws]
        for name in SUMMARY_NAMES:
            stored = stored_summary.get(name, math.nan)
            plugin_value = getattr(plugin_agg, name, None)  # a scheme without this group has none
            series = np.array([_nan(getattr(agg, name, None)) for agg in resampled])
            intervals[name] = _interval(stored, series, _nan(plugin_value))
    return intervals


def _float(value: Any) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def backend_kind(backends: dict[str, str]) -> str:
    """vbench (every dimension scored VBench's way), embedded (none), mixed, or unknown."""
    kinds = {VBENCH_BACKEND if b == VBENCH_BACKEND else "embedded" for b in backends.values() if b}
    if not kinds:
        return "unknown"
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _run_backends(aggregates: pd.DataFrame, scores: pd.DataFrame, manifest: Manifest) -> dict[str, str]:
    rows = aggregates[~aggregates["name"].isin(SUMMARY_NAMES)]
    found = {canonical_dimension_name(n): _text(b) for n, b in zip(rows["name"], rows["backend"], strict=True)}
    for dim, backend in scores.drop_duplicates("dimension")[["dimension", "backend"]].itertuples(index=False):
        found.setdefault(canonical_dimension_name(dim), _text(backend))
    for dim, info in manifest.dimensions.items():
        if info.backend:
            found.setdefault(canonical_dimension_name(dim), str(info.backend))
    return found


def board_rows(board: Board, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED) -> pd.DataFrame:
    """One row per (model, revision, suite, aggregation) in percent, with intervals and n.

    Columns: identity (model, revision, suite, aggregation, task, run_id, runs, status,
    created_at, source, backend_kind, backends, prompts, videos), total / quality / semantic with
    `:lo` / `:hi`, and per dimension `dim:raw`, `dim:normalised`, their `_lo` / `_hi`, `dim:n`,
    `dim:backend`.
    """
    latest = latest_runs(board)
    rows = []
    for run in latest.to_dict("records"):
        run_id = str(run["run_id"])
        manifest = board.manifest(run_id)
        scheme = scheme_for(run["aggregation"] or None)
        aggs = board.aggregates[board.aggregates["run_id"] == run_id]
        scores = board.scores[board.scores["run_id"] == run_id]
        backends = _run_backends(aggs, scores, manifest)
        row: dict[str, Any] = {
            "model": run["model"],
            "revision": run["revision"],
            "suite": run["suite"],
            "aggregation": run["aggregation"],
            "task": _text(run["task"]),
            "run_id": run_id,
            "runs": int(run["runs"]),
            "status": run["status"],
            "created_at": run["created_at"],
            "source": _text(run["source"]) or "vbl run",
            "sampled_by": _text(manifest.sampled_by),
            "evaluated_by": _text(manifest.evaluated_by),
            "backend_kind": backend_kind(backends),
            "backends": ", ".join(f"{d}={b}" for d, b in sorted(backends.items())),
            "prompts": int(scores["prompt_id"].nunique()),
            "videos": int(scores["video_key"].nunique()),
        }
        stored_raw: dict[str, float] = {}
        stored_summary: dict[str, float] = {}
        for agg in aggs.to_dict("records"):
            name = canonical_dimension_name(str(agg["name"]))
            if name in SUMMARY_NAMES:
                stored_summary[name] = _nan(None if pd.isna(agg["normalised"]) else agg["normalised"])
                continue
            raw = _nan(None if pd.isna(agg["raw"]) else agg["raw"])
            stored_raw[name] = raw
            normalised = agg["normalised"]
            if pd.isna(normalised) and not math.isnan(raw):
                normalised = scheme.normalise(name, raw)  # imported VBench files carry raw only
            row[f"{name}:raw"] = 100 * raw
            row[f"{name}:normalised"] = 100 * _nan(None if normalised is None or pd.isna(normalised) else normalised)
            row[f"{name}:n"] = int(agg["n"]) if not pd.isna(agg["n"]) else 0
            row[f"{name}:backend"] = backends.get(name, "")
        for name in SUMMARY_NAMES:
            row[name] = 100 * stored_summary.get(name, math.nan)
        row.update(partial_scores(stored_raw, scheme))
        matrix = prompt_matrix(scores, run_id, aggs)
        intervals = run_intervals(matrix, stored_raw, stored_summary, scheme, n_boot, seed)
        for name, (low, high) in intervals.items():
            if name in SUMMARY_NAMES:
                row[f"{name}:lo"], row[f"{name}:hi"] = 100 * low, 100 * high
            elif f"{name}:raw" in row:
                row[f"{name}:raw_lo"], row[f"{name}:raw_hi"] = 100 * low, 100 * high
                norm_low, norm_high = scheme.normalise(name, low), scheme.normalise(name, high)
                if norm_low is not None and norm_high is not None:
                    row[f"{name}:normalised_lo"], row[f"{name}:normalised_hi"] = 100 * norm_low, 100 * norm_high
        rows.append(row)
    return pd.DataFrame(rows)


def partial_scores(stored_raw: dict[str, float], scheme: AggregationScheme) -> dict[str, float | int]:
    """Quality / Semantic (or I2V) over the dimensions a run has, for a run that lacks some (percent).

    `vbench_lite.aggregate` computes them as the CLI prints them ("70.29 % partial"); the board
    shows them labelled "partial (k/n)", k of the group's n dimensions present. A complete group
    has no partial score (its full score is stored); a group the run's scheme lacks is left out.
    """
    result = aggregate(stored_raw, scheme)
    partials = getattr(result, "groups_partial", None) or {
        "quality": result.quality_partial, "semantic": result.semantic_partial}  # per group of the scheme
    out: dict[str, float | int] = {}
    for group in PARTIAL_NAMES:
        of = len(scheme.group_dims(group))
        if not of:
            continue
        have = of - len(result.missing.get(group, []))
        partial = partials.get(group)
        out[f"{group}:partial"] = 100 * partial if partial is not None and have < of else math.nan
        out[f"{group}:have"], out[f"{group}:of"] = have, of
    return out


def group_score(rows: pd.DataFrame, name: str) -> pd.Series:
    """Quality or Semantic as shown: the full score, else the partial one (see `partial_scores`)."""
    full = rows[name] if name in rows else pd.Series(math.nan, index=rows.index)
    partial = rows.get(f"{name}:partial", pd.Series(math.nan, index=rows.index))
    return full.astype(float).fillna(partial.astype(float))


def is_partial(rows: pd.DataFrame, name: str) -> pd.Series:
    full = rows[name] if name in rows else pd.Series(math.nan, index=rows.index)
    partial = rows.get(f"{name}:partial", pd.Series(math.nan, index=rows.index))
    return full.isna() & partial.notna()


def dimensions_in(rows: pd.DataFrame) -> list[str]:
    """Dimension names that have a column in `rows`, in the order they first appear."""
    return [c.removesuffix(":raw") for c in rows.columns if c.endswith(":raw")]


def scored_dims(rows: pd.DataFrame, dims: list[str], mode: str = "raw") -> list[str]:
    """The dimensions of `dims` that at least one of `rows` has a `mode` value for: a section of
    the main table leaves out the columns that would read "–" on every row."""
    return [d for d in dims if f"{d}:{mode}" in rows and rows[f"{d}:{mode}"].notna().any()]


def column_group(
    rows: pd.DataFrame, scheme: AggregationScheme, group: str, custom: list[str] | None = None
) -> list[str]:
    """The dimensions a quick column group shows: quality, semantic, all, or a custom list.

    Dimensions the scheme does not weigh (extra dimensions) belong to "all" and "custom" only.
    """
    present = dimensions_in(rows)
    ordered = [d for d in scheme.dims if d in present] + [d for d in present if d not in scheme.dims]
    if group in ("quality", "semantic"):
        return [d for d in ordered if d in scheme.dims and scheme.dims[d].group == group]
    if group == "custom":
        return [d for d in ordered if d in (custom or [])]
    return ordered


@dataclass
class Filters:
    tasks: list[str] = field(default_factory=list)
    suites: list[str] = field(default_factory=list)
    backend_kinds: list[str] = field(default_factory=list)
    since: date | None = None
    until: date | None = None
    text: str = ""


def filter_rows(rows: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """Rows matching every filter; an empty list means "any". Undated rows pass date filters."""
    if rows.empty:
        return rows
    keep = pd.Series(True, index=rows.index)
    if filters.tasks:
        keep &= rows["task"].isin(filters.tasks)
    if filters.suites:
        keep &= rows["suite"].isin(filters.suites)
    if filters.backend_kinds:
        keep &= rows["backend_kind"].isin(filters.backend_kinds)
    created = pd.to_datetime(rows["created_at"], utc=True)
    if filters.since is not None:
        keep &= created.isna() | (created.dt.date >= filters.since)
    if filters.until is not None:
        keep &= created.isna() | (created.dt.date <= filters.until)
    text = filters.text.strip().lower()
    if text:
        haystack = rows[["model", "revision", "run_id", "suite"]].astype(str).agg(" ".join, axis=1).str.lower()
        keep &= haystack.str.contains(text, regex=False)
    return rows[keep]


def _group_keys(rows: pd.DataFrame) -> list[tuple[str, str, str, str, str]]:
    signature = rows["backends"].where(rows["backend_kind"] == "mixed", "")
    return list(zip(rows["task"], rows["suite"], rows["aggregation"], rows["backend_kind"], signature, strict=True))


def rank_groups(rows: pd.DataFrame) -> pd.Series:
    """A group id per row ("G1", "G2", … in order of first appearance); rows of different groups
    must not be ranked against each other.

    The key is (task, prompt suite, aggregation, backend kind) and, for mixed-backend rows, the
    exact dimension->backend list, so two rows share a rank only when their numbers mean the same.
    """
    if rows.empty:
        return pd.Series(dtype=str)
    ids: dict[tuple, str] = {}
    keys = _group_keys(rows)
    for key in keys:
        ids.setdefault(key, f"G{len(ids) + 1}")
    return pd.Series([ids[k] for k in keys], index=rows.index)


def group_labels(rows: pd.DataFrame) -> dict[str, str]:
    """Per group id, a label saying what sets the group apart from the others on the board.

    The prompt suite always; the task and the aggregation scheme when the board holds more than
    one; the backends as a kind ("VBench backends"), and for mixed groups the dimensions whose
    backend differs from a group on the same suite, or a count per backend.
    """
    if rows.empty:
        return {}
    groups = rank_groups(rows)
    first = {g: rows.loc[groups == g].iloc[0] for g in dict.fromkeys(groups)}
    tasks = {str(r["task"]) for r in first.values()}
    schemes = {str(r["aggregation"]) for r in first.values()}
    labels: dict[str, str] = {}
    for group, row in first.items():
        if row["backend_kind"] == "published":
            labels[group] = "Published VBench rows: VBench's own evaluation on its full prompt suite, not vbl runs"
            continue
        parts = [f"prompt suite {row['suite']}" if row["suite"] else "custom input (no prompt suite)"]
        if len(tasks) > 1:
            parts.append(f"task {row['task'] or 'unknown'}")
        if len(schemes) > 1:
            parts.append(f"aggregation {row['aggregation'] or 'default'}")
        siblings = [r for g, r in first.items() if g != group and r["suite"] == row["suite"]
                    and r["task"] == row["task"] and r["aggregation"] == row["aggregation"]]
        parts.append(_backend_label(row, siblings))
        labels[group] = " · ".join(parts)
    seen: dict[str, int] = {}
    for group, label in labels.items():  # never two sections under one label
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[group] = f"{label} ({group})"
    return labels


def _backend_map(row: pd.Series) -> dict[str, str]:
    pairs = [p.split("=", 1) for p in str(row.get("backends") or "").split(", ") if "=" in p]
    return {dim: backend for dim, backend in pairs}


def _backend_label(row: pd.Series, siblings: list[pd.Series]) -> str:
    kind = str(row["backend_kind"])
    if kind == "vbench":
        return "VBench backends"
    if kind != "mixed":
        return f"{kind} backends"
    mine = _backend_map(row)
    differing = sorted({d for other in siblings for d, b in _backend_map(other).items() if mine.get(d, b) != b})
    if differing:
        return "backends: " + ", ".join(f"{pretty(d)} {mine[d]}" for d in differing if d in mine)
    counts: dict[str, int] = {}
    for backend in mine.values():
        counts[backend] = counts.get(backend, 0) + 1
    return "mixed backends: " + ", ".join(f"{n} {b}" for b, n in sorted(counts.items(), key=lambda i: (-i[1], i[0])))


def rank_basis(rows: pd.DataFrame, by: str, mode: str = "raw") -> tuple[pd.Series, pd.Series]:
    """What each row is ranked on: (value, name of the score) per row.

    `by` is "total", "quality", "semantic" or a dimension (its `mode` column). Quality and
    Semantic fall back to their partial score. "total" is the default: a group in which no row has
    a Total is ranked by Quality instead (our runs often lack the semantic dimensions), while a
    group that has Totals (published rows) keeps its Total order.
    """
    if by not in ("total", *PARTIAL_NAMES) and f"{by}:{mode}" not in rows:
        raise ValueError(f"cannot rank by {by!r}: the rows have no {by}:{mode} column; "
                         "pass 'total', 'quality', 'semantic', 'i2v' or a dimension the rows have")
    groups = rank_groups(rows)
    values = pd.Series(math.nan, index=rows.index, dtype=float)
    names = pd.Series("", index=rows.index, dtype=object)
    for group in dict.fromkeys(groups):
        members = rows[groups == group]
        name = by
        if by == "total" and not members["total"].notna().any():
            name = "quality"
        if name in PARTIAL_NAMES:
            values[members.index] = group_score(members, name)
        elif name == "total":
            values[members.index] = members["total"].astype(float)
        else:
            column = f"{name}:{mode}"
            values[members.index] = members[column].astype(float)
        names[members.index] = name
    return values, names


def ranked(rows: pd.DataFrame, by: str, mode: str = "raw") -> pd.DataFrame:
    """Sorted by `by` (see `rank_basis`) within each group, groups in order, with `group`,
    `rank_by` (the score used), `rank_value`, a `rank` within the group (rows without a value get
    none) and `tied` (False here; see `mark_ties`)."""
    if rows.empty:
        return rows.assign(group=pd.Series(dtype=str), rank=pd.Series(dtype="Int64"), rank_by=pd.Series(dtype=str),
                           rank_value=pd.Series(dtype=float), tied=pd.Series(dtype=bool))
    out = rows.assign(group=rank_groups(rows))
    out["rank_value"], out["rank_by"] = rank_basis(rows, by, mode)
    out["order"] = out["group"].str[1:].astype(int)
    out["rank"] = out.groupby("group")["rank_value"].rank(ascending=False, method="min").astype("Int64")
    out["tied"] = False
    out = out.sort_values(["order", "rank_value"], ascending=[True, False], na_position="last", kind="stable")
    return out.drop(columns="order").reset_index(drop=True)


def pretty(name: str) -> str:
    if name == "i2v":
        return "I2V"
    return name.replace("_", " ").capitalize() if name not in SUMMARY_NAMES else name.capitalize()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets read as a formula


def csv_bytes(table: pd.DataFrame) -> bytes:
    """The table as CSV that a spreadsheet opens as data: a text cell that starts like a formula
    (a model named "=HYPERLINK(…)") gets a leading apostrophe; numbers stay numbers."""
    safe = table.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v
            )
    return safe.to_csv(index=False).encode("utf-8")


DASH = "–"  # an empty cell: no value (a dimension not scored, a published row's date)
TIED = "≈"  # statistically tied with the row above


def dimension_title(dim: str, mode: str) -> str:
    """A dimension column's header; the normalised view says so in every header."""
    return pretty(dim) + (" (norm.)" if mode == "normalised" else "")


def _scores_order(rows: pd.DataFrame, dims: list[str], lead: str | None) -> list[str]:
    """Total / Quality / Semantic (/ I2V where a row has it) then the dimensions; a `lead`
    dimension (the ranked one) first."""
    summaries = [n for n in SUMMARY_NAMES if n != "i2v" or has_score(rows, n)]
    ordered = [*summaries, *[d for d in dims if d != lead]]
    return [lead, *ordered] if lead in dims else ordered


def has_score(rows: pd.DataFrame, name: str) -> bool:
    """Whether any row has a full or partial `name` score (only image-to-video rows have an I2V score)."""
    return bool(group_score(rows, name).notna().any()) if not rows.empty else False


def view_table(
    rows: pd.DataFrame, dims: list[str], mode: str = "raw", intervals: str = "numbers", lead: str | None = None
) -> pd.DataFrame:
    """The table a user downloads: friendly column names, values in percent, numbers as numbers.

    `mode` is "raw" (VBench's published tables) or "normalised" (dimension columns only; Total /
    Quality / Semantic are always VBench's weighted means of normalised scores). Quality and
    Semantic hold the partial score where a run lacks dimensions, flagged in "… partial". With
    `intervals` "numbers" each score gets "CI low" / "CI high" (and each dimension its "n").
    """
    if mode not in ("normalised", "raw"):
        raise ValueError(f"mode must be 'normalised' or 'raw', not {mode!r}")
    nan = pd.Series(math.nan, index=rows.index)
    table = pd.DataFrame(index=rows.index)
    if "rank" in rows:
        table["Rank"] = rows["rank"]
        table["Tied with row above"] = rows.get("tied", pd.Series(False, index=rows.index)).fillna(False).astype(bool)
    if "group" in rows:
        labels = group_labels(rows)
        table["Comparable group"] = rows["group"].map(lambda g: f"{g}: {labels.get(g, '')}")
    table["Model"] = rows["model"]
    table["Revision"] = rows["revision"]
    for name in _scores_order(rows, dims, lead):
        if name in SUMMARY_NAMES:
            title, value = pretty(name), (group_score(rows, name) if name in PARTIAL_NAMES else rows[name])
            low, high, n = f"{name}:lo", f"{name}:hi", None
        else:
            title, value = dimension_title(name, mode), rows.get(f"{name}:{mode}", nan)
            low, high, n = f"{name}:{mode}_lo", f"{name}:{mode}_hi", f"{name}:n"
        table[title] = value.astype(float).round(2)
        if name in PARTIAL_NAMES:
            table[f"{title} partial"] = partial_labels(rows, name)
        if intervals == "numbers":
            table[f"{title} CI low"] = rows.get(low, nan).astype(float).round(3)
            table[f"{title} CI high"] = rows.get(high, nan).astype(float).round(3)
            if n is not None:
                table[f"{title} n"] = rows.get(n, pd.Series(pd.NA, index=rows.index)).astype("Int64")
        elif intervals != "none":
            raise ValueError(f"intervals must be 'numbers' or 'none', not {intervals!r}")
    _add_metadata(table, rows)
    return table.reset_index(drop=True)


def _add_metadata(table: pd.DataFrame, rows: pd.DataFrame) -> None:
    """Who and what made each row, after the scores (the VBench leaderboard states both people)."""
    empty = pd.Series("", index=rows.index)
    table["Prompts"] = rows["prompts"].astype("Int64") if "prompts" in rows else pd.NA
    table["Videos"] = rows["videos"].astype("Int64") if "videos" in rows else pd.NA
    table["Suite"] = rows["suite"].replace("", "(custom input)")
    table["Backend"] = rows["backend_kind"]
    table["Date"] = pd.to_datetime(rows["created_at"], utc=True).dt.strftime("%Y-%m-%d")
    table["Status"] = rows["status"]
    table["Sampled by"] = rows.get("sampled_by", empty).fillna("")
    table["Evaluated by"] = rows.get("evaluated_by", empty).fillna("")
    table["Run"] = rows["run_id"]


def partial_labels(rows: pd.DataFrame, name: str) -> pd.Series:
    """"partial (k/n)" where Quality / Semantic is partial, else ""."""
    partial = is_partial(rows, name)
    have = rows.get(f"{name}:have", pd.Series(pd.NA, index=rows.index))
    of = rows.get(f"{name}:of", pd.Series(pd.NA, index=rows.index))
    return pd.Series(
        [f"partial ({int(h)}/{int(o)})" if p else "" for p, h, o in zip(partial, have, of, strict=True)],
        index=rows.index,
    )


@dataclass
class ScreenTable:
    """The main table as shown: `values` (numbers, for sorting and tests) and `texts` (what each
    cell reads: "97.37 ±0.41", "70.85 partial (6/7)", "–")."""

    values: pd.DataFrame
    texts: pd.DataFrame
    score_columns: list[str]


def screen_table(
    rows: pd.DataFrame, dims: list[str], mode: str = "raw", show_ci: bool = True, lead: str | None = None
) -> ScreenTable:
    """The compact table of one section: Rank, Model, Revision, Total, Quality, Semantic, the
    dimensions, then the metadata. Each score cell holds the value and, with `show_ci`, "±" half
    the width of its 95 % interval; a tied row's rank reads "≈2" (see `mark_ties`)."""
    numbers = view_table(rows, dims, mode, "numbers", lead)
    values = pd.DataFrame(index=numbers.index)
    texts = pd.DataFrame(index=numbers.index)
    ranks = numbers["Rank"] if "Rank" in numbers else pd.Series(pd.NA, index=numbers.index)
    tied = numbers.get("Tied with row above", pd.Series(False, index=numbers.index))
    values["Rank"] = [DASH if pd.isna(r) else f"{TIED if t else ''}{int(r)}" for r, t in zip(ranks, tied, strict=True)]
    texts["Rank"] = values["Rank"]
    for column in ("Model", "Revision"):
        values[column] = numbers[column]
        texts[column] = numbers[column].map(lambda v: v if isinstance(v, str) and v else DASH)
    score_columns = []
    for name in _scores_order(rows, dims, lead):
        title = pretty(name) if name in SUMMARY_NAMES else dimension_title(name, mode)
        score_columns.append(title)
        values[title] = numbers[title]
        partial = numbers.get(f"{title} partial", pd.Series("", index=numbers.index))
        texts[title] = [
            _cell(v, lo, hi, label, show_ci)
            for v, lo, hi, label in zip(numbers[title], numbers[f"{title} CI low"], numbers[f"{title} CI high"],
                                        partial, strict=True)
        ]
        if partial.astype(bool).any():
            # The label must be in the cell's own data, where a screen reader (and a copy) finds it.
            values[title] = texts[title].where(values[title].notna(), None)
    for column in ("Prompts", "Videos", "Backend", "Date", "Status", "Sampled by", "Evaluated by", "Run"):
        values[column] = numbers[column]
        texts[column] = numbers[column].map(lambda v: DASH if v is None or v is pd.NA or v == "" or
                                            (isinstance(v, float) and math.isnan(v)) else str(v))
    return ScreenTable(values, texts, score_columns)


def _cell(value: float, low: float, high: float, partial: str, show_ci: bool) -> str:
    if pd.isna(value):
        return DASH
    if partial:
        return f"{value:.2f} {partial}"
    if show_ci and pd.notna(low) and pd.notna(high):
        return f"{value:.2f} ±{(high - low) / 2:.2f}"
    return f"{value:.2f}"


def board_median(rows: pd.DataFrame, dims: list[str], mode: str = "normalised") -> pd.Series:
    """Median of each dimension over `rows` (percent), for the model page's bars."""
    return pd.Series({d: rows[f"{d}:{mode}"].median() if f"{d}:{mode}" in rows else math.nan for d in dims})


def checkpoint_trend(rows: pd.DataFrame, model: str, suite: str, aggregation: str) -> pd.DataFrame:
    """Every revision of one model on one suite and scheme, oldest first (the trend chart)."""
    same = rows[(rows["model"] == model) & (rows["suite"] == suite) & (rows["aggregation"] == aggregation)]
    return same.sort_values("created_at").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------------------------


def provenance(manifest: Manifest, run: pd.Series | None = None) -> pd.DataFrame:
    """The run's provenance as (field, value) rows: what produced these numbers, and who."""
    suite = manifest.prompt_suite
    suite_text = f"{suite.name or ''} v{suite.version or ''} (sha256 {(suite.sha256 or '')[:12]})" if suite else ""
    env = manifest.environment
    hardware = ", ".join(f"{k} {env[k]}" for k in ("device", "dtype", "host", "platform") if env.get(k))
    software = ", ".join(f"{k} {env[k]}" for k in ("python", "torch", "cuda", "numpy") if env.get(k))
    aggregation = manifest.aggregation
    fields = [
        ("Run id", _text(manifest.run_id)),
        ("Status", _text(manifest.status)),
        ("Created", _text(manifest.created_at)),
        ("vbl version", " ".join(p for p in (_text(manifest.vbl.get("version")),
                                              _text(manifest.vbl.get("git_sha"))[:12]) if p)),
        ("Model", _text(manifest.model.name)),
        ("Model revision", _text(manifest.model.revision)),
        ("Model weights sha256", _text(manifest.model.weights_sha256)),
        ("Task", _text(manifest.model.task)),
        ("Config hash", _text(manifest.config_hash)),
        ("Prompt suite", suite_text),
        ("Aggregation", " v".join(p for p in (_text(aggregation.name), _text(aggregation.version)) if p)
         if aggregation else ""),
        ("Hardware", hardware),
        ("Software", software),
        ("Sampled by", _text(manifest.sampled_by)),
        ("Evaluated by", _text(manifest.evaluated_by)),
        ("Run directory", _text(manifest.run_dir)),
        ("Source", _text(manifest.source)),
    ]
    if run is not None and run.get("backend_kind") == "published":
        # No manifest: VBench sampled and evaluated it; the row says where it was published.
        fields = [
            ("Model", _text(run.get("model"))),
            ("Sampled by", "as the source states (not in the published row)"),
            ("Evaluated by", "as the source states: a published VBench number, not a vbl run"),
            ("Source", _text(run.get("source"))),
        ]
    elif run is not None and "source" in run and not fields[-1][1]:
        fields[-1] = ("Source", _text(run["source"]))
    return pd.DataFrame(fields, columns=["Field", "Value"])


def scorer_table(manifest: Manifest) -> pd.DataFrame:
    """One row per dimension: scorer version, backend, weights hash and group."""
    rows = [
        {
            "Dimension": name,
            "Scorer version": _text(info.version),
            "Backend": _text(info.backend),
            "Weights sha256": _text(info.weights_sha256),
            "Group": _text(info.group),
        }
        for name, info in sorted(manifest.dimensions.items())
    ]
    return pd.DataFrame(rows, columns=["Dimension", "Scorer version", "Backend", "Weights sha256", "Group"])


# ---------------------------------------------------------------------------------------------
# Compare two runs
# ---------------------------------------------------------------------------------------------


def board_source(board: Board, run_id: str, label: str) -> ScoreSource:
    """A stored run as `vbl gate` reads a run directory (per-prompt means of the ok videos)."""
    scores = gate_scores(board.scores[board.scores["run_id"] == run_id])
    manifest = board.manifest(run_id)
    run_dir = Path(manifest.run_dir or run_id)
    return source_from_scores(label, run_dir, manifest, scores, unit_factors(board.scores, board.aggregates, run_id))


def paired_compare(
    board: Board,
    run_a: str,
    run_b: str,
    tie_tolerance: float = TIE_TOLERANCE,
    seed: int = BOOTSTRAP_SEED,
) -> pd.DataFrame:
    """Per dimension, B minus A over the prompts both runs scored, as `vbl gate` computes it with
    B as candidate and A as baseline under the default policy: the same paired bootstrap interval
    and the same verdict (`status`). Shown in raw percent points (the gate works in normalised
    units; normalising is linear, so the interval is the same one rescaled).

    A prompt is a win for B when its per-prompt mean beats A's by more than `tie_tolerance`
    points, a loss when it trails by more, else a tie. A dimension whose scorers differ (version,
    backend or weights, as the gate checks them) is listed with `comparable = False` and no numbers.
    """
    baseline, candidate = board_source(board, run_a, "A"), board_source(board, run_b, "B")
    dims = [d for d in baseline.per_prompt if d in candidate.per_prompt]
    comparable = [d for d in dims if not scorer_differences(d, candidate, baseline)]
    outcomes = _gate_rows(candidate, baseline, comparable, seed)
    scheme = scheme_for(candidate.aggregation.get("name"))
    rows = []
    for dim in dims:
        scorer_a, scorer_b = baseline.scorers.get(dim), candidate.scorers.get(dim)
        row: dict[str, Any] = {
            "dimension": dim,
            "backend_a": (scorer_a.backend if scorer_a else None) or "",
            "backend_b": (scorer_b.backend if scorer_b else None) or "",
            "comparable": dim in comparable,
            "shared_prompts": len(baseline.per_prompt[dim].index.intersection(candidate.per_prompt[dim].index)),
        }
        pair = pd.concat([baseline.per_prompt[dim].rename("a"), candidate.per_prompt[dim].rename("b")], axis=1,
                         join="inner").dropna()
        if dim in comparable and len(pair):
            diff = 100 * (pair["b"] - pair["a"]).to_numpy()
            row.update(
                mean_a=100 * pair["a"].mean(), mean_b=100 * pair["b"].mean(), delta=float(diff.mean()),
                wins=int((diff > tie_tolerance).sum()), ties=int((np.abs(diff) <= tie_tolerance).sum()),
                losses=int((diff < -tie_tolerance).sum()),
            )
            outcome = outcomes.get(dim)
            if outcome is not None and outcome.ci_low is not None and outcome.ci_high is not None:
                # The gate works in normalised units; the map is linear, so rescale its interval.
                norm = scheme.dims.get(dim) if outcome.unit == "normalised" else None
                span = norm.max - norm.min if norm else 1.0
                row.update(delta_lo=100 * outcome.ci_low * span, delta_hi=100 * outcome.ci_high * span,
                           status=outcome.status)
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=COMPARE_COLUMNS)


def _gate_rows(candidate: ScoreSource, baseline: ScoreSource, dims: list[str], seed: int) -> dict[str, RowOutcome]:
    """The gate's rows for `dims`, computed together as `vbl gate` does (one multiple-testing
    correction over all of them). Where the gate refuses the whole set (a dimension its policy
    cannot test), each dimension is tried alone, so one bad dimension does not blank the page."""
    policy = load_policy(None)

    def rows(names: list[str]) -> dict[str, RowOutcome]:
        try:
            report = compare(candidate, baseline, policy=policy, dims=",".join(names), seed=seed, allow_mismatch=True)
        except VblError:
            return {}  # no shared prompt, or a row the policy cannot test
        return {row.name: row for row in report.rows}

    if not dims:
        return {}
    together = rows(dims)
    if together:
        return together
    return {name: row for dim in dims for name, row in rows([dim]).items()}


# ---------------------------------------------------------------------------------------------
# Statistical ties in the ranking
# ---------------------------------------------------------------------------------------------


def mark_ties(board: Board, table: pd.DataFrame, mode: str = "raw", seed: int = BOOTSTRAP_SEED) -> pd.DataFrame:
    """`ranked` rows with `tied` (statistically tied with the row above) and a shared `rank`.

    Two neighbours of one group are tied when `vbl gate`'s paired interval of their difference on
    the ranked score contains 0 (`paired_tie`: the same statistics, policy and seed as the gate).
    Where they share no prompt (or one is a published row, which has no per-prompt scores), their
    own 95 % intervals must overlap; a row without an interval is never called tied. A tied row
    takes the rank of the row above (1, ≈1, 3).
    """
    out = table.copy()
    if out.empty:
        return out
    known = set(board.runs["run_id"]) if not board.empty else set()
    sources: dict[str, ScoreSource] = {}
    for position in range(1, len(out)):
        above, row = out.iloc[position - 1], out.iloc[position]
        if above["group"] != row["group"] or pd.isna(above["rank_value"]) or pd.isna(row["rank_value"]):
            continue
        name = str(row["rank_by"])
        tied = None
        if above["run_id"] in known and row["run_id"] in known:
            tied = paired_tie(board, str(above["run_id"]), str(row["run_id"]), name, seed, sources)
        if tied is None:
            tied = intervals_overlap(above, row, name, mode)
        if tied:
            out.loc[out.index[position], "tied"] = True
            out.loc[out.index[position], "rank"] = out.loc[out.index[position - 1], "rank"]
    return out


def intervals_overlap(a: pd.Series, b: pd.Series, name: str, mode: str) -> bool:
    """Whether two rows' own 95 % intervals on `name` overlap (False when either lacks one)."""
    if name in SUMMARY_NAMES:
        if is_partial(pd.DataFrame([a, b]), name).any():
            return False  # a partial score has no interval
        low, high = f"{name}:lo", f"{name}:hi"
    else:
        low, high = f"{name}:{mode}_lo", f"{name}:{mode}_hi"
    values = [_float(r.get(c)) for r in (a, b) for c in (low, high)]
    if any(math.isnan(v) for v in values):
        return False
    a_low, a_high, b_low, b_high = values
    return a_low <= b_high and b_low <= a_high


def paired_tie(
    board: Board, run_a: str, run_b: str, name: str, seed: int = BOOTSTRAP_SEED,
    sources: dict[str, ScoreSource] | None = None,
) -> bool | None:
    """Whether the gate's paired interval of (B - A) on `name` contains 0; None when it cannot be
    computed (no shared prompt, different scorers, a group score neither run has in full or part).

    A dimension and a full Quality / Semantic / Total go through `vbl gate`'s own `compare`. A
    partial group score (what the board ranks runs without every dimension by) is the gate's
    paired bootstrap (`gate.stats.paired_bootstrap`) over the group's dimensions both runs share,
    weighted as the partial score weighs them.
    """
    cache = sources if sources is not None else {}
    for run_id, label in ((run_a, "A"), (run_b, "B")):
        if run_id not in cache:
            cache[run_id] = board_source(board, run_id, label)
    baseline, candidate = cache[run_a], cache[run_b]
    gate_name = f"{name}_score" if name in SUMMARY_NAMES else name
    outcome = _gate_rows(candidate, baseline, [gate_name], seed).get(gate_name)
    if outcome is not None and outcome.ci_low is not None and outcome.ci_high is not None:
        return bool(outcome.ci_low <= 0 <= outcome.ci_high)
    if name in PARTIAL_NAMES:
        interval = _partial_interval(candidate, baseline, name, seed)
        if interval is not None:
            return bool(interval[0] <= 0 <= interval[1])
    return None


def _partial_interval(
    candidate: ScoreSource, baseline: ScoreSource, group: str, seed: int
) -> tuple[float, float] | None:
    scheme = scheme_for(candidate.aggregation.get("name"))
    present = {canonical_dimension_name(d): d for d in candidate.per_prompt if d in baseline.per_prompt}
    wanted = [d for d in scheme.group_dims(group) if d in present]
    try:
        pairing = check_compatibility(candidate, baseline, [present[d] for d in wanted], allow_mismatch=True)
    except VblError:
        return None
    dims = [d for d in wanted if present[d] in pairing.prompts and pairing.prompts[present[d]]]
    if not dims:
        return None
    union = sorted({p for d in dims for p in pairing.prompts[present[d]]})
    position = {p: i for i, p in enumerate(union)}
    cand = np.full((len(dims), len(union)), np.nan)
    base = np.full_like(cand, np.nan)
    for i, dim in enumerate(dims):
        prompts = pairing.prompts[present[dim]]
        norm = scheme.dims[dim]
        columns = [position[p] for p in prompts]
        cand[i, columns] = [norm.normalise(v) for v in candidate.per_prompt[present[dim]].loc[prompts]]
        base[i, columns] = [norm.normalise(v) for v in baseline.per_prompt[present[dim]].loc[prompts]]
    weights = np.array([scheme.dims[d].weight for d in dims])
    policy = load_policy(None).defaults
    result = paired_bootstrap(cand, base, weights / weights.sum(), margin=policy.max_drop_abs, alpha=policy.alpha,
                              resamples=policy.resamples, ci_method=policy.ci_method, seed=seed)
    if result.ci_low is None or result.ci_high is None:
        return None
    return result.ci_low, result.ci_high


def _backends_of(scores: pd.DataFrame, run_id: str) -> dict[str, str]:
    mine = scores[scores["run_id"] == run_id].drop_duplicates("dimension")
    return dict(zip(mine["dimension"], mine["backend"].map(_text), strict=True))


def disagreements(board: Board, run_a: str, run_b: str, limit: int = 10) -> pd.DataFrame:
    """Shared (prompt, dimension) pairs where the two runs differ most, with one video of each."""
    scores = board.scores
    matrix_a = prompt_matrix(scores, run_a, board.aggregates)
    matrix_b = prompt_matrix(scores, run_b, board.aggregates)
    backends_a, backends_b = _backends_of(scores, run_a), _backends_of(scores, run_b)
    dims = [d for d in matrix_a.columns if d in matrix_b.columns and backends_a.get(d) == backends_b.get(d)]
    columns = [
        "prompt_id",
        "prompt",
        "dimension",
        "score_a",
        "score_b",
        "delta",
        "video_a",
        "video_b",
        "run_dir_a",
        "run_dir_b",
    ]
    if not dims:
        return pd.DataFrame(columns=columns)
    long_a = pd.Series(matrix_a[dims].stack(), name="score_a")
    long_b = pd.Series(matrix_b[dims].stack(), name="score_b")
    pairs = pd.concat([long_a, long_b], axis=1, join="inner").dropna().reset_index()
    pairs.columns = ["prompt_id", "dimension", "score_a", "score_b"]
    pairs[["score_a", "score_b"]] *= 100
    pairs["delta"] = pairs["score_b"] - pairs["score_a"]
    pairs = pairs.reindex(pairs["delta"].abs().sort_values(ascending=False).index).head(limit)
    first_a = _first_video(scores, run_a)
    first_b = _first_video(scores, run_b)
    pairs["prompt"] = pairs["prompt_id"].map(first_b["prompt"]).fillna(pairs["prompt_id"].map(first_a["prompt"]))
    pairs["video_a"] = pairs["prompt_id"].map(first_a["video_path"])
    pairs["video_b"] = pairs["prompt_id"].map(first_b["video_path"])
    return pairs.reindex(columns=columns).reset_index(drop=True)


def _first_video(scores: pd.DataFrame, run_id: str) -> pd.DataFrame:
    mine = scores[scores["run_id"] == run_id].sort_values(["prompt_id", "sample_index", "video_key"])
    return mine.drop_duplicates("prompt_id").set_index("prompt_id")[["prompt", "video_path", "video_key"]]


def shared_prompts(board: Board, run_a: str, run_b: str) -> int:
    """How many prompts both runs scored (ok scores, any dimension), as the gate pairs them."""
    def prompts(run_id: str) -> set[str]:
        mine = gate_scores(board.scores[board.scores["run_id"] == run_id])
        return set(mine.loc[mine["status"] == "ok", "prompt_id"])

    return len(prompts(run_a) & prompts(run_b))


def win_tie_loss(compared: pd.DataFrame) -> tuple[int, int, int]:
    """Summed over comparable dimensions: (B wins, ties, B losses) per (prompt, dimension)."""
    ok = compared[compared["comparable"] & compared["wins"].notna()]
    return int(ok["wins"].sum()), int(ok["ties"].sum()), int(ok["losses"].sum())


# ---------------------------------------------------------------------------------------------
# Prompt drill-down
# ---------------------------------------------------------------------------------------------


def prompts_of(scores: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """The run's prompts (id, text, number of videos), in id order."""
    mine = scores[scores["run_id"] == run_id]
    if mine.empty:
        return pd.DataFrame(columns=["prompt_id", "prompt", "videos"])
    grouped = mine.groupby("prompt_id", sort=True)
    return pd.DataFrame({"prompt": grouped["prompt"].first(), "videos": grouped["video_key"].nunique()}).reset_index()


def prompt_videos(
    scores: pd.DataFrame, run_id: str, prompt_id: str, aggregates: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per video of the prompt: sample, seed, path and each dimension's score (percent).

    With `aggregates`, values are in the board's units (see `unit_factors`), so a video's number
    reads like the run's aggregate. Failed or skipped scores show their status in a
    `<dim> status` column instead of a number.
    """
    mine = scores[(scores["run_id"] == run_id) & (scores["prompt_id"] == prompt_id)]
    if mine.empty:
        return pd.DataFrame(columns=["video_key", "sample_index", "seed", "video_path"])
    base = mine.drop_duplicates("video_key").set_index("video_key")[["sample_index", "seed", "video_path"]]
    factors = unit_factors(scores, aggregates, run_id)
    scale = mine["dimension"].map(lambda d: factors.get(d, 1.0))
    values = mine.assign(percent=100 * scale * mine["value"].where(mine["status"] == "ok")).pivot_table(
        index="video_key", columns="dimension", values="percent", aggfunc="first", dropna=False
    )
    table = base.join(values)
    problems = mine[mine["status"] != "ok"]
    for row in problems.itertuples(index=False):
        table.loc[row.video_key, f"{row.dimension} status"] = f"{row.status}: {_text(row.error)}".rstrip(": ")
    return table.reset_index().sort_values(["sample_index", "video_key"]).reset_index(drop=True)


def video_details(scores: pd.DataFrame, run_id: str, video_key: str) -> dict[str, Any]:
    """A video's per-dimension `extra` (per-frame values and the like), parsed from JSON."""
    mine = scores[(scores["run_id"] == run_id) & (scores["video_key"] == video_key)]
    details = {}
    for dim, extra in zip(mine["dimension"], mine["extra"], strict=True):
        try:
            details[dim] = json.loads(extra) if isinstance(extra, str) and extra else {}
        except json.JSONDecodeError:
            details[dim] = {"text": extra}
    return details


def run_progress(board: Board, run_id: str) -> dict[str, int]:
    """How far an unfinished run got: videos with scores, and (video, dimension) pairs stored."""
    mine = board.scores[board.scores["run_id"] == run_id]
    manifest = board.manifest(run_id)
    dims = list(manifest.dimensions) or sorted(mine["dimension"].unique())
    seeds = manifest.seeds
    return {
        "videos_scored": int(mine["video_key"].nunique()),
        "scores": int(len(mine)),
        "dimensions": len(dims),
        "videos_expected": len(seeds),
    }
