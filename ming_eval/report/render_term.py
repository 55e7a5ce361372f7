"""Rich tables for the terminal (``--format table``)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ming_eval.report.format import JUDGE_HEADER, judge_text, source_notes, source_text, table_notes, value_text
from ming_eval.report.tables import ReportTable


def rich_table(table: ReportTable, *, with_ci: bool = False) -> Table:
    spec = table.spec
    out = Table(title=spec.title, title_style="bold", show_lines=False)
    out.add_column("Type", style="dim")
    out.add_column("Model")
    if spec.judged:
        out.add_column(JUDGE_HEADER)
    for col in table.columns:
        out.add_column(col.label, justify="right")
    for group, rows in table.groups():
        out.add_section()
        for i, row in enumerate(rows):
            cells: list[Text | str] = [group if i == 0 else "", Text(row.label, style="bold cyan" if row.ours else "")]
            if spec.judged:
                cells.append(judge_text(row))
            for col in table.columns:
                cell = row.cells[col.key]
                text = value_text(cell, spec.digits_of(col), with_ci=with_ci and row.ours)
                cells.append(Text(text, style="bold green" if cell.best else ""))
            out.add_row(*cells)
    return out


def print_whole(console: Console, renderable: Table) -> None:
    """Print a table at its natural width, even past the terminal's: cut numbers are worse than wrapped lines."""
    width = console.measure(renderable, options=console.options.update_width(10_000)).maximum
    if width <= console.width:
        console.print(renderable)
        return
    wide = Console(
        file=console.file, width=width, force_terminal=console.is_terminal, no_color=console.no_color, highlight=False
    )
    wide.print(renderable)


def print_tables(
    console: Console, tables: Sequence[ReportTable], *, with_ci: bool = False, with_sources: bool = False
) -> None:
    for table in tables:
        print_whole(console, rich_table(table, with_ci=with_ci))
        notes = table_notes(table, with_ci=with_ci)
        if with_sources:
            notes += [source_text(s) for s in source_notes(table)]
        for note in notes:
            console.print(Text("  " + note, style="dim"), soft_wrap=True)
        console.print()
