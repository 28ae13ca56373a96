"""VBench's Total, end to end: `vbl evaluate --dims all --backend vbench` through the CLI over a small
VBench-format suite (all 16 dimensions, seeded random weights in VBench's cache layout, real clips;
tests/total_suite.py), against VBench's own final-score script.

The chain of checks:
- the run reproduces the recorded run, tests/data/total_eval_results.json, dimension by dimension and
  video by video (within TOLERANCE: thread scheduling alone moves float32 sums by ~1e-7), so the golden
  below stays tied to the code that users run;
- the Quality / Semantic / Total that the run prints, writes to summary.json and stores in the results
  store are the ones `vbl aggregate --json` computes from the run's own eval_results.json;
- `vbl aggregate` on the recorded run gives what VBench's `scripts/cal_final_score.py` gave on the same
  file, tests/data/total_golden.json (made by scripts/fidelity/total_golden.py; the script is not
  shipped with the vbench package, so CI cannot run it live).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import total_suite
from typer.testing import CliRunner

from vbench_lite.cli import app
from vbench_lite.rundir import canonical_dimension_name
from vbench_lite.store import ResultStore

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "total_eval_results.json"
GOLDEN = DATA / "total_golden.json"
GROUPS = ("quality", "semantic", "total")
TOLERANCE = 1e-4  # per-video values and aggregates against the recorded run, as in the other fidelity tests
# Same formula, same floats: only the order of the sums differs (VBench adds dynamic degree last in
# Quality, we add the dimensions in the scheme's order), which may change the last bit.
SAME_FLOATS = 1e-12
PRINTED_ROW = re.compile(r"^│\s*(Quality|Semantic|Total)\s*│.*│\s*(-?[\d.]+)%\s*│$")


def vbl_aggregate(eval_results: Path) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["aggregate", "--json", str(eval_results)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def figures(source: dict[str, Any]) -> dict[str, float]:
    return {group: source[group] for group in GROUPS}


@pytest.fixture(scope="module")
def total_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Any]]:
    """The suite's run: (run directory, video folder, CliRunner result). No cache of this machine is read."""
    work = tmp_path_factory.mktemp("total")
    with pytest.MonkeyPatch.context() as env:
        for variable in ("VBL_HOME", "VBENCH_CACHE_DIR", "TORCH_HOME", "HF_HOME"):
            env.setenv(variable, str(work / variable.lower()))
        for variable in ("VBL_WEIGHTS_DIR", "VBL_DB", "HF_HUB_CACHE"):
            env.delenv(variable, raising=False)
        videos = total_suite.write_videos(work / "videos")
        full_info = total_suite.write_full_info(work / "full_info.json")
        weights = total_suite.write_weights(work / "weights")
        result = total_suite.evaluate(videos, full_info, weights, work / "run")
    assert result.exit_code == 0, result.output
    yield work / "run", videos, result


@pytest.mark.slow
@pytest.mark.fidelity
def test_the_run_scores_the_16_dimensions_as_recorded(total_run: tuple[Path, Path, Any]) -> None:
    run_dir, videos, _ = total_run
    produced = total_suite.deterministic(json.loads((run_dir / "eval_results.json").read_text()), videos)
    recorded = json.loads(FIXTURE.read_text())
    assert set(total_suite.VBENCH_DIMENSIONS) <= set(recorded) <= set(produced)
    for name, (aggregate, per_video) in recorded.items():
        ours_aggregate, ours_per_video = produced[name]
        assert ours_aggregate == pytest.approx(aggregate, abs=TOLERANCE), name
        assert [v["video_path"] for v in ours_per_video] == [v["video_path"] for v in per_video], name
        for ours, theirs in zip(ours_per_video, per_video, strict=True):
            assert type(ours["video_results"]) is type(theirs["video_results"]), (name, theirs["video_path"])
            assert ours["video_results"] == pytest.approx(theirs["video_results"], abs=TOLERANCE), name


@pytest.mark.slow
@pytest.mark.fidelity
def test_printed_and_stored_total_are_vbl_aggregate_of_the_runs_eval_results(
    total_run: tuple[Path, Path, Any],
) -> None:
    run_dir, _, result = total_run
    expected = vbl_aggregate(run_dir / "eval_results.json")
    assert expected["missing"] == {"quality": [], "semantic": []}

    summary = json.loads((run_dir / "summary.json").read_text())
    assert figures(summary) == figures(expected)  # the same floats through the same code: bit for bit

    store = ResultStore(f"sqlite:///{run_dir}.db", read_only=True)
    (run_id,) = store.run_ids()
    stored = store.aggregates_frame(run_id).set_index("name")["raw"]
    assert {group: stored[group] for group in GROUPS} == figures(expected)

    printed = {match[1].lower(): match[2] for match in map(PRINTED_ROW.match, result.stdout.splitlines()) if match}
    assert printed == {group: f"{100 * expected[group]:.2f}" for group in GROUPS}


@pytest.mark.fidelity
def test_vbl_aggregate_is_vbench_cal_final_score_on_the_recorded_run() -> None:
    golden = json.loads(GOLDEN.read_text())
    assert golden["input_sha256"] == hashlib.sha256(FIXTURE.read_bytes()).hexdigest(), (
        "tests/data/total_eval_results.json changed: rerun scripts/fidelity/total_golden.py")
    recorded = {canonical_dimension_name(name): value[0] for name, value in json.loads(FIXTURE.read_text()).items()}
    # VBench's script read every dimension of our file, under its own names (spaces for underscores).
    assert {canonical_dimension_name(name): value for name, value in golden["read"].items()} == recorded
    assert {name.replace("_", " ") for name in total_suite.VBENCH_DIMENSIONS} <= set(golden["read"])

    ours = vbl_aggregate(FIXTURE)
    assert figures(ours) == pytest.approx(figures(golden), abs=SAME_FLOATS)


@pytest.mark.slow
@pytest.mark.fidelity
def test_the_runs_total_is_vbench_cal_final_score_of_the_recorded_run(total_run: tuple[Path, Path, Any]) -> None:
    """What the two checks above give together; the bound is TOLERANCE carried through the widest
    normalisation (1 / (0.2855 − 0.0009) for appearance style)."""
    run_dir, _, _ = total_run
    summary = json.loads((run_dir / "summary.json").read_text())
    golden = json.loads(GOLDEN.read_text())
    assert figures(summary) == pytest.approx(figures(golden), abs=TOLERANCE / (0.2855 - 0.0009))
