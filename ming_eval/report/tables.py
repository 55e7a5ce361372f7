"""Paper-style tables: a layout from ``reports/tables/*.yaml`` filled with runs and baselines.

A column takes its value from one of:

* ``summary``: a suite summary by key (declared on a suite card, stored in the run's results.json),
  shown when the row's run has every task of it;
* ``tasks`` + ``metric``: the first of ``tasks`` that the run has, and that metric (or breakdown key).

Values are shown on the table's ``scale`` (a metric stored on another scale is converted). The best
value of each column is marked, separately among original-prompt rows and rewritten-prompt rows
(which are never ranked against each other).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ming_eval.core.results import Metric, TaskResult
from ming_eval.core.summaries import Summary
from ming_eval.errors import CardError, UnknownNameError
from ming_eval.registry import summary_catalog
from ming_eval.report.baselines import Baseline, Link
from ming_eval.report.data import load_yaml_model, reports_root
from ming_eval.report.runs import ReportRun

OURS = "ours"
BASELINE = "baseline"
OURS_GROUP = "Ours"
#: the name of the generic tables of tasks no layout shows (``--table other``)
OTHER_TABLE = "other"
REWRITTEN_GROUP = "Rewritten prompts †"


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    label: str
    summary: str | None = None
    tasks: list[str] | None = None
    metric: str | None = None
    digits: int | None = None
    better: Literal["higher", "lower"] = "higher"

    @model_validator(mode="after")
    def _one_source(self) -> ColumnSpec:
        if (self.summary is None) == (self.tasks is None):
            raise ValueError(f"column {self.key!r} needs exactly one of summary, tasks")
        if self.tasks is not None and not self.metric:
            raise ValueError(f"column {self.key!r} names tasks but no metric")
        return self


class TableSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["ming-eval-table/1"]
    name: str
    #: where the table comes in a report (lower first; then by name)
    order: int = 99
    title: str
    caption: str = ""
    scale: float = Field(gt=0)
    digits: int = Field(ge=0, le=6)
    #: a model judged the numbers (the judge is part of the protocol): every format shows each row's judge
    judged: bool = False
    columns: list[ColumnSpec] = Field(min_length=1)

    @property
    def tasks(self) -> set[str]:
        """Every task any column may read (a summary column: every task of the summary)."""
        out: set[str] = set()
        catalog = summary_catalog()
        for col in self.columns:
            if col.tasks:
                out.update(col.tasks)
            if col.summary is not None:
                out.update(catalog.tasks(col.summary))
        return out

    def digits_of(self, col: ColumnSpec) -> int:
        return self.digits if col.digits is None else col.digits


def load_table_specs(folder: Path | None = None) -> list[TableSpec]:
    folder = folder or reports_root() / "tables"
    specs = []
    catalog = summary_catalog()
    for path in sorted(folder.glob("*.yaml")):
        spec = load_yaml_model(path, TableSpec, "table layout")
        for col in spec.columns:
            if col.summary is not None and col.summary not in catalog.entries:
                raise CardError(
                    f"table layout {path}: column {col.key!r} names summary {col.summary!r}, which no suite card "
                    f"declares; known summaries: {', '.join(sorted(catalog.entries)) or 'none'}"
                )
        specs.append(spec)
    return sorted(specs, key=lambda s: (s.order, s.name))


@dataclass
class Cell:
    """A value as shown (on the table's scale), its interval, and where it came from."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    verified: bool = True
    source: str = ""
    best: bool = False
    confidence: float | None = None
    #: the tasks of the run whose results the value shows (empty for a published value)
    tasks: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self.value is None or (isinstance(self.value, float) and math.isnan(self.value))

    def text(self, digits: int, *, with_ci: bool = False) -> str:
        if self.empty:
            return "-"
        assert self.value is not None
        out = f"{self.value:.{digits}f}"
        if with_ci and all(x is not None and math.isfinite(x) for x in (self.ci_low, self.ci_high)):
            out += f" [{self.ci_low:.{digits}f}, {self.ci_high:.{digits}f}]"
        return out


#: appended to the label of a row whose numbers are not the benchmark's as published, in every format
NOT_COMPARABLE_MARK = " (not comparable)"


@dataclass
class Row:
    label: str
    kind: str
    group: str
    cells: dict[str, Cell]
    rewritten: bool = False
    #: False when a result in the row is not the benchmark as published (a --limit subset, missing
    #: samples, a custom prompt set): shown, but never marked best against published rows
    comparable: bool = True
    key: str = ""
    sources: list[Link] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the judge behind the row's numbers ("" when unknown or none; shown in judged tables)
    judge: str = ""

    @property
    def ours(self) -> bool:
        return self.kind == OURS


@dataclass
class ReportTable:
    spec: TableSpec
    rows: list[Row]
    notes: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[ColumnSpec]:
        return list(self.spec.columns)

    @property
    def has_unverified(self) -> bool:
        return any(not c.verified and not c.empty for r in self.rows for c in r.cells.values())

    def groups(self) -> list[tuple[str, list[Row]]]:
        out: dict[str, list[Row]] = {}
        for row in self.rows:
            out.setdefault(row.group, []).append(row)
        return list(out.items())


# -- values of a run ----------------------------------------------------------------------------
def _rescaled(m: Metric, scale: float, source: str, tasks: Sequence[str]) -> Cell:
    factor = scale / (m.scale or 1.0)
    lo = None if m.ci_low is None else m.ci_low * factor
    hi = None if m.ci_high is None else m.ci_high * factor
    return Cell(m.value * factor, lo, hi, m.n, source=source, confidence=m.confidence, tasks=tuple(tasks))


def find_metric(result: TaskResult, name: str) -> Metric | None:
    """``name`` among a result's metrics, else among its breakdowns' keys."""
    if name in result.metrics:
        return result.metrics[name]
    for table in result.breakdowns.values():
        if name in table:
            return table[name]
    return None


def run_cell(
    spec: TableSpec, col: ColumnSpec, results: Mapping[str, TaskResult], summaries: Mapping[str, Summary]
) -> Cell:
    """The value of ``col`` for one run's results and summaries (an empty cell when the run lacks it).

    A summary is shown only in a row that holds every task it was computed from (a run of both
    GenEval prompt sets splits into two rows)."""
    if col.summary is not None:
        summary = summaries.get(col.summary)
        if summary is None or not all(t in results for t in summary.tasks):
            return Cell(None)
        return _rescaled(summary.metric, spec.scale, " + ".join(summary.tasks), summary.tasks)
    for task in col.tasks or []:
        if task in results:
            m = find_metric(results[task], col.metric or results[task].primary)
            if m is not None:
                return _rescaled(m, spec.scale, f"{task}:{col.metric}", (task,))
    return Cell(None)


def run_notes(run: ReportRun, tasks: set[str]) -> list[str]:
    """What a reader must know about a run's numbers in this table: subsets, failures, gaps."""
    notes: list[str] = []
    for task in sorted(tasks):
        if task in run.problems:
            notes.append(f"{task}: no results ({run.problems[task]})")
            continue
        result = run.results.get(task)
        if result is None:
            continue
        counts = result.counts
        failed = result.failed
        if "limit" in result.info:
            notes.append(f"{task}: --limit {result.info['limit']} (a subset; not comparable to published numbers)")
        if counts.get("missing"):
            notes.append(f"{task}: {counts['missing']} samples missing")
        if failed:
            notes.append(f"{task}: {failed} of {counts.get('n', '?')} samples failed and count as wrong")
        # the reasons the notes above do not cover (a data file, judge or option other than the card's)
        for reason in result.not_comparable_because:
            if not reason.startswith("--limit") and not reason.endswith("samples missing"):
                notes.append(f"{task}: not comparable: {reason}")
        if not result.comparable and not result.not_comparable_because:
            # results stored without reasons (e.g. GenEval's custom prompt set): the task's own note
            notes.extend(f"{task}: {note}" for note in result.notes if "not comparable" in note)
    return notes


def _judge_text(results: Mapping[str, TaskResult]) -> str:
    """The judge of a row's results: its one name when every task has it, else each judged task's."""
    judges = {task: r.judge for task, r in sorted(results.items()) if r.judge}
    names = set(judges.values())
    if len(names) == 1 and len(judges) == len(results):
        return names.pop()
    return "; ".join(f"{task}: {judge}" for task, judge in judges.items())


def _our_row(run: ReportRun, label: str, cells: dict[str, Cell], tasks: set[str], *, rewritten: bool = False) -> Row:
    """A run's row showing ``cells`` from ``tasks`` (those without results are named in its notes)."""
    results = {t: run.results[t] for t in tasks if t in run.results}
    comparable = all(r.comparable for r in results.values())
    return Row(
        label + ("" if comparable else NOT_COMPARABLE_MARK),
        OURS,
        OURS_GROUP,
        cells,
        rewritten=rewritten,
        comparable=comparable,
        key=str(run.path),
        sources=[Link(str(run.path))],
        notes=run_notes(run, tasks),
        judge=_judge_text(results),
    )


# -- building -----------------------------------------------------------------------------------
def build_table(spec: TableSpec, runs: Sequence[ReportRun], baselines: Sequence[Baseline]) -> ReportTable | None:
    """The table for ``spec``, or None when no run has a value in it (baselines alone make no table)."""
    ours: list[Row] = []
    tasks = spec.tasks
    for run in runs:
        # a run of both prompt sets (geneval and geneval_rewritten) gets a row for each
        rewritten_tasks = {t for t in tasks if t in run.tasks and run.rewritten_prompts(t)}
        for rewritten in (False, True):
            results = {t: r for t, r in run.results.items() if (t in rewritten_tasks) == rewritten}
            cells = {c.key: run_cell(spec, c, results, run.summaries) for c in spec.columns}
            if all(cell.empty for cell in cells.values()):
                continue
            used = {t for t in tasks if t in run.tasks and (t in rewritten_tasks) == rewritten}
            label = _rewritten_label(run.label) if rewritten else run.label
            ours.append(_our_row(run, label, cells, used, rewritten=rewritten))
    if not ours:
        return None
    rows: list[Row] = []
    seen: dict[tuple[str, bool, tuple[tuple[str, float], ...]], Row] = {}
    for b in baselines:
        if b.table != spec.name:
            continue
        unknown = set(b.values) - {c.key for c in spec.columns}
        if unknown:
            raise CardError(
                f"baseline {b.key} ({b.file}) has values for {sorted(unknown)}, which table {spec.name!r} "
                f"does not have; its columns: {', '.join(c.key for c in spec.columns)}"
            )
        ident = (b.model, b.rewritten, tuple(sorted(b.values.items())))
        if ident in seen:  # the same published row quoted by several sources
            seen[ident].sources.extend(s for s in b.sources() if s not in seen[ident].sources)
            continue
        cells = {
            c.key: (
                Cell(b.values[c.key], verified=b.verified(c.key), source=b.key) if c.key in b.values else Cell(None)
            )
            for c in spec.columns
        }
        row = Row(
            b.label,
            BASELINE,
            REWRITTEN_GROUP if b.rewritten else (b.group or "Published"),
            cells,
            rewritten=b.rewritten,
            key=b.key,
            sources=b.sources(),
            judge=b.judge,
        )
        seen[ident] = row
        rows.append(row)
    rows += ours
    _mark_best(spec, rows)
    notes = []
    if spec.caption:
        notes.append(spec.caption.strip())
    return ReportTable(spec, _ordered(rows), notes)


def _ordered(rows: list[Row]) -> list[Row]:
    """Published rows by group (first appearance), rewritten-prompt rows, then ours."""
    published = [r for r in rows if not r.ours and not r.rewritten]
    groups = list(dict.fromkeys(r.group for r in published))
    out = [r for g in groups for r in published if r.group == g]
    out += [r for r in rows if not r.ours and r.rewritten]
    out += [r for r in rows if r.ours]
    return out


def _mark_best(spec: TableSpec, rows: list[Row]) -> None:
    for col in spec.columns:
        digits = spec.digits_of(col)
        for rewritten in (False, True):
            cells = [
                r.cells[col.key]
                for r in rows
                if r.rewritten == rewritten and r.comparable and not r.cells[col.key].empty
            ]
            if len(cells) < 2:
                continue
            # compare as shown: values equal at the printed precision tie
            shown = [round(float(c.value or 0.0), digits) for c in cells]
            target = max(shown) if col.better == "higher" else min(shown)
            for cell, value in zip(cells, shown, strict=True):
                cell.best = value == target


# -- tasks no layout covers ---------------------------------------------------------------------
def scale_text(scale: float) -> str:
    """How a scale is named under a table: "0-100", "0-1"."""
    return f"0-{scale:g}"


def shown_tasks(tables: Sequence[ReportTable]) -> dict[str, set[str]]:
    """Per run (by its directory, the key of its rows), the tasks some table shows a value of."""
    out: dict[str, set[str]] = {}
    for table in tables:
        for row in table.rows:
            if row.ours:
                shown = out.setdefault(row.key, set())
                for cell in row.cells.values():
                    if not cell.empty:
                        shown.update(cell.tasks)
    return out


def other_tasks_tables(runs: Sequence[ReportRun], tables: Sequence[ReportTable]) -> list[ReportTable]:
    """Each run's primary metric for the tasks of it that no other table shows a value of, one column
    per task, a table per scale (a task whose layout column shows nothing for this run, e.g. one half
    of a summary, lands here too): no finished task is left out of a report."""
    shown = shown_tasks(tables)
    left = {str(run.path): [t for t in run.results if t not in shown.get(str(run.path), set())] for run in runs}
    by_scale: dict[float, dict[str, str]] = {}  # scale -> task -> primary metric name
    for run in runs:
        for task in left[str(run.path)]:
            result = run.results[task]
            metrics = by_scale.setdefault(result.primary_metric.scale or 1.0, {})
            if metrics.setdefault(task, result.primary) != result.primary:
                metrics[task] = ""  # runs disagree on the primary metric's name: the column says "primary"
    out: list[ReportTable] = []
    for scale, metrics in sorted(by_scale.items(), key=lambda kv: -kv[0]):
        columns = [
            ColumnSpec(key=task, label=f"{task} ({metric or 'primary'})", tasks=[task], metric=metric or "primary")
            for task, metric in metrics.items()
        ]
        spec = TableSpec(
            format="ming-eval-table/1",
            name=OTHER_TABLE,
            title=f"Other tasks ({scale_text(scale)})",
            scale=scale,
            digits=1 if scale >= 100 else 2,
            columns=columns,
        )
        rows = []
        for run in runs:
            tasks = [
                t for t in left[str(run.path)] if t in metrics and (run.results[t].primary_metric.scale or 1.0) == scale
            ]
            if not tasks:
                continue
            cells = {
                task: _rescaled(run.results[task].primary_metric, scale, task, (task,)) if task in tasks else Cell(None)
                for task in metrics
            }
            rows.append(_our_row(run, run.label, cells, set(tasks)))
        _mark_best(spec, rows)
        note = (
            "Tasks no table layout shows: each task's primary metric as the run stores it, "
            f"on a {scale_text(scale)} scale (no published baselines)."
        )
        out.append(ReportTable(spec, rows, [note]))
    return out


#: what tells a run labelled like a published row from it: "Janus-Pro-7B (this run: runs/jp)"
THIS_RUN = " (this run: "


def _rewritten_label(label: str) -> str:
    """The label of a run's rewritten-prompt row: "†" after the name, before "(this run: ...)"."""
    name, sep, rest = label.partition(THIS_RUN)
    return f"{name}†{sep}{rest}"


def _normal(name: str) -> str:
    """A name as a reader tells names apart: without case, punctuation or "†"."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def label_apart_from_baselines(runs: Sequence[ReportRun], baselines: Sequence[Baseline]) -> None:
    """Relabel each run whose label is a published row's name ("Janus-Pro-7B (this run: runs/jp)"),
    so that no format can show our row as, or merge it with, the published one. A published name is
    also its name without a trailing "(...)": "Ming-Lite-Uni (published)" names Ming-Lite-Uni."""
    published = {_normal(n) for b in baselines for n in (b.model, re.sub(r"\s*\([^()]*\)$", "", b.model))}
    for run in runs:
        if _normal(run.label) in published:
            run.label = f"{run.label}{THIS_RUN}{run.path})"


def build_report_tables(
    runs: Sequence[ReportRun],
    baselines: Sequence[Baseline],
    specs: Sequence[TableSpec] | None = None,
    *,
    only: Sequence[str] | None = None,
) -> list[ReportTable]:
    """Every table that has something to show: the layouts, then the tasks no layout shows.

    A layout is shown when a run has a value in it; baselines alone do not make a table. A run whose
    label is a published row's name is relabelled first (:func:`label_apart_from_baselines`).
    """
    specs = list(specs if specs is not None else load_table_specs())
    for name in only or ():
        if name not in {s.name for s in specs} | {OTHER_TABLE}:
            raise UnknownNameError("table", name, [*(s.name for s in specs), OTHER_TABLE])
    label_apart_from_baselines(runs, baselines)
    tables: list[ReportTable] = []
    for spec in specs:
        table = build_table(spec, runs, baselines)
        if table is not None:
            tables.append(table)
    tables += other_tasks_tables(runs, tables)
    return [t for t in tables if not only or t.spec.name in only]
