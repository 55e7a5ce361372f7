"""The paired statistics against independent implementations (scipy, statsmodels) on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from ming_eval.stats.bootstrap import BootstrapConfig
from ming_eval.stats.paired import (
    MCNEMAR_CHI2,
    MCNEMAR_EXACT,
    SIGN_FLIP_EXACT,
    SIGN_FLIP_MC,
    discordant_counts,
    holm_adjust,
    mcnemar_test,
    paired_compare,
    sign_flip_test,
)


def _table(b: int, c: int) -> list[list[int]]:
    # statsmodels reads the discordant cells off the 2x2 table's off-diagonal
    return [[10, b], [c, 7]]


@pytest.mark.parametrize(("b", "c"), [(0, 0), (0, 5), (3, 9), (12, 12), (1, 23), (7, 2)])
def test_exact_mcnemar_matches_statsmodels(b, c):
    stat, p, test = mcnemar_test(b, c, exact=True)
    ref = sm_mcnemar(_table(b, c), exact=True)
    assert test == MCNEMAR_EXACT
    assert stat == pytest.approx(ref.statistic)
    assert p == pytest.approx(ref.pvalue, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(("b", "c"), [(30, 45), (100, 80), (25, 25), (3, 40), (500, 430)])
def test_asymptotic_mcnemar_matches_statsmodels(b, c):
    stat, p, test = mcnemar_test(b, c, exact=False)
    ref = sm_mcnemar(_table(b, c), exact=False, correction=True)
    assert test == MCNEMAR_CHI2
    assert stat == pytest.approx(ref.statistic, rel=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)


def test_mcnemar_switches_to_chi2_at_25_discordant_pairs():
    assert mcnemar_test(10, 14)[2] == MCNEMAR_EXACT
    assert mcnemar_test(10, 15)[2] == MCNEMAR_CHI2


def test_exact_mcnemar_has_no_underflow_for_large_counts():
    _, p, _ = mcnemar_test(600, 700, exact=True)
    assert p == pytest.approx(sm_mcnemar(_table(600, 700), exact=True).pvalue, rel=1e-9)


def test_sign_flip_exact_matches_scipy_permutation_test():
    rng = np.random.default_rng(3)
    base = rng.uniform(0, 1, 12)
    new = base + rng.normal(0.15, 0.2, 12)
    p, test = sign_flip_test(new - base)
    ref = sps.permutation_test(
        (new, base),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=np.inf,
        alternative="two-sided",
    )
    assert test == SIGN_FLIP_EXACT
    assert p == pytest.approx(ref.pvalue, rel=1e-12)


def test_sign_flip_monte_carlo_agrees_with_scipy():
    rng = np.random.default_rng(4)
    base = rng.uniform(0, 1, 300)
    new = np.clip(base + rng.normal(0.02, 0.3, 300), 0, 1)
    p, test = sign_flip_test(new - base, n_resamples=20_000)
    ref = sps.permutation_test(
        (new, base),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=20_000,
        alternative="two-sided",
        rng=np.random.default_rng(9),
    )
    assert test == SIGN_FLIP_MC
    # two Monte Carlo estimates of the same p-value (~0.3): their sd is about 0.005 each
    assert p == pytest.approx(ref.pvalue, abs=0.03)
    assert 0.05 < p < 0.95


def test_sign_flip_without_differences_is_one():
    assert sign_flip_test(np.zeros(40)) == (1.0, SIGN_FLIP_EXACT)


def test_paired_compare_binary_uses_mcnemar():
    base = np.r_[np.ones(200), np.zeros(200)]
    new = base.copy()
    new[:30] = 0.0  # 30 regressions
    new[200:210] = 1.0  # 10 improvements
    res = paired_compare(base, new, scale=100.0)
    b, c = discordant_counts(base, new)
    assert res.discordant == (b, c)
    assert res.test == MCNEMAR_CHI2
    assert res.p_value == pytest.approx(sm_mcnemar(_table(b, c), exact=False).pvalue)
    assert res.delta == pytest.approx((new.mean() - base.mean()) * 100)
    assert res.ci_low < res.delta < res.ci_high


def test_paired_bootstrap_interval_agrees_with_scipy_bootstrap():
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, 500)
    new = np.clip(base + rng.normal(-0.03, 0.15, 500), 0, 1)
    cfg = BootstrapConfig(n_resamples=4000)
    res = paired_compare(base, new, cfg=cfg)
    ref = sps.bootstrap(
        (new, base),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=4000,
        method="percentile",
        confidence_level=0.95,
        rng=np.random.default_rng(2),
    )
    width = ref.confidence_interval.high - ref.confidence_interval.low
    # independent Monte Carlo draws: endpoints agree to a few percent of the interval's width
    assert res.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.06 * width)
    assert res.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.06 * width)
    assert res.delta == pytest.approx(np.mean(new - base))


def test_cluster_bootstrap_of_duplicated_samples_equals_the_unduplicated_one():
    # Four perfectly correlated copies of each sample carry no more information than one: the
    # cluster bootstrap must give exactly the interval of the deduplicated data.
    rng = np.random.default_rng(5)
    base = rng.uniform(0, 1, 60)
    new = np.clip(base + rng.normal(0.05, 0.2, 60), 0, 1)
    single = paired_compare(base, new)
    clusters = np.repeat([f"{i:03d}" for i in range(60)], 4)
    clustered = paired_compare(np.repeat(base, 4), np.repeat(new, 4), clusters=clusters)
    naive = paired_compare(np.repeat(base, 4), np.repeat(new, 4))
    assert clustered.n == 240 and clustered.n_clusters == 60
    assert (clustered.ci_low, clustered.ci_high) == pytest.approx((single.ci_low, single.ci_high))
    assert clustered.p_value == pytest.approx(single.p_value, abs=0.02)
    assert naive.ci_high - naive.ci_low < 0.7 * (single.ci_high - single.ci_low)


def test_stratified_estimate_is_the_mean_of_stratum_means():
    base = np.array([1, 1, 1, 1, 0, 0.0, 0.5, 0.5])
    new = np.array([1, 1, 1, 0, 0, 1.0, 0.5, 1.0])
    strata = ["a", "a", "a", "a", "b", "b", "c", "c"]
    res = paired_compare(base, new, strata=strata)
    assert res.base == pytest.approx(np.mean([1.0, 0.0, 0.5]))
    assert res.new == pytest.approx(np.mean([0.75, 0.5, 0.75]))
    assert res.estimator == "mean of stratum means"
    assert res.test == SIGN_FLIP_EXACT


def test_identical_runs_show_no_difference():
    rng = np.random.default_rng(6)
    scores = (rng.uniform(size=300) < 0.6).astype(float)
    res = paired_compare(scores, scores.copy())
    assert res.delta == 0.0 and res.p_value == 1.0
    assert res.ci_low == 0.0 and res.ci_high == 0.0


def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04]
    assert holm_adjust(p) == pytest.approx(list(multipletests(p, method="holm")[1]))


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="equal length"):
        paired_compare([1.0, 0.0], [1.0])
