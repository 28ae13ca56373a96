"""The gate's statistics: paired bootstrap, exact McNemar, multiple-testing corrections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from vbench_lite.gate.stats import adjust_p_values, mcnemar_exact, paired_bootstrap


def test_holm_adjusts_step_down_and_stays_monotone() -> None:
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> raised to 0.06
    assert adjust_p_values([0.01, 0.04, 0.03, 0.005], "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert adjust_p_values([0.3, 0.2], "holm") == pytest.approx([0.4, 0.4])  # kept monotone
    assert adjust_p_values([0.9, 0.8], "holm") == [1.0, 1.0]  # capped at 1


def test_bh_and_none_corrections() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    assert adjust_p_values(p, "bh") == pytest.approx(stats.false_discovery_control(p))
    assert adjust_p_values(p, "none") == p
    assert adjust_p_values([], "holm") == []


def test_paired_bootstrap_is_paired_over_prompts() -> None:
    # Prompts differ hugely, the candidate is the baseline minus exactly 0.02 per prompt: a paired
    # test sees a tight interval at -0.02; an unpaired comparison would see only noise.
    rng = np.random.default_rng(0)
    baseline = rng.uniform(0.2, 0.9, size=50)
    candidate = baseline - 0.02
    result = paired_bootstrap(
        candidate, baseline, np.ones(1), margin=0.01, alpha=0.05, resamples=2000, ci_method="BCa", seed=3
    )
    assert result.n == 50
    assert result.mean_diff == pytest.approx(-0.02)
    assert result.ci_low == pytest.approx(-0.02) and result.ci_high == pytest.approx(-0.02)
    assert result.p_value == pytest.approx(1 / 2001)  # no resample reaches the margin


def test_paired_bootstrap_same_seed_same_numbers_and_seed_matters() -> None:
    rng = np.random.default_rng(1)
    baseline = rng.normal(0.5, 0.1, 30)
    candidate = baseline + rng.normal(-0.005, 0.02, 30)
    kwargs = dict(margin=0.01, alpha=0.05, resamples=1000, ci_method="BCa")
    first = paired_bootstrap(candidate, baseline, np.ones(1), seed=7, **kwargs)
    again = paired_bootstrap(candidate, baseline, np.ones(1), seed=7, **kwargs)
    other = paired_bootstrap(candidate, baseline, np.ones(1), seed=8, **kwargs)
    assert first == again
    assert (first.ci_low, first.ci_high) != (other.ci_low, other.ci_high)


def test_paired_bootstrap_of_identical_runs_is_a_zero_interval() -> None:
    values = np.linspace(0.1, 0.9, 12)
    result = paired_bootstrap(
        values, values, np.ones(1), margin=0.01, alpha=0.05, resamples=500, ci_method="BCa", seed=0
    )
    assert (result.mean_diff, result.ci_low, result.ci_high) == (0.0, 0.0, 0.0)
    assert result.p_value == 1.0


def test_weighted_rows_with_disjoint_prompts_combine_per_dimension_means() -> None:
    # Two dimensions scored on different prompts (NaN elsewhere), weights 0.75 / 0.25.
    nan = np.nan
    baseline = np.array([[0.5, 0.6, nan, nan], [nan, nan, 0.2, 0.4]])
    candidate = baseline + np.array([[-0.1], [0.2]])
    result = paired_bootstrap(
        candidate,
        baseline,
        np.array([0.75, 0.25]),
        margin=0.01,
        alpha=0.05,
        resamples=500,
        ci_method="percentile",
        seed=0,
    )
    assert result.baseline_mean == pytest.approx(0.75 * 0.55 + 0.25 * 0.3)
    assert result.mean_diff == pytest.approx(0.75 * -0.1 + 0.25 * 0.2)


def test_too_few_prompts_gives_no_interval() -> None:
    result = paired_bootstrap(
        np.array([0.5]), np.array([0.6]), np.ones(1), margin=0.01, alpha=0.05, resamples=500, ci_method="BCa", seed=0
    )
    assert result.ci_low is None and result.p_value is None
    assert result.mean_diff == pytest.approx(-0.1)


def _videos(values: list[int]) -> pd.Series:
    index = pd.MultiIndex.from_tuples(
        [(f"p{i // 5}", i % 5) for i in range(len(values))], names=["prompt_id", "sample_index"]
    )
    return pd.Series(values, index=index, dtype=float)


def test_mcnemar_counts_discordant_pairs_and_is_exact() -> None:
    baseline = _videos([1] * 20 + [0] * 20)
    candidate = _videos([0] * 9 + [1] * 11 + [1] * 1 + [0] * 19)  # 9 worse, 1 better
    result = mcnemar_exact(candidate, baseline)
    assert (result.worse, result.better, result.pairs) == (9, 1, 40)
    assert result.p_value == pytest.approx(stats.binomtest(9, 10, 0.5, alternative="greater").pvalue)
    assert result.p_value < 0.05


def test_mcnemar_without_discordant_pairs_is_not_significant() -> None:
    videos = _videos([1, 0, 1, 1, 0])
    assert mcnemar_exact(videos, videos).p_value == 1.0
