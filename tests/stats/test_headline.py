"""Declared headline statistics: their values, intervals, paired tests, and their place in results."""

from __future__ import annotations

import numpy as np
import pytest

from ming_eval.core.results import Metric, TaskResult
from ming_eval.core.statistic import AllCorrect, Average, Mean, MeanOfMeans, Sum, WeightedMeanOfMeans
from ming_eval.stats.bootstrap import BootstrapConfig, mean_metric, mean_of_means_metric
from ming_eval.stats.headline import CLUSTER_SWAP_EXACT, headline_metric, headline_value, paired_headline
from ming_eval.stats.paired import sign_flip_test

FAST = BootstrapConfig(n_resamples=200)
V = np.array([1.0, 1.0, 0.0, 1.0, 0.0, 1.0])
KEYS = {
    "tag": np.array(list("aabbbc"), dtype=object),
    "figure": np.array(list("xxyyzz"), dtype=object),
    "split": np.array(["val", "dev", "val", "val", "dev", "dev"], dtype=object),
}


def test_values_by_hand():
    assert headline_value(Mean(scale=100.0), V, KEYS) == pytest.approx(400 / 6)
    assert headline_value(Mean(where={"split": "val"}), V, KEYS) == pytest.approx(2 / 3)
    assert headline_value(Sum(scale=0.1), V, KEYS) == pytest.approx(0.4)
    assert headline_value(MeanOfMeans(by="tag"), V, KEYS) == pytest.approx((1 + 1 / 3 + 1) / 3)
    # figure groups within one cluster: x right, y and z each half wrong
    one = ["s"] * 6
    assert headline_value(AllCorrect(group="figure"), V, KEYS, clusters=one) == pytest.approx(1 / 3)
    # the same figure id in two clusters is two groups (HallusionBench numbers figures per set):
    # (s1, x) right, (s1, y) wrong, (s2, y) right, (s2, z) wrong
    two = ["s1", "s1", "s1", "s2", "s2", "s2"]
    assert headline_value(AllCorrect(group="figure"), V, KEYS, clusters=two) == pytest.approx(2 / 4)
    assert headline_value(AllCorrect(group="cluster"), V, KEYS, clusters=two) == 0.0
    both = Average(parts=[Mean(), AllCorrect(group="figure")], scale=100.0)
    assert headline_value(both, V, KEYS, clusters=one) == pytest.approx((4 / 6 + 1 / 3) / 2 * 100)


def test_group_keys_need_clusters():
    with pytest.raises(ValueError, match="name no cluster"):
        headline_value(AllCorrect(group="figure"), V, KEYS)


def test_means_and_sums_keep_the_metrics_tasks_report():
    v = np.random.default_rng(0).uniform(size=50).round()
    tags = np.array(["a", "b"] * 25, dtype=object)
    assert headline_metric(Mean(scale=100.0), v, {}, cfg=FAST) == mean_metric(v, scale=100.0, cfg=FAST)
    assert headline_metric(Sum(scale=0.1), v, {}, cfg=FAST) == mean_metric(v, scale=5.0, cfg=FAST)
    assert headline_metric(MeanOfMeans(by="tag"), v, {"tag": tags}, cfg=FAST) == mean_of_means_metric(v, tags, cfg=FAST)


def test_the_cluster_swap_test_of_a_mean_is_the_sign_flip_test():
    rng = np.random.default_rng(1)
    base = rng.uniform(size=30).round()
    new = base.copy()
    new[:12] = 1.0 - new[:12]  # 12 differing samples: exact enumeration
    # a share of right singleton "groups" is the plain mean, computed through the generic path
    generic = paired_headline(AllCorrect(group="cluster", scale=100.0), base, new, {}, cfg=FAST)
    p_value, _ = sign_flip_test(new - base)
    assert generic.test == CLUSTER_SWAP_EXACT and generic.p_value == pytest.approx(p_value)
    assert generic.delta == pytest.approx((new.mean() - base.mean()) * 100)
    assert generic.ci_low <= generic.delta <= generic.ci_high


def test_results_keep_the_declaration():
    headline = Average(parts=[Mean(), AllCorrect(group="question")], scale=100.0)
    result = TaskResult("t", "overall", {"overall": Metric(50.0)}, headline=headline)
    assert TaskResult.from_dict(result.to_dict()).headline == headline
    assert TaskResult.from_dict({**result.to_dict(), "headline": None}).headline is None
    with pytest.raises(ValueError, match="means of category means"):
        Average(parts=[MeanOfMeans(by="tag")])


def test_a_weighted_mean_of_category_means_is_kept_computed_and_compared():
    # WISE's overall: fixed weights on category means; a category without samples leaves it undefined
    weighted = WeightedMeanOfMeans(by="tag", weights={"a": 0.5, "b": 0.3, "c": 0.2})
    assert headline_value(weighted, V, KEYS) == pytest.approx(0.5 * 1 + 0.3 * (1 / 3) + 0.2 * 1)
    assert np.isnan(headline_value(weighted.model_copy(update={"weights": {"a": 0.5, "d": 0.5}}), V, KEYS))
    metric = headline_metric(weighted, V, KEYS, cfg=FAST)
    assert metric.ci_low <= metric.value <= metric.ci_high and metric.ci_low < metric.ci_high
    result = TaskResult("t", "overall", {"overall": metric}, headline=weighted)
    assert TaskResult.from_dict(result.to_dict()).headline == weighted
    new = V.copy()
    new[2:5] = 1.0  # every "b" sample right
    paired = paired_headline(weighted, V, new, KEYS, cfg=FAST)
    assert paired.delta == pytest.approx(0.3 * (1 - 1 / 3))
