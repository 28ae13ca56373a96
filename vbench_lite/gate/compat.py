"""Can candidate and baseline be compared? (docs/gate.md, "Compatibility")

Paired statistics only mean something when both sides scored the same prompts with the same
scorers: the prompt-suite hash, each dimension's scorer version, backend and weight hash, and the
aggregation scheme must be equal, the candidate must be a finished run, and the prompt sets of
each dimension must match. Anything else ends the gate with exit 3 and one line naming every
difference. `--allow-mismatch` turns the differences into warnings and compares the overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vbench_lite.gate.errors import IncompatibleData
from vbench_lite.gate.inputs import ScoreSource

SHOWN_PER_LIST = 4  # prompt ids named per difference; the rest are counted
FINISHED = ("complete", "partial")  # run statuses the runner writes at the end of a run


@dataclass
class Pairing:
    """What is compared: the dimensions both sides hold and, per dimension, the shared prompts."""

    prompts: dict[str, list[str]]
    not_in_baseline: list[str] = field(default_factory=list)
    not_in_candidate: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_compatibility(
    candidate: ScoreSource,
    baseline: ScoreSource,
    dims: list[str],
    allow_mismatch: bool = False,
) -> Pairing:
    """The comparable overlap of `dims`, or IncompatibleData listing what differs."""
    problems: list[str] = []
    notes: list[str] = []
    for source in (candidate, baseline):
        if source.status == "partial":
            # The runner finished but some videos failed or a dimension could not run; what is
            # missing shows up below as missing prompts or dimensions.
            notes.append(f"{source.label} run is partial: some videos failed or some dimensions did not run")
        elif source.status not in FINISHED:
            problems.append(f"{source.label} run is incomplete (status '{source.status}')")
    problems += _metadata_differences(candidate, baseline)

    prompts: dict[str, list[str]] = {}
    not_in_baseline, not_in_candidate = [], []
    for dim in dims:
        in_candidate, in_baseline = dim in candidate.per_prompt, dim in baseline.per_prompt
        if not in_candidate and not in_baseline:
            continue
        if not in_baseline:
            not_in_baseline.append(dim)
            continue
        if not in_candidate:
            not_in_candidate.append(dim)
            problems.append(f"{dim} is in the baseline but the candidate has no scores for it")
            continue
        problems += scorer_differences(dim, candidate, baseline)
        cand_ids = set(candidate.per_prompt[dim].index)
        base_ids = set(baseline.per_prompt[dim].index)
        if cand_ids != base_ids:
            problems.append(f"{dim} prompts differ: " + _set_difference(cand_ids, base_ids))
        shared = sorted(cand_ids & base_ids)
        if shared:
            prompts[dim] = shared

    if problems and not allow_mismatch:
        raise IncompatibleData(
            "candidate and baseline are not comparable: "
            + "; ".join(problems)
            + " (fix the inputs, or pass --allow-mismatch to compare only what overlaps)"
        )
    warnings = notes + [f"mismatch allowed: {p}" for p in problems]
    warnings += [f"{dim} is not in the baseline; it is reported but not gated" for dim in not_in_baseline]
    for source in (candidate, baseline):
        for dim, count in sorted(source.failed_videos.items()):
            if dim in dims:
                warnings.append(
                    f"{source.label}: {count} video(s) failed on {dim}; their prompts average the remaining samples"
                )
    if not prompts and any(d in candidate.per_prompt or d in baseline.per_prompt for d in dims):
        raise IncompatibleData("candidate and baseline share no prompt on any gated dimension; nothing to compare")
    return Pairing(prompts, not_in_baseline, not_in_candidate, warnings)


def _metadata_differences(candidate: ScoreSource, baseline: ScoreSource) -> list[str]:
    problems = []
    cand_suite, base_suite = candidate.prompt_suite or {}, baseline.prompt_suite or {}
    if cand_suite.get("sha256") != base_suite.get("sha256"):
        problems.append(
            f"prompt-suite hash differs (candidate {_suite_label(cand_suite)}, baseline {_suite_label(base_suite)})"
        )
    for key in ("name", "version"):
        cand_value, base_value = candidate.aggregation.get(key), baseline.aggregation.get(key)
        if cand_value != base_value:
            problems.append(f"aggregation {key} differs (candidate {cand_value}, baseline {base_value})")
    return problems


def scorer_differences(dim: str, candidate: ScoreSource, baseline: ScoreSource) -> list[str]:
    """Why one dimension's numbers of the two sides are not comparable (empty when they are)."""
    cand, base = candidate.scorers.get(dim), baseline.scorers.get(dim)
    if cand is None or base is None:
        side = "candidate" if cand is None else "baseline"
        return [f"{dim} has no scorer record in the {side}'s manifest"]
    problems = []
    for attribute, what in (
        ("version", "scorer version"),
        ("backend", "backend"),
        ("weights_sha256", "scorer weights hash"),
    ):
        cand_value, base_value = getattr(cand, attribute), getattr(base, attribute)
        if cand_value != base_value:
            problems.append(f"{dim} {what} differs (candidate {_short(cand_value)}, baseline {_short(base_value)})")
    return problems


def _set_difference(candidate_ids: set[str], baseline_ids: set[str]) -> str:
    parts = []
    for ids, where in (
        (baseline_ids - candidate_ids, "only in baseline"),
        (candidate_ids - baseline_ids, "only in candidate"),
    ):
        if ids:
            shown = ", ".join(sorted(ids)[:SHOWN_PER_LIST])
            more = f" +{len(ids) - SHOWN_PER_LIST} more" if len(ids) > SHOWN_PER_LIST else ""
            parts.append(f"{len(ids)} {where} ({shown}{more})")
    return ", ".join(parts)


def _suite_label(suite: dict) -> str:
    if not suite:
        return "none"
    name = suite.get("name") or "?"
    return f"{name} sha256 {_short(suite.get('sha256'))}"


def _short(value: str | None) -> str:
    if value is None:
        return "none"
    return value[:12] if len(value) == 64 else value
