"""What the gate reads: run directories become per-prompt tables; policies merge over the default."""

from __future__ import annotations

from pathlib import Path

import pytest
from gate_runs import write_run

from vbench_lite.gate.engine import run_gate
from vbench_lite.gate.errors import GateUsageError
from vbench_lite.gate.inputs import load_run
from vbench_lite.gate.policy import load_policy


def test_samples_of_a_prompt_are_averaged_and_failed_videos_left_out(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "run",
        {"aesthetic_quality": {"many": [0.2, 0.4, 0.6, 0.8, 1.0], "one": [0.3]}},
        failed={"aesthetic_quality": [("one", 1)]},
    )
    source = load_run(run)
    means = source.per_prompt["aesthetic_quality"]
    assert means.to_dict() == pytest.approx({"many": 0.6, "one": 0.3})  # each prompt counts once
    assert source.failed_videos == {"aesthetic_quality": 1}
    assert source.per_video["aesthetic_quality"].size == 6


def test_failed_videos_are_reported_as_warnings(tmp_path: Path) -> None:
    scores = {"aesthetic_quality": {f"p{i}": [0.5, 0.6] for i in range(5)}}
    baseline = write_run(tmp_path / "b", scores)
    candidate = write_run(tmp_path / "c", scores, failed={"aesthetic_quality": [("p0", 2)]})
    report = run_gate(candidate, baseline, policy=load_policy())
    assert any("candidate: 1 video(s) failed on aesthetic_quality" in w for w in report.warnings)


def test_default_policy_ships_with_the_package() -> None:
    policy = load_policy()
    assert policy.defaults.correction == "holm" and policy.defaults.max_drop_abs == 0.01
    assert policy.rule_for("dynamic_degree").method == "mcnemar"
    assert policy.rule_for("dynamic_degree").margin == 0.05
    assert policy.rule_for("total_score").margin == 0.005
    assert policy.rule_for("subject_consistency").method == "paired_bootstrap"


def test_a_user_policy_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text("[defaults]\nalpha = 0.01\n[dims.scene]\nmax_drop_abs = 0.02\nmin_value = 0.3\n")
    policy = load_policy(path)
    assert policy.defaults.alpha == 0.01 and policy.defaults.resamples == 10000
    assert policy.rule_for("scene").margin == 0.02 and policy.rule_for("scene").floor == 0.3
    assert policy.rule_for("dynamic_degree").method == "mcnemar"  # the shipped override stays


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[aggregate.total]\nmax_drop_abs = 0.1\n", "unknown aggregate 'total'"),
        ('[aggregate.total_score]\nmethod = "mcnemar"\n', "'mcnemar' is for binary dimensions"),
        ('[defaults]\ncorrection = "sidak"\n', "defaults.correction"),
        ("[dims.scene]\nmax_drop_abs = -1\n", "dims.scene.max_drop_abs"),
        ("[defaults\n", "not valid TOML"),
    ],
)
def test_invalid_policies_are_one_line_usage_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(text)
    with pytest.raises(GateUsageError) as caught:
        load_policy(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_mcnemar_on_a_continuous_dimension_is_a_usage_error(tmp_path: Path) -> None:
    scores = {"aesthetic_quality": {f"p{i}": [0.5, 0.6] for i in range(5)}}
    run = write_run(tmp_path / "run", scores)
    path = tmp_path / "gate.toml"
    path.write_text('[dims.aesthetic_quality]\nmethod = "mcnemar"\n')
    with pytest.raises(GateUsageError, match="not all 0/1"):
        run_gate(run, run, policy=load_policy(path))
