"""A run directory written by an earlier vbl still imports, aggregates and gates.

tests/data/run_v0_1_0 is a real run of vbl 0.1.0 (git 023e281, before the packages moved under
`vbench_lite.*` and the run directory became typed): `vbl evaluate --videos clips --dims
subject_consistency,background_consistency --backend embedded` over the four clips of `vbl samples`.
Its manifest, scores.parquet, summary.json and eval_results.json are kept as written (the videos are
not needed to import or gate).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vbench_lite.cli import app
from vbench_lite.importer import import_path
from vbench_lite.store import ResultStore

OLD_RUN = Path(__file__).parent / "data" / "run_v0_1_0"
DIMS = ("subject_consistency", "background_consistency")


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    return Path(shutil.copytree(OLD_RUN, tmp_path / "run-old"))


def test_it_imports_with_the_aggregates_it_recorded(old_run: Path, tmp_path: Path) -> None:
    summary = json.loads((old_run / "summary.json").read_text())
    with ResultStore(f"sqlite:///{tmp_path / 'vbl.db'}") as store:
        run_id = import_path(store, old_run)
        assert run_id == json.loads((old_run / "manifest.json").read_text())["run_id"]
        aggregates = store.aggregates_frame(run_id).set_index("name")
        assert len(store.scores_frame(run_id)) == 4 * len(DIMS)
    for dim in DIMS:  # recomputed from its per-video scores, equal to what 0.1.0 wrote
        assert aggregates.loc[dim, "raw"] == pytest.approx(summary["dimensions"][dim]["raw"], abs=1e-12)
        assert aggregates.loc[dim, "normalised"] == pytest.approx(summary["dimensions"][dim]["normalised"], abs=1e-12)


def test_it_aggregates_as_it_did(old_run: Path) -> None:
    summary = json.loads((old_run / "summary.json").read_text())
    shown = CliRunner().invoke(app, ["aggregate", str(old_run / "eval_results.json"), "--json"])
    assert shown.exit_code == 0, shown.output
    result = json.loads(shown.output)
    assert result["quality_partial"] == pytest.approx(summary["quality_partial"], abs=1e-12)
    assert result["total"] is None and summary["total"] is None


def test_it_becomes_a_baseline_and_gates(old_run: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    promoted = CliRunner().invoke(app, ["baseline", "promote", str(old_run), "--out", str(baseline)])
    assert promoted.exit_code == 0, promoted.output
    report = tmp_path / "gate.json"
    gated = CliRunner().invoke(app, ["gate", "--candidate", str(old_run), "--baseline", str(baseline),
                                     "--report-json", str(report), "--github", "off"])
    assert gated.exit_code == 0, gated.output
    rows = {row["name"]: row["status"] for row in json.loads(report.read_text())["rows"]}
    assert all(rows[dim] == "PASS" for dim in DIMS), rows
