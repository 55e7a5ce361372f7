"""Markdown tables (GitHub-flavoured), for READMEs, issues and CI comments."""

from __future__ import annotations

from collections.abc import Sequence

from ming_eval.report.format import (
    JUDGE_HEADER,
    SOURCE_PREFIX,
    SourceNote,
    judge_text,
    source_notes,
    table_notes,
    value_text,
)
from ming_eval.report.tables import ReportTable


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _source(note: SourceNote) -> str:
    """``Source: [text](url): rows``, a link where the source has an address."""
    text = note.link.text.replace("[", "\\[").replace("]", "\\]")
    cited = f"[{text}]({note.link.url})" if note.link.url else text
    return f"- {SOURCE_PREFIX}{_escape(cited)}: {_escape(', '.join(note.rows))}"


def render_table(table: ReportTable, *, with_ci: bool = False) -> str:
    spec = table.spec
    cols = table.columns
    lines = [f"### {spec.title}", ""]
    judge = [JUDGE_HEADER] if spec.judged else []
    header = ["Type", "Model", *judge, *(c.label for c in cols)]
    lines.append("| " + " | ".join(_escape(h) for h in header) + " |")
    lines.append("|" + "|".join([":--", ":--", *([":--"] * len(judge)), *(["--:"] * len(cols))]) + "|")
    for group, rows in table.groups():
        for i, row in enumerate(rows):
            label = f"**{_escape(row.label)}**" if row.ours else _escape(row.label)
            cells = [_escape(judge_text(row))] if spec.judged else []
            for col in cols:
                cell = row.cells[col.key]
                # the unverified marker is a literal asterisk, not emphasis
                text = value_text(cell, spec.digits_of(col), with_ci=with_ci and row.ours).replace("*", "\\*")
                cells.append(f"**{text}**" if cell.best else text)
            lines.append("| " + " | ".join([_escape(group) if i == 0 else "", label, *cells]) + " |")
    notes = table_notes(table, with_ci=with_ci)
    sources = source_notes(table)
    if notes or sources:
        lines.append("")
        lines.extend(f"- {_escape(n)}".replace("- * ", "- \\* ", 1) for n in notes)
        lines.extend(_source(s) for s in sources)
    return "\n".join(lines) + "\n"


def render(tables: Sequence[ReportTable], *, with_ci: bool = False, title: str | None = None) -> str:
    parts = [f"## {title}\n"] if title else []
    parts.extend(render_table(t, with_ci=with_ci) for t in tables)
    return "\n".join(parts)
