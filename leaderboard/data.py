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
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vbench_lite.aggregate import AggregationScheme, aggregate, load_scheme
from vbench_lite.errors import InputError, VblError
from vbench_lite.gate.compat import scorer_differences
from vbench_lite.gate.decision import RowOutcome
from vbench_lite.gate.engine import compare
from vbench_lite.gate.inputs import ScoreSource, gate_scores, source_from_scores
from vbench_lite.gate.policy import load_policy
from vbench_lite.rundir import Manifest, canonical_dimension_name
from vbench_lite.store import ResultStore

SUMMARY_NAMES = ("total", "quality", "semantic", "i2v")  # "i2v": the I2V scheme's second group
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
            plugin_value = getattr(plugin_agg, name)
            series = np.array([_nan(getattr(agg, name)) for agg in resampled])
            intervals[name] = _interval(stored, series, _nan(plugin_value))
    return intervals


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


def dimensions_in(rows: pd.DataFrame) -> list[str]:
    """Dimension names that have a column in `rows`, in the order they first appear."""
    return [c.removesuffix(":raw") for c in rows.columns if c.endswith(":raw")]


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


def rank_groups(rows: pd.DataFrame) -> pd.Series:
    """A label per row; rows with different labels must not be ranked against each other.

    The key is (task, prompt suite, aggregation, backend kind) and, for mixed-backend rows, the
    exact dimension->backend list, so two rows share a rank only when their numbers mean the same.
    """
    if rows.empty:
        return pd.Series(dtype=str)
    signature = rows["backends"].where(rows["backend_kind"] == "mixed", "")
    keys = list(zip(rows["task"], rows["suite"], rows["aggregation"], rows["backend_kind"], signature, strict=True))
    labels: dict[tuple, str] = {}
    for key in keys:
        if key not in labels:
            task, suite, aggregation, kind, _ = key
            parts = [p for p in (task, suite or "no suite", aggregation, f"{kind} backends") if p]
            labels[key] = f"G{len(labels) + 1}: " + " · ".join(parts)
    return pd.Series([labels[k] for k in keys], index=rows.index)


def ranked(rows: pd.DataFrame, by: str) -> pd.DataFrame:
    """Sorted by `by` (descending) with `group` and a dense `rank` within each group."""
    if rows.empty:
        return rows.assign(group=pd.Series(dtype=str), rank=pd.Series(dtype="Int64"))
    out = rows.assign(group=rank_groups(rows))
    out["rank"] = out.groupby("group")[by].rank(ascending=False, method="min").astype("Int64")
    return out.sort_values(["group", by], ascending=[True, False], na_position="last").reset_index(drop=True)


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


def view_table(
    rows: pd.DataFrame, dims: list[str], mode: str = "normalised", intervals: str = "text", lead: str | None = None
) -> pd.DataFrame:
    """The table a user sees (or downloads): friendly column names, values in percent.

    `mode` is "normalised" or "raw" (dimension columns only; Total / Quality / Semantic are
    always VBench's weighted means of normalised scores). `intervals` is "text" (one
    "[lo, hi]" column, for the screen), "numbers" (lo / hi columns, for the CSV) or "none".
    `lead` names a dimension to show first, before Total (the one the table is ranked by).
    """
    if mode not in ("normalised", "raw"):
        raise ValueError(f"mode must be 'normalised' or 'raw', not {mode!r}")
    table = pd.DataFrame(index=rows.index)
    for column, title in (("rank", "Rank"), ("group", "Comparable group")):
        if column in rows:
            table[title] = rows[column]
    table["Model"] = rows["model"]
    table["Revision"] = rows["revision"]
    table["Suite"] = rows["suite"].replace("", "(custom input)")
    table["Backend"] = rows["backend_kind"]
    table["Date"] = pd.to_datetime(rows["created_at"], utc=True).dt.strftime("%Y-%m-%d")
    table["Status"] = rows["status"]

    def add(title: str, value: str, low: str, high: str, n: str | None) -> None:
        table[title] = rows.get(value, pd.Series(math.nan, index=rows.index)).astype(float).round(2)
        lows = rows.get(low, pd.Series(math.nan, index=rows.index)).astype(float)
        highs = rows.get(high, pd.Series(math.nan, index=rows.index)).astype(float)
        if intervals == "text":
            table[f"{title} 95% CI"] = [
                "" if math.isnan(lo) or math.isnan(hi) else f"[{lo:.2f}, {hi:.2f}]"
                for lo, hi in zip(lows, highs, strict=True)
            ]
        elif intervals == "numbers":
            table[f"{title} CI low"], table[f"{title} CI high"] = lows.round(3), highs.round(3)
        if n is not None and intervals != "none":
            table[f"{title} n"] = rows.get(n, pd.Series(pd.NA, index=rows.index)).astype("Int64")

    if lead in dims:
        add(pretty(lead), f"{lead}:{mode}", f"{lead}:{mode}_lo", f"{lead}:{mode}_hi", f"{lead}:n")
    for name in SUMMARY_NAMES:
        if name == "i2v" and ("i2v" not in rows or rows["i2v"].isna().all()):
            continue  # only image-to-video rows have an I2V score
        add(pretty(name), name, f"{name}:lo", f"{name}:hi", None)
    for dim in [d for d in dims if d != lead]:
        add(pretty(dim), f"{dim}:{mode}", f"{dim}:{mode}_lo", f"{dim}:{mode}_hi", f"{dim}:n")
    table["Prompts"] = rows["prompts"].astype("Int64") if "prompts" in rows else pd.NA
    # Who made the videos and who scored them (the VBench leaderboard states both for every row).
    table["Sampled by"] = rows.get("sampled_by", pd.Series("", index=rows.index)).fillna("")
    table["Evaluated by"] = rows.get("evaluated_by", pd.Series("", index=rows.index)).fillna("")
    table["Run"] = rows["run_id"]
    return table.reset_index(drop=True)


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
