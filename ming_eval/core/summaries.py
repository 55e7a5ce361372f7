"""Suite summaries: the cross-task numbers that suite cards declare (e.g. a leaderboard average).

This module is the one place where they are computed. The runner stores them in the run's
``results.json`` next to the tasks' results; ``run``, ``report`` and ``leaderboard`` read them from
there, and recompute them here, from the suite cards, for a run directory written before summaries
were stored.

A summary is the mean of its members' values (see :class:`~ming_eval.cards.schema.SummarySpec` for
the rounding). Its interval combines the members' bootstrap intervals as independent normal errors
(the members share no samples): half-widths added in quadrature, divided by the number of members.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ming_eval.cards.schema import Rounding, SuiteCard, SummaryMember, SummarySpec
from ming_eval.core.results import Metric, TaskResult
from ming_eval.errors import CardError


@dataclass(frozen=True)
class Summary:
    """A computed summary: its value (with interval), the tasks it was computed from, and the value
    each member entered with."""

    key: str
    label: str
    suite: str
    metric: Metric
    tasks: tuple[str, ...]
    inputs: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "suite": self.suite,
            "metric": self.metric.to_dict(),
            "tasks": list(self.tasks),
            "inputs": dict(self.inputs),
        }

    @classmethod
    def from_dict(cls, key: str, d: Mapping[str, Any]) -> Summary:
        return cls(
            key=key,
            label=str(d["label"]),
            suite=str(d["suite"]),
            metric=Metric.from_dict(d["metric"]),
            tasks=tuple(str(t) for t in d["tasks"]),
            inputs={str(k): float(v) for k, v in d.get("inputs", {}).items()},
        )


def _round(value: float, rounding: Rounding) -> float:
    if rounding.method == "numpy":
        import numpy as np

        return float(np.round(value, rounding.digits))
    return float(f"{value:.{rounding.digits}f}")


def _half_width(m: Metric) -> float | None:
    if m.ci_low is None or m.ci_high is None or not math.isfinite(m.ci_low) or not math.isfinite(m.ci_high):
        return None
    return (m.ci_high - m.ci_low) / 2.0


def _combine(metrics: Sequence[Metric], value: float, scale: float) -> Metric:
    """``value`` with the members' half-widths combined in quadrature (no interval if one lacks it)."""
    halves = [_half_width(m) for m in metrics]
    n = sum(m.n for m in metrics)
    if metrics and all(h is not None for h in halves):
        half = math.sqrt(sum((h or 0.0) ** 2 for h in halves)) / len(metrics)
        return Metric(value, value - half, value + half, n=n, scale=scale)
    return Metric(value, n=n, scale=scale)


@dataclass(frozen=True)
class Declared:
    """A summary as a suite card declares it."""

    suite: SuiteCard
    spec: SummarySpec


