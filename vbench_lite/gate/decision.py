"""One status per gated row, and the exit code (docs/gate.md, "Exit codes").

- FAIL: an absolute floor is violated, or the whole interval of (candidate - baseline) lies below
  -margin AND the regression test stays significant after the multiple-testing correction.
- WARN: the point estimate dropped by more than the margin, but the evidence is not strong
  enough for FAIL (the interval straddles -margin, or the correction absorbed it).
- IMPROVED: the whole interval lies above 0.
- PASS: otherwise.
- SKIPPED: the row could not be evaluated (dimension missing on a side, group incomplete).

The `threshold` method ignores noise (as MLflow's and TFMA's threshold checks do): FAIL below -margin, IMPROVED
above +margin. Exit code 1 when any row FAILs, or WARNs under --strict; 0 otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vbench_lite.gate.errors import EXIT_PASS, EXIT_REGRESSION

STATUSES = ("FAIL", "WARN", "IMPROVED", "PASS", "SKIPPED")


@dataclass
class RowOutcome:
    """Everything the reports show about one dimension or aggregate."""

    name: str
    kind: str  # "dimension" | "aggregate"
    method: str
    margin: float
    floor: float | None
    unit: str = "normalised"
    status: str = "SKIPPED"
    reason: str = ""
    n_prompts: int = 0
    baseline: float | None = None
    candidate: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float | None = None
    p_value: float | None = None
    p_adj: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


def decide(row: RowOutcome, alpha: float) -> RowOutcome:
    """Fill `status` and `reason` of an evaluated row (one with a delta)."""
    if row.delta is None or row.candidate is None:
        return row
    margin, delta = row.margin, row.delta
    if row.floor is not None and row.candidate < row.floor:
        row.status = "FAIL"
        row.reason = f"candidate {row.candidate:.4f} is below the floor {row.floor:g}"
        return row
    if row.method == "threshold":
        row.status = "FAIL" if delta < -margin else "IMPROVED" if delta > margin else "PASS"
        row.reason = f"delta {delta:+.4f} against margin {margin:g} (threshold, no statistics)"
        return row
    if row.ci_low is None or row.ci_high is None:
        row.status = "WARN" if delta < -margin else "PASS"
        row.reason = f"delta {delta:+.4f}; {row.details.get('note', 'no interval')}"
        return row
    interval = f"delta {delta:+.4f} (CI {row.ci_low:+.4f}..{row.ci_high:+.4f})"
    significant = row.p_adj is not None and row.p_adj < alpha
    if row.ci_high < -margin and significant:
        row.status = "FAIL"
        row.reason = f"{interval} lies below -{margin:g}, p_adj {row.p_adj:.2g}"
    elif delta < -margin or row.ci_high < -margin:
        row.status = "WARN"
        why = "not significant after correction" if row.ci_high < -margin else "CI straddles it"
        row.reason = f"{interval} dropped past -{margin:g} but {why}"
    elif row.ci_low > 0:
        row.status = "IMPROVED"
        row.reason = f"{interval} lies above 0"
    else:
        row.status = "PASS"
        row.reason = f"{interval} within margin {margin:g}"
    return row


def overall_status(rows: list[RowOutcome]) -> str:
    statuses = {row.status for row in rows}
    for status in ("FAIL", "WARN"):
        if status in statuses:
            return status
    return "PASS"


def exit_code(rows: list[RowOutcome], strict: bool) -> int:
    statuses = {row.status for row in rows}
    if "FAIL" in statuses or (strict and "WARN" in statuses):
        return EXIT_REGRESSION
    return EXIT_PASS
