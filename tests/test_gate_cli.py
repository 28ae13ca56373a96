"""`vbl gate` and `vbl baseline promote` through the CLI: exit codes, outputs, compatibility."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import typer
from gate_runs import shifted, synthetic, write_run
from typer.testing import CliRunner, Result

import vbench_lite.gate.engine
from vbench_lite.gate.baseline import load_baseline
from vbench_lite.gate.commands import register
from vbench_lite.gate.github import escape_data, escape_property, workflow_command
from vbench_lite.gate.inputs import load_run

DIM = "aesthetic_quality"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture(autouse=True)
def not_on_github(monkeypatch: pytest.MonkeyPatch) -> None:
    # The suite may itself run under GitHub Actions; these tests set the variables they need.
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def invoke(app: typer.Typer, *args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    """A baseline, a rerun equal to it, and a candidate that dropped three margins."""
    base = synthetic(n_prompts=30)
    return {
        "baseline": write_run(tmp_path / "baseline", {DIM: base}),
        "rerun": write_run(tmp_path / "rerun", {DIM: base}),
        "regressed": write_run(tmp_path / "regressed", {DIM: shifted(base, -0.03, 0.005)}),
        "noisy": write_run(tmp_path / "noisy", {DIM: shifted(base, -0.011, 0.05)}),
    }


# -- exit codes ------------------------------------------------------------------------------


def test_exit_0_when_a_rerun_matches_its_baseline(app: typer.Typer, runs: dict[str, Path]) -> None:
    result = invoke(app, "gate", "--candidate", runs["rerun"], "--baseline", runs["baseline"])
    assert result.exit_code == 0, result.output
    assert "gate PASS" in result.output


def test_exit_1_on_a_regression_naming_the_dimension(app: typer.Typer, runs: dict[str, Path]) -> None:
    result = invoke(app, "gate", "--candidate", runs["regressed"], "--baseline", runs["baseline"])
    assert result.exit_code == 1, result.output
    assert f"regressed: {DIM}" in result.output


def test_warn_exits_0_and_1_only_with_strict(app: typer.Typer, runs: dict[str, Path]) -> None:
    args = ("gate", "--candidate", runs["noisy"], "--baseline", runs["baseline"])
    assert invoke(app, *args).exit_code == 0
    strict = invoke(app, *args, "--strict")
    assert strict.exit_code == 1 and "gate WARN" in strict.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--dims", "no_such_dimension"), "unknown name 'no_such_dimension'"),
        (("--policy", "MISSING.toml"), "policy file not found"),
        (("--github", "sometimes"), "sometimes"),
    ],
)
def test_exit_2_on_usage_errors(app: typer.Typer, runs: dict[str, Path], extra: tuple[str, ...], message: str) -> None:
    result = invoke(app, "gate", "--candidate", runs["rerun"], "--baseline", runs["baseline"], *extra)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_exit_2_on_a_missing_option_or_path(app: typer.Typer, runs: dict[str, Path], tmp_path: Path) -> None:
    assert invoke(app, "gate", "--candidate", runs["rerun"]).exit_code == 2
    result = invoke(app, "gate", "--candidate", tmp_path / "nope", "--baseline", runs["baseline"])
    assert result.exit_code == 2 and "candidate not found" in result.output


def test_exit_2_on_an_invalid_policy(app: typer.Typer, runs: dict[str, Path], tmp_path: Path) -> None:
    policy = tmp_path / "gate.toml"
    policy.write_text("[defaults]\nalpha = 2\n")
    result = invoke(app, "gate", "--candidate", runs["rerun"], "--baseline", runs["baseline"], "--policy", policy)
    assert result.exit_code == 2
    assert "defaults.alpha" in result.output and "Traceback" not in result.output
    policy.write_text("[dims.aesthetic_quality]\nmax_drop = 0.1\n")  # a misspelt key
    result = invoke(app, "gate", "--candidate", runs["rerun"], "--baseline", runs["baseline"], "--policy", policy)
    assert result.exit_code == 2 and "max_drop" in result.output


def test_exit_4_on_an_internal_error(app: typer.Typer, runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(vbench_lite.gate.engine, "paired_bootstrap", broken)
    result = invoke(app, "gate", "--candidate", runs["rerun"], "--baseline", runs["baseline"])
    assert result.exit_code == 4
    assert "internal error" in result.output


# -- compatibility: exit 3 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate_kwargs", "named"),
    [
        ({"suite_sha": "b" * 64}, "prompt-suite hash differs"),
        ({"scorer_version": {DIM: "2"}}, f"{DIM} scorer version differs (candidate 2, baseline 1)"),
        ({"backend": {DIM: "embedded"}}, f"{DIM} backend differs (candidate embedded, baseline vbench)"),
        ({"aggregation_version": "2.0"}, "aggregation version differs"),
    ],
)
def test_exit_3_names_what_differs_and_allow_mismatch_proceeds(
    app: typer.Typer, tmp_path: Path, candidate_kwargs: dict, named: str
) -> None:
    base = synthetic(n_prompts=20)
    baseline = write_run(tmp_path / "b", {DIM: base})
    candidate = write_run(tmp_path / "c", {DIM: base}, **candidate_kwargs)
    result = invoke(app, "gate", "--candidate", candidate, "--baseline", baseline)
    assert result.exit_code == 3, result.output
    assert named in result.output and "--allow-mismatch" in result.output
    allowed = invoke(app, "gate", "--candidate", candidate, "--baseline", baseline, "--allow-mismatch")
    assert allowed.exit_code == 0, allowed.output
    assert f"warning: mismatch allowed: {named}" in allowed.output


def test_different_prompt_sets_exit_3_or_compare_the_intersection(app: typer.Typer, tmp_path: Path) -> None:
    base = synthetic(n_prompts=20)
    baseline = write_run(tmp_path / "b", {DIM: base})
    fewer = {p: v for p, v in base.items() if p not in ("p000", "p001")}
    candidate = write_run(tmp_path / "c", {DIM: {**fewer, "extra": [0.5]}})
    result = invoke(app, "gate", "--candidate", candidate, "--baseline", baseline)
    assert result.exit_code == 3
    assert "prompts differ: 2 only in baseline (p000, p001), 1 only in candidate (extra)" in (result.output)
    report = tmp_path / "gate.json"
    allowed = invoke(
        app, "gate", "--candidate", candidate, "--baseline", baseline, "--allow-mismatch", "--report-json", report
    )
    assert allowed.exit_code == 0
    assert json.loads(report.read_text())["rows"][0]["n_prompts"] == 18


def test_exit_3_on_a_missing_dimension_or_an_unfinished_run(app: typer.Typer, tmp_path: Path) -> None:
    base = synthetic(n_prompts=10)
    baseline = write_run(tmp_path / "b", {DIM: base, "imaging_quality": base})
    only_one = write_run(tmp_path / "c", {DIM: base})
    result = invoke(app, "gate", "--candidate", only_one, "--baseline", baseline)
    assert result.exit_code == 3
    assert "imaging_quality is in the baseline but the candidate has no scores" in result.output
    running = write_run(tmp_path / "r", {DIM: base, "imaging_quality": base}, status="running")
    result = invoke(app, "gate", "--candidate", running, "--baseline", baseline)
    assert result.exit_code == 3 and "candidate run is incomplete (status 'running')" in (result.output)


def test_exit_3_on_nan_scores_or_a_corrupt_baseline(app: typer.Typer, tmp_path: Path) -> None:
    base = synthetic(n_prompts=10)
    baseline = write_run(tmp_path / "b", {DIM: base})
    candidate = write_run(tmp_path / "c", {DIM: {**base, "p000": [float("nan")]}})
    result = invoke(app, "gate", "--candidate", candidate, "--baseline", baseline)
    assert result.exit_code == 3 and "NaN" in result.output
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"schema_version": 1, "per_prompt": {')
    result = invoke(app, "gate", "--candidate", baseline, "--baseline", corrupt)
    assert result.exit_code == 3 and "is not JSON" in result.output
    corrupt.write_text('{"schema_version": 1}')
    result = invoke(app, "gate", "--candidate", baseline, "--baseline", corrupt)
    assert result.exit_code == 3 and "not a valid baseline" in result.output


# -- outputs ----------------------------------------------------------------------------------


def test_junit_has_one_testcase_per_row_with_failures_and_skips(
    app: typer.Typer, runs: dict[str, Path], tmp_path: Path
) -> None:
    junit = tmp_path / "out" / "gate.xml"
    result = invoke(app, "gate", "--candidate", runs["regressed"], "--baseline", runs["baseline"], "--junit", junit)
    assert result.exit_code == 1
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {DIM, "quality_score", "total_score"}
    assert cases[DIM].get("classname") == "vbl.gate.tiny"
    failure = cases[DIM].find("failure")
    assert failure is not None and failure.get("type") == "FAIL"
    assert DIM in (failure.get("message") or "")
    assert cases["quality_score"].find("skipped") is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "2")


def test_same_seed_gives_a_byte_identical_json_report(app: typer.Typer, runs: dict[str, Path], tmp_path: Path) -> None:
    outputs = []
    for name in ("first.json", "second.json"):
        result = invoke(
            app,
            "gate",
            "--candidate",
            runs["noisy"],
            "--baseline",
            runs["baseline"],
            "--seed",
            "5",
            "--report-json",
            tmp_path / name,
        )
        assert result.exit_code == 0
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    report = json.loads(outputs[0])
    assert report["seed"] == 5 and report["rows"][0]["status"] == "WARN"
    invoke(
        app,
        "gate",
        "--candidate",
        runs["noisy"],
        "--baseline",
        runs["baseline"],
        "--seed",
        "6",
        "--report-json",
        tmp_path / "other.json",
    )
    assert (tmp_path / "other.json").read_bytes() != outputs[0]


def test_annotation_text_is_escaped_like_the_actions_toolkit() -> None:
    assert escape_data("50% worse\r\nsee: a,b") == "50%25 worse%0D%0Asee: a,b"
    assert escape_property("vbl gate: a,b%\n") == "vbl gate%3A a%2Cb%25%0A"
    assert workflow_command("error", "drop: 5%\nmore", title="vbl gate: x,y") == (
        "::error title=vbl gate%3A x%2Cy::drop: 5%25%0Amore"
    )


def test_github_mode_writes_annotations_and_the_step_summary(
    app: typer.Typer, runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = invoke(app, "gate", "--candidate", runs["regressed"], "--baseline", runs["baseline"])
    assert result.exit_code == 1
    assert f"::error title=vbl gate%3A {DIM}::delta -0.0300" in result.output
    text = summary.read_text()
    assert text.startswith("earlier step\n")  # appended, not overwritten
    assert "### vbl gate: FAIL" in text and f"| {DIM} | 30 |" in text and ":x: FAIL" in text
    off = invoke(app, "gate", "--candidate", runs["regressed"], "--baseline", runs["baseline"], "--github", "off")
    assert "::error" not in off.output


# -- baselines ----------------------------------------------------------------------------------


def test_promote_round_trips_a_run_into_a_baseline(app: typer.Typer, runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "baselines" / "tiny.json"
    result = invoke(app, "baseline", "promote", runs["baseline"], "--out", out)
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["schema_version"] == 1
    assert record["prompt_suite"]["sha256"] == "a" * 64
    assert record["scorers"][DIM] == {"version": "1", "backend": "vbench", "weights_sha256": None, "group": "quality"}
    assert record["aggregation"] == {"name": "vbench-v1", "version": "1.0"}
    assert record["model"]["name"] == "tiny" and record["config_hash"] == "c" * 64
    assert record["aggregates"][DIM]["n_prompts"] == 30

    from_file, from_run = load_baseline(out), load_run(runs["baseline"])
    pd.testing.assert_series_equal(from_file.per_prompt[DIM], from_run.per_prompt[DIM], check_names=False)
    # Gating against the file or against the run it came from gives the same verdicts.
    verdicts = []
    for baseline in (out, runs["baseline"]):
        report = tmp_path / "r.json"
        code = invoke(
            app, "gate", "--candidate", runs["regressed"], "--baseline", baseline, "--report-json", report
        ).exit_code
        rows = json.loads(report.read_text())["rows"]
        verdicts.append((code, [(r["name"], r["status"], r["delta"], r["ci_high"]) for r in rows]))
    assert verdicts[0] == verdicts[1]


def test_promote_keeps_per_video_results_of_binary_dimensions(tmp_path: Path) -> None:
    from vbench_lite.gate.baseline import promote

    run = write_run(
        tmp_path / "run",
        {"dynamic_degree": {"p0": [1.0, 0.0], "p1": [1.0, 1.0]}, DIM: {"p0": [0.5, 0.6], "p1": [0.7, 0.8]}},
    )
    record = promote(run)
    assert record["per_video"] == {"dynamic_degree": {"p0": {"0": 1.0, "1": 0.0}, "p1": {"0": 1.0, "1": 1.0}}}
    assert record["per_prompt"]["dynamic_degree"] == {"p0": 0.5, "p1": 1.0}


def test_promote_refuses_an_unfinished_run(app: typer.Typer, tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", {DIM: synthetic(n_prompts=5)}, status="running")
    result = invoke(app, "baseline", "promote", run, "--out", tmp_path / "b.json")
    assert result.exit_code == 3 and "status 'running'" in result.output
    assert not (tmp_path / "b.json").exists()


@pytest.mark.slow
def test_the_vbl_cli_has_the_gate_and_never_imports_torch(runs: dict[str, Path]) -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from vbench_lite.cli import app\n"
        f"r = CliRunner().invoke(app, ['gate', '--candidate', {str(runs['rerun'])!r}, "
        f"'--baseline', {str(runs['baseline'])!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'torch' not in sys.modules, 'vbl gate imported torch'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


def test_the_documented_workflow_uses_real_gate_options() -> None:
    """docs/examples/github-actions-gate.yml parses, and its `vbl gate` flags exist."""
    import re

    import yaml

    from vbench_lite.cli import app as vbl_app

    workflow = Path(__file__).parents[1] / "docs" / "examples" / "github-actions-gate.yml"
    steps = yaml.safe_load(workflow.read_text())["jobs"]["gate"]["steps"]
    gate_step = next(s["run"] for s in steps if "vbl gate" in s.get("run", ""))
    used = set(re.findall(r"(--[a-z-]+)", gate_step))
    command = typer.main.get_command(vbl_app).commands["gate"]  # type: ignore[attr-defined]
    known = {opt for param in command.params for opt in param.opts}
    assert used <= known, used - known