class SummaryCatalog:
    """Every summary the suite cards declare, by key; checks that keys are unique and that members
    resolve (a member suite has a summary or exactly one task; no summary contains itself)."""

    def __init__(self, suites: Iterable[SuiteCard]) -> None:
        self.suites = {s.name: s for s in suites}
        self.entries: dict[str, Declared] = {}
        for suite in self.suites.values():
            for spec in suite.summaries:
                if spec.key in self.entries:
                    other = self.entries[spec.key].suite
                    raise CardError(
                        f"summary key {spec.key!r} is declared by suite {suite.name} ({suite.source}) and by "
                        f"suite {other.name} ({other.source})",
                        hint="summary keys name columns in results.json and leaderboards: give each its own",
                    )
                self.entries[spec.key] = Declared(suite, spec)
        for key in self.entries:
            self.tasks(key)  # resolves every member once: bad references are card errors here

    @property
    def keys(self) -> list[str]:
        return list(self.entries)

    def entry(self, key: str) -> Declared:
        if key not in self.entries:
            known = ", ".join(sorted(self.entries)) or "none"
            raise CardError(f"no suite card declares a summary {key!r}; known summaries: {known}")
        return self.entries[key]

    def _member_summary(self, suite: SuiteCard, member: SummaryMember) -> str | None:
        """The summary key a suite member enters with; None for a task (or a one-task suite)."""
        sub = self.suites.get(member.name)
        if sub is None:
            return None
        if sub.summaries:
            return sub.summaries[0].key
        if len(sub.tasks) == 1 and sub.tasks[0] not in self.suites:
            return None
        raise CardError(
            f"suite {suite.name} ({suite.source}): member {member.name!r} is a suite of {len(sub.tasks)} entries "
            "that declares no summary, so it has no single value to enter with",
            hint=f"declare a summary on suite {sub.name}, or name its tasks instead",
        )

    def _task_of(self, member: SummaryMember) -> str:
        sub = self.suites.get(member.name)
        return sub.tasks[0] if sub is not None else member.name

    def tasks(self, key: str, _trail: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Every task whose result the summary needs, in member order."""
        if key in _trail:
            raise CardError(f"summary {key!r} contains itself: {' -> '.join((*_trail, key))}")
        entry = self.entry(key)
        out: list[str] = []
        for member in entry.suite.members_of(entry.spec):
            sub = self._member_summary(entry.suite, member)
            found = self.tasks(sub, (*_trail, key)) if sub is not None else (self._task_of(member),)
            out.extend(t for t in found if t not in out)
        return tuple(out)

    def _value(
        self, key: str, results: Mapping[str, TaskResult], round_to: int | None, *, nested: bool = False
    ) -> tuple[Metric, dict[str, float]] | None:
        entry = self.entry(key)
        spec = entry.spec
        metrics: list[Metric] = []
        inputs: dict[str, float] = {}
        for member in entry.suite.members_of(spec):
            sub = self._member_summary(entry.suite, member)
            if sub is not None:
                found = self._value(sub, results, round_to, nested=True)
                if found is None:
                    return None
                metric = found[0]
            else:
                task = self._task_of(member)
                result = results.get(task)
                if result is None:
                    return None
                name = member.metric or result.primary
                raw = result.metrics.get(name)
                if raw is None:
                    raise CardError(
                        f"summary {key!r} (suite {entry.suite.name}) reads metric {name!r} of task {task}, which "
                        f"has only {', '.join(result.metrics)}",
                        hint=f"fix the member's metric on {entry.suite.source}",
                    )
                value = raw.value * member.scale
                if not math.isfinite(value):
                    return None
                if round_to is not None:
                    value = float(f"{value:.{round_to}f}")
                lo = None if raw.ci_low is None else raw.ci_low * member.scale
                hi = None if raw.ci_high is None else raw.ci_high * member.scale
                metric = Metric(value, lo, hi, n=raw.n)
            inputs[member.name] = metric.value
            metrics.append(metric)
        import numpy as np

        mean = float(np.mean([m.value for m in metrics]))
        if nested and round_to is not None and len(metrics) > 1:
            mean = _round(mean, Rounding(digits=round_to))  # a member is stored rounded, like its inputs
        elif not nested and spec.round is not None:
            mean = _round(mean, spec.round)
        return _combine(metrics, mean, spec.scale), inputs

    def compute(self, key: str, results: Mapping[str, TaskResult]) -> Summary | None:
        """The summary over ``results`` (task name -> result); None unless every member has a finite value."""
        entry = self.entry(key)
        found = self._value(key, results, entry.spec.round_members)
        if found is None:
            return None
        metric, inputs = found
        return Summary(key, entry.spec.label, entry.suite.name, metric, self.tasks(key), inputs)

    def compute_all(self, results: Mapping[str, TaskResult]) -> dict[str, Summary]:
        """Every summary that ``results`` has all the members of, by key (in the cards' order)."""
        out: dict[str, Summary] = {}
        for key in self.entries:
            summary = self.compute(key, results)
            if summary is not None:
                out[key] = summary
        return out
