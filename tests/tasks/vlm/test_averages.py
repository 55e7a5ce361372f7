"""Leaderboard and paper averages, with the leaderboard's rounding."""

import pytest

from ming_eval.core.results import Metric, TaskResult
from ming_eval.tasks.vlm.averages import (
    MMBENCH,
    leaderboard_average,
    paper_average,
    shown_columns_average,
    slot_value,
    table_row,
)


def result(task, value, half=1.0):
    return TaskResult(task, "overall", {"overall": Metric(value, value - half, value + half, n=100, scale=100.0)})


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


def test_mmbench_v11_is_the_mean_of_en_and_cn_test_rounded():
    found = slot_value(MMBENCH, results(), rounding=True)
    assert found is not None and found[0].value == 80.7
    assert slot_value(MMBENCH, results())[0].value == pytest.approx((81.04 + 80.36) / 2)
    assert found[1] == ("mmbench_test_en_v11", "mmbench_test_cn_v11")
    assert slot_value(MMBENCH, {"mmbench_test_en_v11": result("x", 80.0)}) is None  # CN missing: no value


def test_leaderboard_average_rounds_like_the_leaderboard():
    avg = leaderboard_average(results())
    # (80.7 + 60.5 + 51.2 + 68.3 + 88.3 + 84.5 + 51.8 + 72.3) / 8 = 69.70
    assert avg is not None and avg.value == 69.7
    assert paper_average(results()).value == avg.value  # Table 2's "Avg." is the leaderboard average
    # the seven shown columns average to 67.0, not the 69.7 printed
    assert shown_columns_average(results()).value == pytest.approx(67.0)


def test_gpt4o_row_of_table2_is_reproduced():
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
    assert leaderboard_average(results(row)).value == 72.0  # printed in Table 2


def test_missing_benchmark_gives_none_and_dev_is_no_substitute():
    row = dict(ROW)
    del row["mmbench_test_cn_v11"]
    row["mmbench_dev_en_v11"] = 80.0
    assert leaderboard_average(results(row)) is None
    assert table_row(results(row))["Avg"] is None and table_row(results(row))["MMStar"] is not None


def test_unrounded_average_and_interval():
    avg = leaderboard_average(results(), rounding=False)
    expected = (80.7 + 60.53 + 51.2 + 68.3 + 88.3 + 84.5 + 51.78 + 72.3) / 8
    assert avg.value == pytest.approx(expected)
    # eight independent +-1 benchmarks (MMBench: two halves -> +-1/sqrt(2)) combined in quadrature
    half = (7 + 0.5) ** 0.5 / 8
    assert avg.ci_high - avg.value == pytest.approx(half)


def test_nan_primary_is_missing():
    row = results()
    row["mmstar"] = result("mmstar", float("nan"))
    assert leaderboard_average(row) is None


def test_run_prints_suite_average_when_complete():
    """The engine asks each task class for cross-task numbers over the whole run's results."""
    from ming_eval.core.results import Metric, TaskResult
    from ming_eval.tasks.vlm.base import VlmTask

    tasks = [
        "mmbench_test_en_v11",
        "mmbench_test_cn_v11",
        "mmstar",
        "mmmu_dev_val",
        "mathvista_mini",
        "ocrbench",
        "ai2d_test",
        "hallusionbench",
        "mmvet",
    ]
    results = {t: TaskResult(t, "overall", {"overall": Metric(50.0, 45.0, 55.0, n=100)}) for t in tasks}
    out = VlmTask.suite_summaries(results)
    board = next(m for label, m in out.items() if label.startswith("OpenCompass leaderboard average"))
    assert board.value == 50.0
    del results["mmvet"]
    assert VlmTask.suite_summaries(results) == {}
