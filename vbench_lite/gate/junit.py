"""JUnit XML of a gate report: one testcase per dimension/aggregate (docs/gate.md, "Outputs").

`<failure>` on FAIL (and on WARN under --strict), `<skipped>` for a row that was not evaluated.
Written with the standard library's ElementTree, which escapes attribute and text content.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from vbench_lite.gate.decision import RowOutcome
from vbench_lite.gate.engine import GateReport

SUITE_NAME = "vbl gate"


def junit_xml(report: GateReport) -> bytes:
    classname = f"vbl.gate.{_classname_part(report.candidate.model.get('name') or 'model')}"
    failures = [row for row in report.rows if _is_failure(row.status, report.strict)]
    skipped = [row for row in report.rows if row.status == "SKIPPED"]
    suites = ET.Element(
        "testsuites",
        name=SUITE_NAME,
        tests=str(len(report.rows)),
        failures=str(len(failures)),
        errors="0",
        skipped=str(len(skipped)),
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=SUITE_NAME,
        tests=str(len(report.rows)),
        failures=str(len(failures)),
        errors="0",
        skipped=str(len(skipped)),
        time="0",
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("candidate", str(report.candidate.path)),
        ("baseline", str(report.baseline.path)),
        ("seed", str(report.seed)),
        ("status", report.status),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    for row in report.rows:
        case = ET.SubElement(suite, "testcase", classname=classname, name=row.name, time="0")
        if _is_failure(row.status, report.strict):
            failure = ET.SubElement(case, "failure", type=row.status, message=f"{row.name} {row.status}: {row.reason}")
            failure.text = _details(row)
        elif row.status == "SKIPPED":
            ET.SubElement(case, "skipped", message=row.reason)
        else:
            ET.SubElement(case, "system-out").text = f"{row.status}: {row.reason}"
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


def write_junit(report: GateReport, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(junit_xml(report))
    os.replace(tmp, path)


def _is_failure(status: str, strict: bool) -> bool:
    return status == "FAIL" or (strict and status == "WARN")


def _details(row: RowOutcome) -> str:
    fields = (
        "baseline",
        "candidate",
        "delta",
        "ci_low",
        "ci_high",
        "margin",
        "floor",
        "p_value",
        "p_adj",
        "n_prompts",
        "method",
    )
    return "\n".join(f"{name}: {getattr(row, name)}" for name in fields)


def _classname_part(name: str) -> str:
    # Dots split JUnit class names into packages; keep the model name one segment.
    return name.replace(".", "_").replace(" ", "_")
