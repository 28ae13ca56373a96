"""GitHub Actions output: workflow-command annotations and the Markdown step summary.

Annotations follow the escaping of GitHub's own toolkit (actions/toolkit `command.ts`): the
message escapes %, CR and LF; a property value (here the title) also escapes ':' and ','.
The summary is appended to the file named by $GITHUB_STEP_SUMMARY (1 MiB cap per step).
"""

from __future__ import annotations

import os
from pathlib import Path

from vbench_lite.gate.engine import GateReport
from vbench_lite.gate.report import summary_line

SUMMARY_LIMIT_BYTES = 1024 * 1024


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(kind: str, message: str, **properties: str) -> str:
    """`::kind key=value,key=value::message`, every part escaped."""
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{kind}{' ' + props if props else ''}::{escape_data(message)}"


def annotation_lines(report: GateReport) -> list[str]:
    lines = []
    for row in report.rows:
        if row.status == "FAIL" or row.status == "WARN":
            kind = "error" if row.status == "FAIL" or report.strict else "warning"
            lines.append(workflow_command(kind, row.reason, title=f"vbl gate: {row.name}"))
    lines += [workflow_command("warning", w, title="vbl gate") for w in report.warnings]
    return lines


def use_github(mode: str) -> bool:
    return mode == "on" or (mode == "auto" and os.environ.get("GITHUB_ACTIONS") == "true")


def step_summary(report: GateReport) -> str:
    lines = [
        f"### vbl gate: {report.status}",
        "",
        f"Candidate `{report.candidate.model_label}` ({report.candidate.path}) against "
        f"baseline `{report.baseline.model_label}` ({report.baseline.path}).",
        "",
        "| dimension | n | baseline | candidate | delta | CI | margin | p_adj | status |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    from vbench_lite.gate.report import table_cells

    for row in report.rows:
        cells = table_cells(row)
        cells[-1] = _status_mark(row.status)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    defaults = report.policy.defaults
    lines += [
        "",
        f"Normalised {report.scheme.name} units; CI: {1 - 2 * defaults.alpha:.0%} paired bootstrap over "
        f"prompts; p_adj: {defaults.correction}; seed {report.seed}.",
        "",
    ]
    for row in report.rows:
        if row.status in ("FAIL", "WARN"):
            lines.append(f"- **{row.status}** `{row.name}`: {_cell(row.reason)}")
    for warning in report.warnings:
        lines.append(f"- warning: {_cell(warning)}")
    lines += ["", f"`{summary_line(report)}`", ""]
    return "\n".join(lines)


def append_step_summary(report: GateReport, path: Path | None = None) -> Path | None:
    target = path or (Path(os.environ["GITHUB_STEP_SUMMARY"]) if os.environ.get("GITHUB_STEP_SUMMARY") else None)
    if target is None:
        return None
    text = step_summary(report)
    if len(text.encode()) > SUMMARY_LIMIT_BYTES:
        text = text.encode()[: SUMMARY_LIMIT_BYTES - 64].decode(errors="ignore") + "\n(truncated)\n"
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(text)
    return target


def _status_mark(status: str) -> str:
    marks = {
        "FAIL": ":x: FAIL",
        "WARN": ":warning: WARN",
        "IMPROVED": ":rocket: IMPROVED",
        "PASS": ":white_check_mark: PASS",
        "SKIPPED": "SKIPPED",
    }
    return marks.get(status, status)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
