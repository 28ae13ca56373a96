"""Human and machine outputs of a gate report: the rich table and the JSON file (docs/gate.md, "Outputs").

JUnit XML lives in `junit.py`, GitHub annotations and the step summary in `github.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from vbench_lite.gate.decision import RowOutcome
from vbench_lite.gate.engine import GateReport

STATUS_STYLE = {"FAIL": "bold red", "WARN": "yellow", "IMPROVED": "green", "PASS": "green", "SKIPPED": "dim"}


def report_json(report: GateReport) -> str:
    """Sorted, indented JSON; the same report always gives the same bytes."""
    return json.dumps(report.as_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_report_json(report: GateReport, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(report_json(report), encoding="utf-8")
    os.replace(tmp, path)


def render_table(report: GateReport) -> Table:
    defaults = report.policy.defaults
    table = Table(
        title=f"vbl gate: {report.candidate.model_label} vs baseline {report.baseline.model_label}",
        caption=(
            f"normalised {report.scheme.name} units; CI {1 - 2 * defaults.alpha:.0%} "
            f"paired bootstrap over prompts; p_adj: {defaults.correction}; "
            f"seed {report.seed}"
        ),
    )
    for column, justify in (
        ("dimension", "left"),
        ("n", "right"),
        ("baseline", "right"),
        ("candidate", "right"),
        ("delta", "right"),
        ("CI", "right"),
        ("margin", "right"),
        ("p_adj", "right"),
        ("status", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in report.rows:
        table.add_row(*table_cells(row))
    return table


def table_cells(row: RowOutcome) -> list[str]:
    style = STATUS_STYLE.get(row.status, "")
    return [
        row.name,
        str(row.n_prompts) if row.n_prompts else "-",
        _number(row.baseline),
        _number(row.candidate),
        _number(row.delta, signed=True),
        _interval(row),
        f"{row.margin:g}",
        "-" if row.p_adj is None else f"{row.p_adj:.3g}",
        f"[{style}]{row.status}[/]" if style else row.status,
    ]


def print_report(report: GateReport, console: Console | None = None) -> None:
    console = console or Console(width=None if _is_terminal() else 140)
    console.print(render_table(report))
    for row in report.rows:
        if row.status in ("FAIL", "WARN", "SKIPPED"):
            console.print(f"  {row.status:<8} {row.name}: {row.reason}", highlight=False, markup=False)
    console.print(summary_line(report), highlight=False, markup=False)


def summary_line(report: GateReport) -> str:
    counts: dict[str, int] = {}
    for row in report.rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    tally = ", ".join(f"{counts[s]} {s}" for s in ("FAIL", "WARN", "IMPROVED", "PASS", "SKIPPED") if s in counts)
    failed = f"; regressed: {', '.join(report.failed)}" if report.failed else ""
    strict = " (strict: WARN fails)" if report.strict and report.status == "WARN" else ""
    return f"gate {report.status}{strict}: {tally}{failed} -> exit {report.exit_code}"


def _interval(row: RowOutcome) -> str:
    if row.ci_low is None or row.ci_high is None:
        return "-"
    return f"{row.ci_low:+.4f}..{row.ci_high:+.4f}"


def _number(value: Any, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _is_terminal() -> bool:
    return Console().is_terminal
