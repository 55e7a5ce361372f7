"""What every output format says the same way: value text, markers and the notes under a table."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ming_eval.report.baselines import Link
from ming_eval.report.tables import Cell, ReportTable, Row

UNVERIFIED_MARK = "*"
BEST_NOTE = "Bold: best value in the column (rows with rewritten prompts † are ranked among themselves)."
UNVERIFIED_NOTE = "* not verified against a primary source; see the row's sources."
#: the column a judged table (``judged: true`` in its layout) shows after the model, in every format
JUDGE_HEADER = "Judge"


def judge_text(row: Row) -> str:
    """The row's judge as shown in a judged table ("-" when its results or source name none)."""
    return row.judge or "-"


def value_text(cell: Cell, digits: int, *, with_ci: bool) -> str:
    """The value (with its interval on request), plus ``*`` when it is not verified."""
    text = cell.text(digits, with_ci=with_ci)
    if not cell.empty and not cell.verified:
        text += UNVERIFIED_MARK
    return text


def table_notes(table: ReportTable, *, with_ci: bool = False) -> list[str]:
    """The notes under a table, in order: what intervals are (``with_ci``), caption, markers, what a
    reader must know about our rows (subsets, failures, why not comparable). Sources follow them
    (:func:`source_notes`), which each format renders as links."""
    notes = [ci_header(table)] if with_ci else []
    notes += table.notes
    if any(c.best for r in table.rows for c in r.cells.values()):
        notes.append(BEST_NOTE)
    if table.has_unverified:
        notes.append(UNVERIFIED_NOTE)
    for row in table.rows:
        for note in row.notes:
            notes.append(f"{row.label}: {note}")
    return notes


#: what starts each source's line under a table, in every format
SOURCE_PREFIX = "Source: "


@dataclass
class SourceNote:
    """One source under a table and the published rows it is cited for ("(not verified)" where the
    values were not checked against it)."""

    link: Link
    rows: list[str] = field(default_factory=list)


def source_notes(table: ReportTable) -> list[SourceNote]:
    """Each source the table's published rows cite, once, in order of first citation."""
    notes: dict[tuple[str, str | None], SourceNote] = {}
    for row in table.rows:
        if row.ours:
            continue
        for link in row.sources:
            note = notes.setdefault((link.text, link.url), SourceNote(Link(link.text, link.url)))
            note.rows.append(row.label + ("" if link.verified else " (not verified)"))
    return list(notes.values())


def source_text(note: SourceNote) -> str:
    """A source note as plain text: "Source: TEXT <URL>: rows"."""
    return f"{SOURCE_PREFIX}{note.link.plain()}: {', '.join(note.rows)}"


def ci_header(table: ReportTable) -> str:
    """How intervals are described under a table that shows them (at the runs' own confidence)."""
    levels = {
        round(c.confidence * 100)
        for r in table.rows
        if r.ours
        for c in r.cells.values()
        if c.confidence and math.isfinite(c.confidence)
    }
    level = levels.pop() if len(levels) == 1 else 95
    return f"[low, high]: {level}% bootstrap confidence interval of our runs' values"
