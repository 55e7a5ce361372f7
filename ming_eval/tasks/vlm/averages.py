"""Suite averages over the understanding benchmarks, computed the way the leaderboard computes them.

The OpenCompass multimodal leaderboard (the ``open_vlm_leaderboard`` space; ``gen_table.py`` and
``meta_data.py`` in VLMEvalKit's history) shows "Avg Score" over its 8 default benchmarks
(``DEFAULT_BENCH``): MMBench_V11, MMStar, MMMU_VAL, MathVista, OCRBench, AI2D, HallusionBench, MMVet.

* MMBench_V11 = (Overall of MMBench_TEST_EN_V11 + Overall of MMBench_TEST_CN_V11) / 2, rounded to one
  decimal (``float(f"{v:.1f}")``): the circular accuracy on the v1.1 **test** split, both languages.
  The test answers were released in 2026, so both halves are computable locally.
* OCRBench enters as Final Score / 10; HallusionBench as its Overall, the mean of aAcc, fAcc and qAcc;
  MMMU as the validation split; MathVista as testmini; the others as their Overall.
* Avg = ``round(np.mean(scores), 1)``; None when any benchmark is missing (an average over fewer
  benchmarks is another number and is never shown as this one).

With ``rounding=True`` (default) each benchmark is first rounded to one decimal, as the leaderboard's
stored results show them (the rounding of the stored values is inferred from the published numbers,
not read in code), then combined as above. Intervals combine the benchmarks' bootstrap intervals as
independent normal errors (the benchmarks share no samples).

The Ming-Lite-Uni paper's Table 2 shows seven columns (no OCRBench), but its "Avg." column is this
8-benchmark leaderboard average: for GPT-4o-20241120, (84.3 + 65.1 + 70.7 + 59.9 + 56.2 + 84.9 + 74.5
+ 806 / 10) / 8 = 72.0 as printed, while the mean of the seven shown columns is 70.8 (Ming-Lite-Uni:
69.7 printed, 67.0 for the seven columns). :func:`paper_average` is therefore the leaderboard average;
:func:`shown_columns_average` is the mean of the seven columns shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ming_eval.core.results import Metric, TaskResult


@dataclass(frozen=True)
class Slot:
    """One leaderboard column: the tasks whose primary metrics (all on a 0-100 scale; OCRBench's is final
    score / 10) are averaged into it (MMBench v1.1 averages two).

    ``candidates`` keeps the shape report tables read (groups tried in order); every slot has exactly
    one group: a dev split or one language is another number and never stands in for the column.
    """

    label: str
    candidates: tuple[tuple[str, ...], ...]

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.candidates[0]


MMBENCH = Slot("MMBench", (("mmbench_test_en_v11", "mmbench_test_cn_v11"),))
MMSTAR = Slot("MMStar", (("mmstar",),))
MMMU = Slot("MMMU", (("mmmu_dev_val",),))
MATHVISTA = Slot("MathVista", (("mathvista_mini",),))
OCRBENCH = Slot("OCRBench", (("ocrbench",),))
AI2D = Slot("AI2D", (("ai2d_test",),))
HALLUSION = Slot("HallusionBench", (("hallusionbench",),))
MMVET = Slot("MM-Vet", (("mmvet",),))

# the leaderboard's DEFAULT_BENCH order
LEADERBOARD_SLOTS: tuple[Slot, ...] = (MMBENCH, MMSTAR, MMMU, MATHVISTA, OCRBENCH, AI2D, HALLUSION, MMVET)
# the columns Table 2 of the Ming-Lite-Uni paper shows (its Avg. is still the 8-benchmark average)
PAPER_COLUMNS: tuple[Slot, ...] = (MMBENCH, MMSTAR, MMMU, MATHVISTA, HALLUSION, AI2D, MMVET)
PAPER_SLOTS = LEADERBOARD_SLOTS


def _round1(value: float) -> float:
    return float(f"{value:.1f}")


def _half_width(m: Metric) -> float | None:
    if m.ci_low is None or m.ci_high is None or not math.isfinite(m.ci_low) or not math.isfinite(m.ci_high):
        return None
    return (m.ci_high - m.ci_low) / 2.0


def _combine(values: Sequence[float], metrics: Sequence[Metric], value: float) -> Metric:
    """A mean of independent estimates: ``value`` with the half-widths combined in quadrature."""
    halves = [_half_width(m) for m in metrics]
    n = sum(m.n for m in metrics)
    if values and all(h is not None for h in halves):
        half = math.sqrt(sum((h or 0.0) ** 2 for h in halves)) / len(values)
        return Metric(value, value - half, value + half, n=n, scale=100.0)
    return Metric(value, n=n, scale=100.0)


def slot_value(
    slot: Slot, results: Mapping[str, TaskResult], *, rounding: bool = False
) -> tuple[Metric, tuple[str, ...]] | None:
    """The column's 0-100 value (with CI) and the tasks it came from, or None unless every task of the
    slot has a finite result. ``rounding`` applies the leaderboard's one-decimal rounding (off by
    default: a table shows the measured value; the averages below round where the leaderboard does)."""
    tasks = slot.tasks
    if not all(t in results for t in tasks):
        return None
    metrics = [results[t].primary_metric for t in tasks]
    values = [m.value for m in metrics]
    if any(not math.isfinite(v) for v in values):
        return None
    if rounding:
        values = [_round1(v) for v in values]
    value = sum(values) / len(values)
    if rounding and len(values) > 1:
        value = _round1(value)
    return _combine(values, metrics, value), tasks


def average(slots: Sequence[Slot], results: Mapping[str, TaskResult], *, rounding: bool = True) -> Metric | None:
    """Mean of the slots' values (``round(np.mean(...), 1)`` when ``rounding``); None if one is missing."""
    found = [slot_value(s, results, rounding=rounding) for s in slots]
    if any(f is None for f in found):
        return None
    present = [f[0] for f in found if f is not None]
    values = [m.value for m in present]
    mean = float(round(np.mean(values), 1)) if rounding else float(np.mean(values))
    return _combine(values, present, mean)


def leaderboard_average(results: Mapping[str, TaskResult], *, rounding: bool = True) -> Metric | None:
    """The OpenCompass leaderboard's 8-benchmark "Avg Score" (None unless all are present)."""
    return average(LEADERBOARD_SLOTS, results, rounding=rounding)


def paper_average(results: Mapping[str, TaskResult], *, rounding: bool = True) -> Metric | None:
    """The "Avg." of the Ming-Lite-Uni paper's Table 2: the leaderboard's 8-benchmark average (see the
    module docstring for the evidence)."""
    return average(PAPER_SLOTS, results, rounding=rounding)


def shown_columns_average(results: Mapping[str, TaskResult], *, rounding: bool = True) -> Metric | None:
    """The mean of the seven columns Table 2 shows (not the paper's Avg.; see the module docstring)."""
    return average(PAPER_COLUMNS, results, rounding=rounding)


def table_row(results: Mapping[str, TaskResult], *, rounding: bool = True) -> dict[str, Metric | None]:
    """Every leaderboard column plus ``Avg``, for report tables."""
    row: dict[str, Metric | None] = {}
    for slot in LEADERBOARD_SLOTS:
        found = slot_value(slot, results, rounding=rounding)
        row[slot.label] = None if found is None else found[0]
    row["Avg"] = leaderboard_average(results, rounding=rounding)
    return row
