import numpy as np
import pytest

from ming_eval.stats.bootstrap import (
    BootstrapConfig,
    _resampled_ratio,
    grouped_mean_metrics,
    mean_metric,
    mean_of_means_metric,
)


def test_mean_and_interval():
    rng = np.random.default_rng(0)
    values = rng.random(500) < 0.7
    m = mean_metric(values, scale=100.0)
    assert m.value == pytest.approx(values.mean() * 100)
    assert m.ci_low < m.value < m.ci_high
    # the percentile interval of a proportion is close to the normal approximation
    se = np.sqrt(values.mean() * (1 - values.mean()) / values.size) * 100
    assert m.ci_high - m.ci_low == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert mean_metric(values) == mean_metric(values)  # deterministic


def test_cluster_bootstrap_matches_naive_loop():
    rng = np.random.default_rng(1)
    clusters = np.repeat(np.arange(40), 4)
    values = (rng.random(160) < 0.5).astype(float)
    cfg = BootstrapConfig(n_resamples=400, seed=5)
    m = mean_metric(values, clusters=clusters, cfg=cfg)
    # naive: resample whole clusters with the same generator draws
    rng2 = np.random.default_rng(5)
    order = sorted(range(40), key=str)  # clusters are encoded in sorted string order
    sums = np.array([values[clusters == c].sum() for c in order])
    reps = [sums[rng2.integers(0, 40, 40)].sum() / 160 for _ in range(400)]
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert (m.ci_low, m.ci_high) == pytest.approx((lo, hi))


def test_clustered_interval_is_wider_for_correlated_samples():
    rng = np.random.default_rng(2)
    base = rng.random(100) < 0.5
    values = np.repeat(base, 4)  # four identical copies per cluster (like circular MMBench rows)
    clusters = np.repeat(np.arange(100), 4)
    naive = mean_metric(values)
    clustered = mean_metric(values, clusters=clusters)
    assert (clustered.ci_high - clustered.ci_low) > 1.5 * (naive.ci_high - naive.ci_low)


def test_mean_of_means():
    values = np.array([1, 1, 1, 1, 0, 0], dtype=float)
    strata = ["a", "a", "a", "a", "b", "b"]
    m = mean_of_means_metric(values, strata)
    assert m.value == pytest.approx(0.5) and m.n == 6
    assert m.ci_low == pytest.approx(0.5) and m.ci_high == pytest.approx(0.5)


def test_grouped_and_empty():
    out = grouped_mean_metrics([1, 0, 1], ["x", "y", "x"])
    assert list(out) == ["x", "y"] and out["x"].value == 1.0 and out["y"].n == 1
    assert np.isnan(mean_metric([]).value)


@pytest.mark.parametrize(
    "values",
    [
        (np.arange(3001) % 7 == 3).astype(float),  # accuracy: 0/1 per sample
        np.zeros(50),
        np.ones(50),
        -np.zeros(60),  # -0.0: a float sum of them is +0.0, and so is a count
        (np.arange(300) % 3) / 2,  # partial credit
    ],
)
def test_intervals_are_bit_identical_to_summing_the_resampled_values(values):
    # the reference: each replicate the float sum of the drawn values, from the same generator draws
    cfg = BootstrapConfig(n_resamples=300, seed=11)
    rng = np.random.default_rng(cfg.seed)
    reps = values[rng.integers(0, values.size, size=(cfg.n_resamples, values.size))].sum(axis=1) / float(values.size)
    m = mean_metric(values, cfg=cfg)
    assert (m.ci_low, m.ci_high) == cfg.interval(reps)  # exactly equal, not approximately
    ones = np.ones_like(values)
    replicates = _resampled_ratio(values, ones, cfg, np.random.default_rng(cfg.seed))
    assert replicates.tobytes() == reps.tobytes()  # every replicate, bit for bit (the sign of -0.0 too)
