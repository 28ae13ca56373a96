"""Paired statistics over prompts (docs/gate.md, "What is compared, and how").

Continuous dimensions and the Quality/Semantic/Total scores: a paired bootstrap over prompts
(`scipy.stats.bootstrap(paired=True)`). Candidate and baseline saw the same prompts and seeds, so
a resample draws prompts and keeps each prompt's two scores together; the samples of a prompt were
averaged before (the prompt is the unit, not the video). An aggregate row resamples the union of
its dimensions' prompts once and recomputes every dimension's mean from the same draw, so the
correlation between dimensions scored on the same videos is kept.

The interval is two-sided at 1 - 2*alpha: its upper end is the one-sided (1 - alpha) bound that the
non-inferiority test reads (the TOST convention). The p-value of a regression row tests
H0 "the drop is within the margin" (delta >= -margin) against H1 "delta < -margin" by inverting
the bootstrap distribution: p = (1 + #{delta* >= -margin}) / (1 + B).

Binary dimensions (dynamic degree: one yes/no per video) get an exact McNemar test on
the per-video pairs (same prompt, same sample index, hence same seed): only discordant pairs carry
information, and under H0 "the candidate is not worse" a baseline-yes/candidate-no pair is at most
as likely as the reverse, so the count of such pairs among the discordant ones is tested against
Binomial(n_discordant, 1/2) with `scipy.stats.binomtest`. McNemar alone is not enough for the
gate: it tests delta = 0, not a margin, and it treats the ~5 videos of one prompt as independent,
which they are not. So a binary row also gets the prompt-level bootstrap interval of the per-prompt
yes-rate (which respects the clustering and carries the margin), and a FAIL needs both: the
interval wholly below -margin and the McNemar p-value significant after correction.

Multiple rows: Holm's step-down correction by default (a hard gate wants family-wise control),
Benjamini-Hochberg (`scipy.stats.false_discovery_control`) or none on request. A fixed seed gives
the same resamples, hence byte-identical reports.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats  # type: ignore[import-untyped]

# Bound the bootstrap's working memory: resamples are drawn in batches of at most this many
# values per data array (10000 resamples x 1000 prompts x 32 arrays would need 2.6 GB at once).
MAX_BATCH_VALUES = 2_000_000


@dataclass(frozen=True)
class PairedResult:
    n: int  # paired prompts
    baseline_mean: float
    candidate_mean: float
    mean_diff: float  # candidate - baseline
    ci_low: float | None
    ci_high: float | None
    p_value: float | None  # one-sided, small when the candidate regressed
    note: str = ""


@dataclass(frozen=True)
class McNemarResult:
    p_value: float
    worse: int  # baseline yes, candidate no
    better: int  # baseline no, candidate yes
    pairs: int


def paired_bootstrap(
    candidate: np.ndarray,
    baseline: np.ndarray,
    coefficients: np.ndarray,
    *,
    margin: float,
    alpha: float,
    resamples: int,
    ci_method: str,
    seed: int,
) -> PairedResult:
    """Bootstrap CI and regression p-value of sum_d c_d (mean cand_d - mean base_d).

    `candidate` and `baseline` are [dims, prompts] with NaN where a dimension lacks a prompt (the
    same cells on both sides); a plain dimension is one row with coefficient 1.
    """
    candidate = np.atleast_2d(np.asarray(candidate, dtype=float))
    baseline = np.atleast_2d(np.asarray(baseline, dtype=float))
    coefficients = np.asarray(coefficients, dtype=float)
    rows, n = candidate.shape
    cand_mean = float(coefficients @ np.nanmean(candidate, axis=1))
    base_mean = float(coefficients @ np.nanmean(baseline, axis=1))
    diff = cand_mean - base_mean
    if n < 2:
        return PairedResult(n, base_mean, cand_mean, diff, None, None, None, "fewer than 2 paired prompts: no interval")

    def combined_difference(*arrays: np.ndarray, axis: int = -1) -> np.ndarray:
        cand, base = np.stack(arrays[:rows]), np.stack(arrays[rows:])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a draw may miss a dimension
            means = np.nanmean(cand - base, axis=axis)
        return np.tensordot(coefficients, means, axes=(0, 0))

    with warnings.catch_warnings():
        # Identical inputs (a run against itself) make a degenerate distribution; handled below.
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            (*candidate, *baseline),
            combined_difference,
            paired=True,
            vectorized=True,
            n_resamples=resamples,
            batch=max(1, MAX_BATCH_VALUES // (n * 2 * rows)),
            confidence_level=1 - 2 * alpha,
            method=ci_method,
            rng=np.random.default_rng(seed),
        )
    distribution = result.bootstrap_distribution
    if np.isnan(distribution).any():
        return PairedResult(
            n, base_mean, cand_mean, diff, None, None, None, "too few shared prompts per dimension for a bootstrap"
        )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (np.isfinite(low) and np.isfinite(high)):
        # BCa is undefined for a degenerate distribution; the percentile interval is exact there.
        low, high = (float(q) for q in np.quantile(distribution, [alpha, 1 - alpha]))
    p_value = (1 + int(np.count_nonzero(distribution >= -margin))) / (1 + distribution.size)
    return PairedResult(n, base_mean, cand_mean, diff, low, high, p_value)


def mcnemar_exact(candidate: pd.Series, baseline: pd.Series) -> McNemarResult:
    """One-sided exact McNemar test on per-video 0/1 results paired by (prompt, sample)."""
    joined = pd.concat({"candidate": candidate, "baseline": baseline}, axis=1, join="inner")
    worse = int(((joined["baseline"] == 1) & (joined["candidate"] == 0)).sum())
    better = int(((joined["baseline"] == 0) & (joined["candidate"] == 1)).sum())
    discordant = worse + better
    p_value = 1.0
    if discordant:
        p_value = float(stats.binomtest(worse, discordant, 0.5, alternative="greater").pvalue)
    return McNemarResult(p_value, worse, better, len(joined))


def adjust_p_values(p_values: list[float], correction: str) -> list[float]:
    """Holm step-down (family-wise), Benjamini-Hochberg (false discovery rate) or none."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0 or correction == "none":
        return [float(v) for v in p]
    if correction == "bh":
        return [float(v) for v in stats.false_discovery_control(p, method="bh")]
    # Holm: the k-th smallest p is multiplied by (m - k), kept monotone, capped at 1.
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, index in enumerate(np.argsort(p, kind="stable")):
        running = max(running, min(1.0, (p.size - rank) * p[index]))
        adjusted[index] = running
    return [float(v) for v in adjusted]


def mean_interval(values: np.ndarray, seed: int = 0, resamples: int = 2000) -> tuple[float | None, float | None]:
    """A 95% bootstrap interval of a mean over prompts (shown in baseline files, not gated)."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return None, None
    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    result = stats.bootstrap(
        (values,), np.mean, n_resamples=resamples, confidence_level=0.95, method="BCa", rng=np.random.default_rng(seed)
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)
