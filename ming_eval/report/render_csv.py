"""CSV in long form: one line per (table, row, column), with interval, provenance and markers."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from ming_eval.report.tables import ReportTable

FIELDS = (
    "table",
    "group",
    "row",
    "kind",
    "rewritten",
    "column",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "best",
    "verified",
    "key",
    "sources",
    "comparable",
    "judge",
    "scale",
)


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.10g}"


def render(tables: Sequence[ReportTable]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for table in tables:
        for row in table.rows:
            for col in table.columns:
                cell = row.cells[col.key]
                if cell.empty:
                    continue
                writer.writerow(
                    {
                        "table": table.spec.name,
                        "group": row.group,
                        "row": row.label,
                        "judge": row.judge,
                        "kind": row.kind,
                        "rewritten": int(row.rewritten),
                        "comparable": int(row.comparable),
                        "column": col.key,
                        "value": _num(cell.value),
                        "ci_low": _num(cell.ci_low),
                        "ci_high": _num(cell.ci_high),
                        "n": "" if cell.n is None else cell.n,
                        "best": int(cell.best),
                        "verified": int(cell.verified),
                        "key": row.key,
                        "sources": "; ".join(link.plain() for link in row.sources),
                        "scale": f"{table.spec.scale:g}",
                    }
                )
    return buf.getvalue()
