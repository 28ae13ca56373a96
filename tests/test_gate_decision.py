"""The gate's verdicts on synthetic per-prompt scores with a known injected shift.

aesthetic_quality normalises to itself under vbench-v1 (min 0, max 1), so a shift of k margins
is a shift of k * 0.01 in the raw scores written below.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gate_runs import VBENCH_GROUPS, shifted, synthetic, write_run

from vbench_lite.aggregate import aggregate, load_scheme
from vbench_lite.gate.decision import RowOutcome
from vbench_lite.gate.engine import GateReport, run_gate
from vbench_lite.gate.policy import load_policy

MARGIN = 0.01  # the default policy's max_drop_abs


def gate_row(
    tmp_path: Path, shift: float, noise: float, policy_text: str | None = None, dim: str = "aesthetic_quality"
) -> tuple[GateReport, RowOutcome]:
    base = synthetic(n_prompts=40)
    baseline = write_run(tmp_path / "baseline", {dim: base})
    candidate = write_run(tmp_path / "candidate", {dim: shifted(base, shift, noise)})
    policy_path = None
    if policy_text is not None:
        policy_path = tmp_path / "gate.toml"
        policy_path.write_text(policy_text)
    report = run_gate(candidate, baseline, policy=load_policy(policy_path), seed=0)
    return report, next(row for row in report.rows if row.name == dim)


def test_no_shift_passes(tmp_path: Path) -> None:
    report, row = gate_row(tmp_path, shift=0.0, noise=0.002)
    assert row.status == "PASS"
    assert report.exit_code == 0


def test_a_shift_of_three_margins_fails(tmp_path: Path) -> None:
    report, row = gate_row(tmp_path, shift=-3 * MARGIN, noise=0.005)
    assert row.status == "FAIL"
    assert row.ci_high < -MARGIN and row.p_adj < 0.05
    assert report.exit_code == 1 and report.failed == ["aesthetic_quality"]


def test_a_drop_just_past_one_margin_under_high_noise_warns(tmp_path: Path) -> None:
    report, row = gate_row(tmp_path, shift=-1.1 * MARGIN, noise=0.05)
    assert row.delta == pytest.approx(-1.1 * MARGIN)
    assert row.ci_low < -MARGIN < row.ci_high  # the interval straddles the margin
    assert row.status == "WARN"
    assert report.exit_code == 0


def test_strict_turns_a_warning_into_a_failure(tmp_path: Path) -> None:
    report, _ = gate_row(tmp_path, shift=-1.1 * MARGIN, noise=0.05)
    report.strict = True
    assert report.exit_code == 1


def test_an_improvement_is_reported_as_improved(tmp_path: Path) -> None:
    report, row = gate_row(tmp_path, shift=3 * MARGIN, noise=0.005)
    assert row.status == "IMPROVED" and row.ci_low > 0
    assert report.exit_code == 0


def test_a_small_drop_within_the_margin_passes(tmp_path: Path) -> None:
    _, row = gate_row(tmp_path, shift=-0.3 * MARGIN, noise=0.001)
    assert row.status == "PASS"


def test_an_absolute_floor_fails_even_without_a_drop(tmp_path: Path) -> None:
    _, row = gate_row(tmp_path, shift=0.0, noise=0.0, policy_text="[dims.aesthetic_quality]\nmin_value = 0.7\n")
    assert row.status == "FAIL" and "floor" in row.reason


def test_a_wider_margin_in_the_policy_absorbs_the_same_drop(tmp_path: Path) -> None:
    _, row = gate_row(
        tmp_path, shift=-3 * MARGIN, noise=0.005, policy_text="[dims.aesthetic_quality]\nmax_drop_abs = 0.05\n"
    )
    assert row.status == "PASS" and row.margin == 0.05


def test_threshold_method_ignores_noise(tmp_path: Path) -> None:
    _, row = gate_row(tmp_path, shift=-1.1 * MARGIN, noise=0.05, policy_text='[defaults]\nmethod = "threshold"\n')
    assert row.status == "FAIL" and row.ci_low is None


def binary_runs(tmp_path: Path, candidate_yes_rate: float) -> tuple[Path, Path]:
    """dynamic_degree: 40 prompts x 5 videos, baseline 80% yes, candidate at the given rate."""
    rng = np.random.default_rng(4)
    base = {f"p{i:02d}": [float(v) for v in rng.random(5) < 0.8] for i in range(40)}
    flip = np.random.default_rng(5)
    cand = {p: [float(v and flip.random() < candidate_yes_rate / 0.8) for v in vs] for p, vs in base.items()}
    return (write_run(tmp_path / "c", {"dynamic_degree": cand}), write_run(tmp_path / "b", {"dynamic_degree": base}))


def test_dynamic_degree_uses_exact_mcnemar_and_fails_a_large_drop(tmp_path: Path) -> None:
    candidate, baseline = binary_runs(tmp_path, candidate_yes_rate=0.4)
    report = run_gate(candidate, baseline, policy=load_policy())
    row = report.rows[0]
    assert row.name == "dynamic_degree" and row.method == "mcnemar"
    assert row.details["mcnemar_better"] == 0 and row.details["mcnemar_worse"] > 30
    assert row.status == "FAIL"


def test_dynamic_degree_identical_results_pass(tmp_path: Path) -> None:
    candidate, baseline = binary_runs(tmp_path, candidate_yes_rate=0.8)
    row = run_gate(candidate, baseline, policy=load_policy()).rows[0]
    assert row.details["mcnemar_worse"] == 0 and row.status == "PASS"


@pytest.mark.slow
def test_quality_semantic_total_are_gated_and_match_the_aggregation(tmp_path: Path) -> None:
    """All 16 dimensions, half on their own prompts; one dimension drops by 0.05 raw."""
    base_scores, cand_scores = {}, {}
    for k, dim in enumerate(VBENCH_GROUPS):
        per_prompt = synthetic(n_prompts=12, level=0.7, spread=0.05, seed=k)
        if k % 2:
            per_prompt = {f"{dim}-{p}": v for p, v in per_prompt.items()}
        base_scores[dim] = per_prompt
        cand_scores[dim] = shifted(per_prompt, -0.05 if dim == "temporal_flickering" else 0.0)
    # Dynamic degree is binary per video (its policy asks for McNemar).
    base_scores["dynamic_degree"] = {p: [1.0, 0.0, 1.0] for p in base_scores["dynamic_degree"]}
    cand_scores["dynamic_degree"] = base_scores["dynamic_degree"]
    report = run_gate(
        write_run(tmp_path / "c", cand_scores), write_run(tmp_path / "b", base_scores), policy=load_policy()
    )
    rows = {row.name: row for row in report.rows}
    scheme = load_scheme("vbench-v1")
    mean = {d: float(np.mean([np.mean(v) for v in s.values()])) for d, s in base_scores.items()}
    expected_base = aggregate(mean, scheme)
    mean_c = {d: float(np.mean([np.mean(v) for v in s.values()])) for d, s in cand_scores.items()}
    expected_cand = aggregate(mean_c, scheme)
    assert rows["quality_score"].baseline == pytest.approx(expected_base.quality)
    assert rows["total_score"].candidate == pytest.approx(expected_cand.total)
    assert rows["quality_score"].delta == pytest.approx(expected_cand.quality - expected_base.quality)
    assert rows["temporal_flickering"].status == "FAIL"
    # 0.05 raw on temporal flickering is 0.135 normalised, /6.5 in Quality, x0.8 in Total.
    assert rows["quality_score"].status == "FAIL" and rows["total_score"].status == "FAIL"
    assert rows["semantic_score"].status == "PASS"
    assert {rows[d].status for d in VBENCH_GROUPS if d != "temporal_flickering"} == {"PASS"}
    # Asking for the Total alone still pairs (and checks) all sixteen dimensions behind it.
    only_total = run_gate(tmp_path / "c", tmp_path / "b", policy=load_policy(), dims="total_score")
    assert [(row.name, row.status) for row in only_total.rows] == [("total_score", "FAIL")]


def test_dims_option_restricts_the_gated_rows(tmp_path: Path) -> None:
    base = synthetic(n_prompts=10)
    runs = {"aesthetic_quality": base, "imaging_quality": base}
    baseline = write_run(tmp_path / "b", runs)
    candidate = write_run(tmp_path / "c", {**runs, "imaging_quality": shifted(base, -0.1)})
    report = run_gate(candidate, baseline, policy=load_policy(), dims="aesthetic_quality")
    assert [row.name for row in report.rows] == ["aesthetic_quality"]
    assert report.exit_code == 0
