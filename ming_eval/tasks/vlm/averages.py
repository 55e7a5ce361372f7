"""Suite averages over understanding benchmarks, as the leaderboards and the paper compute them.

* ``leaderboard_average``: the OpenCompass multimodal leaderboard's "Avg Score" over its 8 default
  benchmarks (MMBench v1.1, MMStar, MMMU val, MathVista mini, OCRBench / 10, AI2D, HallusionBench
  as the mean of aAcc/fAcc/qAcc, MM-Vet).
* ``paper_average``: the 7-benchmark average of Ming-Lite-Uni's Table 2 (the same list without
  OCRBench).

Each benchmark slot lists the task names that may fill it (first present wins, unless the slot
averages several, e.g. the EN and CN halves of MMBench). The average is None when a slot is empty:
an average over fewer benchmarks is a different number and is never shown as this one. Its
interval combines the benchmarks' intervals as independent normal errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ming_eval.core.results import Metric, TaskResult

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Slot:
    """One benchmark column: candidate task groups (each a tuple of tasks whose primaries are
    averaged), tried in order; ``divisor`` rescales to 0-100 (OCRBench's 0-1000 score)."""

    label: str
    candidates: tuple[tuple[str, ...], ...]
    divisor: float = 1.0


MMBENCH = Slot(
    "MMBench",
    (
        ("mmbench_test_en_v11", "mmbench_test_cn_v11"),
        ("mmbench_test_en_v11",),
        ("mmbench_dev_en_v11",),
        ("mmbench_test_en",),
        ("mmbench_dev_en",),
    ),
)
MMSTAR = Slot("MMStar", (("mmstar",),))
MMMU = Slot("MMMU", (("mmmu_dev_val",),))
MATHVISTA = Slot("MathVista", (("mathvista_mini",),))
HALLUSION = Slot("HallusionBench", (("hallusionbench",),))
AI2D = Slot("AI2D", (("ai2d_test",),))
MMVET = Slot("MM-Vet", (("mmvet",),))
OCRBENCH = Slot("OCRBench", (("ocrbench",),))

PAPER_SLOTS: tuple[Slot, ...] = (MMBENCH, MMSTAR, MMMU, MATHVISTA, HALLUSION, AI2D, MMVET)
LEADERBOARD_SLOTS: tuple[Slot, ...] = (MMBENCH, MMSTAR, MMMU, MATHVISTA, OCRBENCH, AI2D, HALLUSION, MMVET)


def _half_width(m: Metric) -> float | None:
    if m.ci_low is None or m.ci_high is None or not math.isfinite(m.ci_low) or not math.isfinite(m.ci_high):
        return None
    return (m.ci_high - m.ci_low) / 2.0


def slot_value(slot: Slot, results: Mapping[str, TaskResult]) -> tuple[Metric, tuple[str, ...]] | None:
    """The slot's 0-100 value (with CI) and the tasks used, or None if no candidate is complete."""
    for group in slot.candidates:
        if not all(t in results for t in group):
            continue
        metrics = [results[t].primary_metric for t in group]
        value = sum(m.value for m in metrics) / len(metrics) / slot.divisor
        halves = [_half_width(m) for m in metrics]
        if all(h is not None for h in halves):
            half = math.sqrt(sum((h or 0.0) ** 2 for h in halves)) / len(metrics) / slot.divisor
            metric = Metric(value, value - half, value + half, n=sum(m.n for m in metrics), scale=100.0)
        else:
            metric = Metric(value, n=sum(m.n for m in metrics), scale=100.0)
        return metric, group
    return None


def average(slots: Sequence[Slot], results: Mapping[str, TaskResult]) -> Metric | None:
    values = [slot_value(s, results) for s in slots]
    if any(v is None for v in values):
        return None
    metrics = [v[0] for v in values if v is not None]
    mean = sum(m.value for m in metrics) / len(metrics)
    halves = [_half_width(m) for m in metrics]
    if all(h is not None for h in halves):
        half = math.sqrt(sum((h or 0.0) ** 2 for h in halves)) / len(metrics)
        return Metric(mean, mean - half, mean + half, n=sum(m.n for m in metrics), scale=100.0)
    return Metric(mean, n=sum(m.n for m in metrics), scale=100.0)


def paper_average(results: Mapping[str, TaskResult]) -> Metric | None:
    """Ming-Lite-Uni Table 2's average of 7 benchmarks (None unless all are present)."""
    return average(PAPER_SLOTS, results)


def leaderboard_average(results: Mapping[str, TaskResult]) -> Metric | None:
    """The OpenCompass leaderboard's 8-benchmark average (None unless all are present)."""
    return average(LEADERBOARD_SLOTS, results)
