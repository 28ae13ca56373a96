"""The whole gate, inputs to report: load, check, pair, test, correct, decide (docs/gate.md).

Scores are compared in normalised units of the run's aggregation scheme (`vbench_lite.aggregate`),
the units of the margins and floors; a dimension the scheme does not weigh is compared raw.
Quality/Semantic/Total rows are the scheme's weighted means of the normalised per-prompt
dimension scores, resampled jointly (see `stats.paired_bootstrap`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vbench_lite.aggregate import AggregationScheme, canonical_dimension_name, load_scheme
from vbench_lite.errors import InputError
from vbench_lite.gate.baseline import load_source
from vbench_lite.gate.compat import Pairing, check_compatibility
from vbench_lite.gate.decision import RowOutcome, decide, exit_code, overall_status
from vbench_lite.gate.errors import GateUsageError, IncompatibleData
from vbench_lite.gate.inputs import ScoreSource, is_binary
from vbench_lite.gate.policy import AGGREGATE_NAMES, GatePolicy
from vbench_lite.gate.stats import adjust_p_values, mcnemar_exact, paired_bootstrap

REPORT_SCHEMA_VERSION = 1
AGGREGATE_GROUPS = {
    "quality_score": ("quality",),
    "semantic_score": ("semantic",),
    "total_score": ("quality", "semantic", "i2v"),  # every group the run's scheme has (I2V: quality, i2v)
}


@dataclass
class GateReport:
    candidate: ScoreSource
    baseline: ScoreSource
    policy: GatePolicy
    scheme: AggregationScheme
    seed: int
    strict: bool
    rows: list[RowOutcome]
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return overall_status(self.rows)

    @property
    def exit_code(self) -> int:
        return exit_code(self.rows, self.strict)

    @property
    def failed(self) -> list[str]:
        return [row.name for row in self.rows if row.status == "FAIL"]

    def as_dict(self) -> dict[str, Any]:
        """The JSON report; no wall-clock time in it, so a fixed seed gives identical bytes."""
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "status": self.status,
            "exit_code": self.exit_code,
            "strict": self.strict,
            "seed": self.seed,
            "candidate": _source_dict(self.candidate),
            "baseline": _source_dict(self.baseline),
            "aggregation": {"name": self.scheme.name, "version": self.scheme.version},
            "policy": self.policy.model_dump(mode="json"),
            "rows": [row.as_dict() for row in self.rows],
            "warnings": self.warnings,
        }


def run_gate(
    candidate_path: Path,
    baseline_path: Path,
    *,
    policy: GatePolicy,
    dims: str | None = None,
    seed: int = 0,
    strict: bool = False,
    allow_mismatch: bool = False,
) -> GateReport:
    candidate = load_source(candidate_path, "candidate")
    baseline = load_source(baseline_path, "baseline")
    return compare(candidate, baseline, policy=policy, dims=dims, seed=seed, strict=strict,
                   allow_mismatch=allow_mismatch)


def compare(
    candidate: ScoreSource,
    baseline: ScoreSource,
    *,
    policy: GatePolicy,
    dims: str | None = None,
    seed: int = 0,
    strict: bool = False,
    allow_mismatch: bool = False,
) -> GateReport:
    """The gate's comparison of two loaded sources; the leaderboard's Compare page calls it too,
    so one pair of runs gets one interval and one verdict wherever it is shown."""
    scheme = _scheme_of(candidate)
    dim_names, aggregate_names = resolve_scope(dims, candidate, baseline, scheme)
    # A group score needs its dimensions paired even when only the score itself was asked for.
    present = set(candidate.per_prompt) | set(baseline.per_prompt)
    group_dims = [d for a in aggregate_names for g in AGGREGATE_GROUPS[a] for d in scheme.group_dims(g) if d in present]
    pairing = check_compatibility(candidate, baseline, list(dict.fromkeys(dim_names + group_dims)), allow_mismatch)
    warnings = list(pairing.warnings)

    rows = [_dimension_row(d, candidate, baseline, pairing, policy, scheme, seed, warnings) for d in dim_names]
    rows += [_aggregate_row(a, candidate, baseline, pairing, policy, scheme, seed) for a in aggregate_names]

    tested = {i: row.p_value for i, row in enumerate(rows) if row.p_value is not None}
    adjusted = adjust_p_values(list(tested.values()), policy.defaults.correction)
    for i, p_adj in zip(tested, adjusted, strict=True):
        rows[i].p_adj = p_adj
    for row in rows:
        decide(row, policy.defaults.alpha)
    return GateReport(candidate, baseline, policy, scheme, seed, strict, rows, warnings)


def resolve_scope(
    spec: str | None, candidate: ScoreSource, baseline: ScoreSource, scheme: AggregationScheme
) -> tuple[list[str], list[str]]:
    """`--dims`: all | quality | semantic | a comma list of dimension and aggregate names."""
    present = sorted(set(candidate.per_prompt) | set(baseline.per_prompt))
    tokens = [t.strip() for t in (spec or "all").split(",") if t.strip()] or ["all"]
    dims: list[str] = []
    aggregates: list[str] = []
    for token in tokens:
        name = canonical_dimension_name(token)
        if name == "all":
            dims += present
            # A group score none of whose dimensions was evaluated is left out, not SKIPPED.
            aggregates += [
                a
                for a in AGGREGATE_NAMES
                if any(_group_of(d, candidate, baseline, scheme) in AGGREGATE_GROUPS[a] for d in present)
            ]
        elif name in ("quality", "semantic"):
            dims += [d for d in present if _group_of(d, candidate, baseline, scheme) == name]
            aggregates.append(f"{name}_score")
        elif name in AGGREGATE_NAMES:
            aggregates.append(name)
        elif name in present or name in scheme.dims or name in _installed_dimensions():
            dims.append(name)
        else:
            known = sorted(set(present) | set(scheme.dims) | set(AGGREGATE_NAMES))
            raise GateUsageError(
                f"--dims: unknown name '{token}'; use all, quality, semantic or one of: " + ", ".join(known)
            )
    return list(dict.fromkeys(dims)), list(dict.fromkeys(aggregates))


def _dimension_row(
    dim: str,
    candidate: ScoreSource,
    baseline: ScoreSource,
    pairing: Pairing,
    policy: GatePolicy,
    scheme: AggregationScheme,
    seed: int,
    warnings: list[str],
) -> RowOutcome:
    rule = policy.rule_for(dim)
    unit = "normalised" if canonical_dimension_name(dim) in scheme.dims else "raw"
    row = RowOutcome(dim, "dimension", rule.method, rule.margin, rule.floor, unit)
    if dim not in pairing.prompts:
        row.reason = _why_not_compared(dim, candidate, baseline)
        return row
    prompts = pairing.prompts[dim]
    cand = _normalised(scheme, dim, candidate.per_prompt[dim].loc[prompts].to_numpy())
    base = _normalised(scheme, dim, baseline.per_prompt[dim].loc[prompts].to_numpy())
    _fill_from_bootstrap(row, cand[None, :], base[None, :], np.ones(1), policy, seed)
    if rule.method == "mcnemar":
        _apply_mcnemar(row, dim, candidate, baseline, prompts, warnings)
    return row


def _apply_mcnemar(
    row: RowOutcome,
    dim: str,
    candidate: ScoreSource,
    baseline: ScoreSource,
    prompts: list[str],
    warnings: list[str],
) -> None:
    cand_videos, base_videos = candidate.per_video.get(dim), baseline.per_video.get(dim)
    if cand_videos is None or base_videos is None:
        row.method = "paired_bootstrap"
        warnings.append(f"{dim}: no per-video results on both sides; McNemar replaced by the prompt bootstrap")
        return
    for source, videos in ((candidate, cand_videos), (baseline, base_videos)):
        if not is_binary(videos):
            raise GateUsageError(
                f"policy asks for method 'mcnemar' on {dim}, but the {source.label}'s per-video "
                "values are not all 0/1; use method 'paired_bootstrap' for it"
            )
    keep = cand_videos.index.get_level_values("prompt_id").isin(prompts)
    test = mcnemar_exact(cand_videos[keep], base_videos)
    row.p_value = test.p_value
    row.details.update(mcnemar_worse=test.worse, mcnemar_better=test.better, mcnemar_pairs=test.pairs)


def _aggregate_row(
    name: str,
    candidate: ScoreSource,
    baseline: ScoreSource,
    pairing: Pairing,
    policy: GatePolicy,
    scheme: AggregationScheme,
    seed: int,
) -> RowOutcome:
    rule = policy.rule_for(name)
    row = RowOutcome(name, "aggregate", rule.method, rule.margin, rule.floor)
    needed = [d for group in AGGREGATE_GROUPS[name] for d in scheme.group_dims(group)]
    available = {canonical_dimension_name(d): d for d in pairing.prompts}
    missing = [d for d in needed if d not in available]
    if missing:
        shown = ", ".join(missing[:3]) + (f", +{len(missing) - 3} more" if len(missing) > 3 else "")
        row.reason = f"not computed: {len(missing)} of its {len(needed)} dimensions not compared ({shown})"
        return row
    union = sorted({p for d in needed for p in pairing.prompts[available[d]]})
    cand = np.full((len(needed), len(union)), np.nan)
    base = np.full_like(cand, np.nan)
    position = {p: i for i, p in enumerate(union)}
    for i, dim in enumerate(needed):
        prompts = pairing.prompts[available[dim]]
        columns = [position[p] for p in prompts]
        cand[i, columns] = _normalised(scheme, dim, candidate.per_prompt[available[dim]].loc[prompts].to_numpy())
        base[i, columns] = _normalised(scheme, dim, baseline.per_prompt[available[dim]].loc[prompts].to_numpy())
    _fill_from_bootstrap(row, cand, base, _coefficients(name, needed, scheme), policy, seed)
    return row


def _coefficients(name: str, dims: list[str], scheme: AggregationScheme) -> np.ndarray:
    """The weight of each dimension's normalised mean in Quality, Semantic or Total."""
    group_weight = scheme.group_weights
    groups = [g for g in AGGREGATE_GROUPS[name] if g in group_weight]
    outer_total = sum(group_weight[g] for g in groups)
    coefficients = []
    for dim in dims:
        norm = scheme.dims[dim]
        inner_total = sum(scheme.dims[d].weight for d in scheme.group_dims(norm.group))
        outer = group_weight[norm.group] / outer_total if len(groups) > 1 else 1.0
        coefficients.append(outer * norm.weight / inner_total)
    return np.asarray(coefficients)


