import json

import numpy as np
import pytest

from ming_eval.stats.bootstrap import (
    COUNT_DRAWS_MAX_DISTINCT,
    BootstrapConfig,
    IntervalCache,
    _entry_check,
    _resampled_ratio,
    cluster_sums,
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


def test_cluster_bootstrap_above_the_count_threshold_matches_naive_loop():
    # more distinct clusters than count draws take: whole clusters are drawn by index
    rng = np.random.default_rng(1)
    n_clusters = COUNT_DRAWS_MAX_DISTINCT + 44
    clusters = np.repeat(np.arange(n_clusters), 4)
    values = rng.random(clusters.size)
    cfg = BootstrapConfig(n_resamples=400, seed=5)
    m = mean_metric(values, clusters=clusters, cfg=cfg)
    # naive: resample whole clusters with the same generator draws
    rng2 = np.random.default_rng(5)
    order = sorted(range(n_clusters), key=str)  # clusters are encoded in sorted string order
    sums = np.array([values[clusters == c].sum() for c in order])
    reps = [sums[rng2.integers(0, n_clusters, n_clusters)].sum() / clusters.size for _ in range(400)]
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


def _index_replicates(sums: np.ndarray, counts: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """The textbook cluster bootstrap: n cluster indices drawn per replicate."""
    idx = np.random.default_rng(seed).integers(0, sums.size, size=(n_resamples, sums.size))
    return sums[idx].sum(axis=1) / counts[idx].sum(axis=1)


_MANY = 20_000  # replicates per method in the distribution checks


@pytest.mark.parametrize(
    ("values", "clusters"),
    [
        ((np.arange(500) % 10 < 7).astype(float), None),  # accuracy: 0/1 per sample
        ((np.arange(300) % 3) / 2, None),  # partial credit, three levels
        (np.array([-1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, -1.0, 1.0, 0.0] * 20), None),  # paired differences
        (np.repeat(np.arange(60) % 5 < 2, 4) * 1.0, np.repeat(np.arange(60), 4)),  # circular groups of 4
        ((np.arange(90) % 4 < 1) * 1.0, np.arange(90) // 3 % 25),  # clusters of unequal size
        (np.r_[np.ones(200), np.arange(60) % 3 == 0], np.r_[np.zeros(200), np.arange(1, 61)]),  # one huge cluster
    ],
)
def test_count_draws_have_the_distribution_of_index_draws(values, clusters):
    sums, counts, _ = cluster_sums(values, clusters)
    cfg = BootstrapConfig(n_resamples=_MANY, seed=3)
    new = _resampled_ratio(sums, counts, cfg, np.random.default_rng(cfg.seed))
    ref = _index_replicates(sums, counts, _MANY, seed=4)
    sd = ref.std()
    assert new.std() == pytest.approx(sd, rel=5 * np.sqrt(2 / _MANY) * np.sqrt(2))  # 5 Monte Carlo errors
    assert new.mean() == pytest.approx(ref.mean(), abs=5 * sd * np.sqrt(2 / _MANY))
    # a percentile's Monte Carlo error (normal approximation: at most 2.7 sd / sqrt(B) from 2.5% to
    # 97.5%), five of them for two independent estimates, plus one step of the lattice of replicates
    step = float(np.min(np.diff(np.unique(ref))))
    for q in (0.025, 0.5, 0.975):
        assert np.quantile(new, q) == pytest.approx(
            np.quantile(ref, q), abs=5 * np.sqrt(2) * 2.7 * sd / np.sqrt(_MANY) + step
        )


def test_stratified_count_draws_give_the_interval_of_index_draws(monkeypatch):
    import ming_eval.stats.bootstrap as bootstrap

    rng = np.random.default_rng(6)
    values = (rng.random(300) < 0.55).astype(float)
    strata = np.array(list("abcde"))[rng.integers(0, 5, values.size)]
    clusters = np.arange(values.size) // 3
    counted = mean_of_means_metric(values, strata, clusters=clusters, cfg=BootstrapConfig(_MANY, seed=1))
    monkeypatch.setattr(bootstrap, "COUNT_DRAWS_MAX_DISTINCT", 0)  # every stratum drawn by index
    indexed = mean_of_means_metric(values, strata, clusters=clusters, cfg=BootstrapConfig(_MANY, seed=2))
    sd = (indexed.ci_high - indexed.ci_low) / (2 * 1.96)
    tolerance = 5 * np.sqrt(2) * 2.7 * sd / np.sqrt(_MANY)  # five Monte Carlo errors of a percentile
    assert counted.value == indexed.value
    assert (counted.ci_low, counted.ci_high) == pytest.approx((indexed.ci_low, indexed.ci_high), abs=tolerance)


@pytest.mark.parametrize("values", [[0.0, 1.0], [0.0, 0.5, 1.0], [1.0, 1.0, 0.0], [0.2, 0.9, 0.9, 0.4]])
def test_count_draws_of_a_few_samples_follow_the_exact_bootstrap_distribution(values):
    # every sequence of n indices out of n is equally likely: enumerate them for the exact law
    v = np.asarray(values)
    n = v.size
    grid = np.stack(np.meshgrid(*[np.arange(n)] * n, indexing="ij"), axis=-1).reshape(-1, n)
    exact_values, exact_counts = np.unique(np.round(v[grid].sum(axis=1) / n, 12), return_counts=True)
    cfg = BootstrapConfig(n_resamples=_MANY, seed=8)
    reps = np.round(_resampled_ratio(v, np.ones_like(v), cfg, np.random.default_rng(cfg.seed)), 12)
    assert set(np.unique(reps)) <= set(exact_values)  # only values the index draws can give
    for value, count in zip(exact_values, exact_counts, strict=True):
        p = count / grid.shape[0]
        assert np.mean(reps == value) == pytest.approx(p, abs=5 * np.sqrt(p * (1 - p) / _MANY))


@pytest.mark.parametrize("values", [np.zeros(50), np.ones(50), np.full(7, 0.3), -np.zeros(60), np.array([0.4, 0.4])])
def test_an_all_equal_sample_has_a_point_interval(values):
    m = mean_metric(values, scale=100.0)
    assert (m.ci_low, m.ci_high) == pytest.approx((m.value, m.value))
    assert m.value == pytest.approx(values[0] * 100)


def test_one_sample_and_the_seed():
    one = mean_metric([0.25])
    assert (one.value, one.ci_low, one.ci_high, one.n) == (0.25, 0.25, 0.25, 1)
    values = (np.arange(400) % 3 == 0).astype(float)
    first = mean_metric(values, cfg=BootstrapConfig(seed=1))
    assert mean_metric(values, cfg=BootstrapConfig(seed=1)) == first  # the same seed, the same interval
    assert mean_metric(values, cfg=BootstrapConfig(seed=2)) != first


def test_an_interval_cached_by_another_resampling_method_is_computed_again(tmp_path, monkeypatch):
    import ming_eval.stats.bootstrap as bootstrap

    values = (np.arange(400) % 3 == 0).astype(float)
    fresh = mean_metric(values)
    path = tmp_path / "intervals.json"
    monkeypatch.setattr(bootstrap, "RESAMPLING_METHOD", "index")  # what an older version stored
    old = IntervalCache(path)
    with old.active():
        mean_metric(values)
    old.save()
    recognisable = {key: [0.1, 0.2, _entry_check(key, [0.1, 0.2])] for key in json.loads(path.read_text())}
    path.write_text(json.dumps(recognisable))
    reread = IntervalCache(path)
    with reread.active():
        assert (mean_metric(values).ci_low, reread.hits) == (0.1, 1)  # under that method it is reused
    monkeypatch.undo()
    cache = IntervalCache(path)
    with cache.active():
        assert mean_metric(values) == fresh and cache.hits == 0  # under this one it is computed again


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: ["0.1", "x", entry[2]],  # not numbers
        lambda entry: [[entry[0]], entry[1], entry[2]],
        lambda entry: [0.1, 0.9, entry[2]],  # edited bounds
        lambda entry: [entry[1], entry[0], entry[2]],
        lambda entry: entry[:2],  # no check (as an older version wrote it)
    ],
)
def test_a_damaged_or_edited_cache_entry_is_computed_again(tmp_path, damage):
    values = (np.arange(300) % 4 == 0).astype(float)
    fresh = mean_metric(values, scale=100.0)
    path = tmp_path / "intervals.json"
    cache = IntervalCache(path)
    with cache.active():
        mean_metric(values, scale=100.0)
    cache.save()
    stored = json.loads(path.read_text())
    reread = IntervalCache(path)
    with reread.active():
        assert mean_metric(values, scale=100.0) == fresh and reread.hits == 1  # as written: reused
    path.write_text(json.dumps({key: damage(entry) for key, entry in stored.items()}))
    again = IntervalCache(path)
    with again.active():
        assert mean_metric(values, scale=100.0) == fresh and again.hits == 0


@pytest.mark.parametrize("odd", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("clustered", [False, True])
def test_a_non_finite_value_spoils_only_the_replicates_that_drew_it(odd, clustered):
    # counts per distinct value would multiply it by 0 in every other replicate (0 * inf is nan):
    # such values are drawn by index, every replicate as the textbook bootstrap gives it
    values = (np.arange(40) % 3 == 0).astype(float)
    values[7] = odd
    sums, counts, _ = cluster_sums(values, np.arange(40) // 2 if clustered else None)
    cfg = BootstrapConfig(n_resamples=500, seed=9)
    reps = _resampled_ratio(sums, counts, cfg, np.random.default_rng(cfg.seed))
    np.testing.assert_array_equal(reps, _index_replicates(sums, counts, cfg.n_resamples, cfg.seed))
    assert 0 < np.isfinite(reps).sum() < reps.size  # those that missed the odd cluster stay finite
    m = mean_metric(values, clusters=np.arange(40) // 2 if clustered else None, cfg=cfg)
    assert np.isfinite(m.ci_low) and np.isfinite(m.ci_high) and m.ci_low <= m.ci_high
