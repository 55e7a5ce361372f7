"""Suite summaries as the built-in suite cards declare them: the leaderboard's average with its
rounding, the 7-column mean of Ming-Lite-Uni's Table 2, MMBench v1.1; and card errors."""

import pytest

from ming_eval.cards.schema import SuiteCard
from ming_eval.core.results import Metric, TaskResult
from ming_eval.core.summaries import SummaryCatalog
from ming_eval.errors import CardError
from ming_eval.registry import summary_catalog


def result(task, value, half=1.0):
    metrics = {"overall": Metric(value, value - half, value + half, n=100, scale=100.0)}
    if task == "ocrbench":  # the task's final score is the number right of 1000; overall = it / 10
        metrics["final_score"] = Metric(value * 10, (value - half) * 10, (value + half) * 10, n=100, scale=1000.0)
    return TaskResult(task, "overall", metrics)


# Ming-Lite-Uni's row of Table 2 for the seven shown columns; the MMBench EN/CN halves, the
# HallusionBench overall and OCRBench are made up so that the columns come out as printed
ROW = {
    "mmbench_test_en_v11": 81.04,
    "mmbench_test_cn_v11": 80.36,  # -> 81.0 and 80.4 -> mean 80.7
    "mmstar": 60.53,
    "mmmu_dev_val": 51.2,
    "mathvista_mini": 68.3,
    "hallusionbench": 51.78,
    "ai2d_test": 84.5,
    "mmvet": 72.3,
    "ocrbench": 88.3,
}


def results(row=ROW):
    return {k: result(k, v) for k, v in row.items()}


@pytest.fixture(scope="module")
def catalog():
    return summary_catalog()


def value(catalog, key, res):
    found = catalog.compute(key, res)
    return None if found is None else found.metric.value


def test_mmbench_v11_is_the_measured_mean_alone_and_rounded_inside_the_average(catalog):
    assert value(catalog, "mmbench_v11", results()) == pytest.approx((81.04 + 80.36) / 2)
    found = catalog.compute("avg_opencompass8", results())
    assert found.inputs["mmbench"] == 80.7  # round(81.0 + 80.4) / 2, as the leaderboard stores it
    assert value(catalog, "mmbench_v11", {"mmbench_test_en_v11": result("x", 80.0)}) is None  # CN missing


def test_leaderboard_average_rounds_like_the_leaderboard(catalog):
    found = catalog.compute("avg_opencompass8", results())
    # (80.7 + 60.5 + 51.2 + 68.3 + 88.3 + 84.5 + 51.8 + 72.3) / 8 = 69.70, Table 2's "Avg."
    assert found.metric.value == 69.7
    assert found.inputs == {
        "mmbench": 80.7,
        "mmstar": 60.5,
        "mmmu": 51.2,
        "mathvista": 68.3,
        "ocrbench": 88.3,  # final score 883 / 10
        "ai2d": 84.5,
        "hallusionbench": 51.8,
        "mmvet": 72.3,
    }
    assert len(found.tasks) == 9
    assert found.metric.scale == 100  # a percentage: tables on another scale convert it
    # the seven shown columns average to 67.0, not the 69.7 printed
    assert value(catalog, "avg_7_no_ocrbench", results()) == 67.0


def test_gpt4o_row_of_table2_is_reproduced(catalog):
    row = {
        "mmbench_test_en_v11": 84.3,
        "mmbench_test_cn_v11": 84.3,
        "mmstar": 65.1,
        "mmmu_dev_val": 70.7,
        "mathvista_mini": 59.9,
        "hallusionbench": 56.2,
        "ai2d_test": 84.9,
        "mmvet": 74.5,
        "ocrbench": 80.6,
    }
    assert value(catalog, "avg_opencompass8", results(row)) == 72.0  # printed in Table 2
    assert value(catalog, "avg_7_no_ocrbench", results(row)) == 70.8  # its seven columns: not the Avg.


def test_missing_benchmark_gives_none_and_dev_is_no_substitute(catalog):
    row = dict(ROW)
    del row["mmbench_test_cn_v11"]
    row["mmbench_dev_en_v11"] = 80.0
    computed = catalog.compute_all(results(row))
    assert computed == {}
    del row["ocrbench"]
    row["mmbench_test_cn_v11"] = 80.0
    assert set(catalog.compute_all(results(row))) == {"mmbench_v11", "avg_7_no_ocrbench"}


def test_interval_combines_the_members_in_quadrature(catalog):
    avg = catalog.compute("avg_opencompass8", results()).metric
    # eight independent +-1 benchmarks (MMBench: two halves -> +-1/sqrt(2)) combined in quadrature
    half = (7 + 0.5) ** 0.5 / 8
    assert avg.ci_high - avg.value == pytest.approx(half) and avg.value - avg.ci_low == pytest.approx(half)
    assert avg.n == 900


def test_nan_primary_is_missing(catalog):
    row = results()
    row["mmstar"] = result("mmstar", float("nan"))
    assert catalog.compute("avg_opencompass8", row) is None


def suite(**kw):
    return SuiteCard.model_validate({"name": "s", "tasks": ["a", "b"], **kw})


def test_scale_metric_and_numpy_rounding():
    card = suite(
        summaries=[
            {
                "key": "k",
                "label": "K",
                "members": ["a", {"name": "b", "metric": "raw", "scale": 0.5}],
                "round": {"digits": 1, "method": "numpy"},
            }
        ]
    )
    res = {
        "a": TaskResult("a", "m", {"m": Metric(0.15)}),
        "b": TaskResult("b", "m", {"m": Metric(9.0), "raw": Metric(0.3)}),
    }
    # mean(0.15, 0.3 * 0.5) = 0.15: numpy rounds it up (0.2), decimal rounding would give 0.1
    assert SummaryCatalog([card]).compute("k", res).metric.value == 0.2


def test_card_errors():
    with pytest.raises(ValueError, match="member 'c' is not in the suite's tasks"):
        suite(summaries=[{"key": "k", "label": "K", "members": ["a", "c"]}])
    one = suite(summaries=[{"key": "k", "label": "K"}])
    other = SuiteCard.model_validate({"name": "t", "tasks": ["x"], "summaries": [{"key": "k", "label": "again"}]})
    with pytest.raises(CardError, match="summary key 'k' is declared by suite t"):
        SummaryCatalog([one, other])
    parent = SuiteCard.model_validate({"name": "p", "tasks": ["s", "z"], "summaries": [{"key": "avg", "label": "A"}]})
    with pytest.raises(CardError, match="member 's' is a suite of 2 entries that declares no summary"):
        SummaryCatalog([suite(), parent])
    res = {"a": TaskResult("a", "m", {"m": Metric(1.0)}), "b": TaskResult("b", "m", {"m": Metric(1.0)})}
    bad = suite(summaries=[{"key": "k", "label": "K", "members": [{"name": "a", "metric": "nope"}, "b"]}])
    with pytest.raises(CardError, match="reads metric 'nope' of task a, which has only m"):
        SummaryCatalog([bad]).compute("k", res)
    with pytest.raises(CardError, match="no suite card declares a summary 'zz'"):
        SummaryCatalog([one]).compute("zz", res)