def _fill_from_bootstrap(
    row: RowOutcome,
    cand: np.ndarray,
    base: np.ndarray,
    coefficients: np.ndarray,
    policy: GatePolicy,
    seed: int,
) -> None:
    d = policy.defaults
    result = paired_bootstrap(
        cand,
        base,
        coefficients,
        margin=row.margin,
        alpha=d.alpha,
        resamples=d.resamples,
        ci_method=d.ci_method,
        seed=seed,
    )
    row.n_prompts = result.n
    row.baseline, row.candidate, row.delta = (result.baseline_mean, result.candidate_mean, result.mean_diff)
    if row.method != "threshold":
        row.ci_low, row.ci_high, row.p_value = result.ci_low, result.ci_high, result.p_value
        row.confidence = None if result.ci_low is None else 1 - 2 * d.alpha
    if result.note:
        row.details["note"] = result.note


def _normalised(scheme: AggregationScheme, dim: str, raw: np.ndarray) -> np.ndarray:
    norm = scheme.dims.get(canonical_dimension_name(dim))
    return raw.astype(float) if norm is None else (raw.astype(float) - norm.min) / (norm.max - norm.min)


def _why_not_compared(dim: str, candidate: ScoreSource, baseline: ScoreSource) -> str:
    in_candidate, in_baseline = dim in candidate.per_prompt, dim in baseline.per_prompt
    if in_candidate and not in_baseline:
        return "not in the baseline"
    if in_baseline and not in_candidate:
        return "not evaluated in the candidate"
    if in_candidate and in_baseline:
        return "no shared prompts"
    return "not evaluated in either run"


def _group_of(dim: str, candidate: ScoreSource, baseline: ScoreSource, scheme: AggregationScheme) -> str | None:
    norm = scheme.dims.get(canonical_dimension_name(dim))
    if norm is not None:
        return norm.group
    scorer = candidate.scorers.get(dim) or baseline.scorers.get(dim)
    return scorer.group if scorer else None


def _scheme_of(candidate: ScoreSource) -> AggregationScheme:
    name = candidate.aggregation.get("name") or "vbench-v1"
    try:
        return load_scheme(name)
    except InputError as error:
        raise IncompatibleData(f"candidate's aggregation scheme: {error}") from None


def _installed_dimensions() -> list[str]:
    from vbench_lite.registry import dimension_names

    return dimension_names()


def _source_dict(source: ScoreSource) -> dict[str, Any]:
    return {
        "path": str(source.path),
        "kind": source.kind,
        "run_id": source.run_id,
        "model": source.model,
        "prompt_suite": source.prompt_suite,
        "config_hash": source.config_hash,
    }
