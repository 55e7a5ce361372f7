"""A self-contained HTML report: the tables, inline SVG charts, and links to the generated images.

Charts: per table, a per-suite comparison (one group of bars per column: our runs with their
intervals beside published baselines), and per task, a per-category chart of each breakdown.
Images: per generation task, one line per prompt with its score, category and a link to its grid
(GenEval's ``grid.png``, or a thumbnail grid written to ``assets`` when the run has none).
"""

from __future__ import annotations

import hashlib
import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ming_eval.report.format import (
    JUDGE_HEADER,
    SOURCE_PREFIX,
    SourceNote,
    judge_text,
    source_notes,
    table_notes,
    value_text,
)
from ming_eval.report.images import SampleImages, make_grid, run_images
from ming_eval.report.runs import ReportRun
from ming_eval.report.svg import Series, grouped_bars
from ming_eval.report.tables import ReportTable, Row

MAX_BASELINE_SERIES = 5

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{padding:.25em .6em;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}
tr.group td{font-style:italic;color:#666;text-align:left;border-bottom:1px solid #ccc}
tr.ours td{background:#f0f6ff}tr.ours td:nth-child(2){font-weight:bold}
td.best{font-weight:bold}td .ci{color:#777;font-size:.8em}
ul.notes{font-size:.85em;color:#555}
.samples td{text-align:left;vertical-align:top}.samples img{height:64px;margin-right:2px}
details{margin:.3em 0}summary{cursor:pointer}
"""


@dataclass
class HtmlOptions:
    with_ci: bool = False
    out_dir: Path | None = None  # where the HTML goes: links are relative to it
    assets_dir: Path | None = None  # where thumbnail grids may be written (None: do not write)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _href(path: Path, opts: HtmlOptions) -> str:
    base = opts.out_dir or Path.cwd()
    try:
        rel = os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive on Windows
        return path.resolve().as_uri()
    return _e(Path(rel).as_posix())


def _source(note: SourceNote) -> str:
    """``Source: <a href=url>text</a>: rows``."""
    text = _e(note.link.text)
    if note.link.url:
        text = f'<a href="{_e(note.link.url)}">{text}</a>'
    return f"<li>{_e(SOURCE_PREFIX)}{text}: {_e(', '.join(note.rows))}</li>"


def table_html(table: ReportTable, opts: HtmlOptions) -> str:
    spec = table.spec
    cols = table.columns
    parts = [f"<h2>{_e(spec.title)}</h2>", "<table>", "<thead><tr><th>Type</th><th>Model</th>"]
    if spec.judged:
        parts.append(f"<th>{_e(JUDGE_HEADER)}</th>")
    parts += [f"<th>{_e(c.label)}</th>" for c in cols]
    parts.append("</tr></thead><tbody>")
    for group, rows in table.groups():
        parts.append(f'<tr class="group"><td colspan="{len(cols) + 2 + spec.judged}">{_e(group)}</td></tr>')
        for row in rows:
            parts.append(f'<tr class="{"ours" if row.ours else "baseline"}"><td></td><td>{_e(row.label)}</td>')
            if spec.judged:
                parts.append(f"<td>{_e(judge_text(row))}</td>")
            for col in cols:
                cell = row.cells[col.key]
                digits = spec.digits_of(col)
                text = _e(value_text(cell, digits, with_ci=False))
                show_ci = opts.with_ci and row.ours and not cell.empty
                if show_ci and cell.ci_low is not None and cell.ci_high is not None:
                    text += f' <span class="ci">[{cell.ci_low:.{digits}f}, {cell.ci_high:.{digits}f}]</span>'
                title = f' title="{_e(cell.source)}"' if cell.source else ""
                parts.append(f'<td class="{"best" if cell.best else ""}"{title}>{text}</td>')
            parts.append("</tr>")
    parts.append("</tbody></table>")
    notes = table_notes(table, with_ci=opts.with_ci)
    sources = source_notes(table)
    if notes or sources:
        items = [f"<li>{_e(n)}</li>" for n in notes] + [_source(s) for s in sources]
        parts.append('<ul class="notes">' + "".join(items) + "</ul>")
    parts.append(suite_chart(table))
    return "\n".join(parts)


def _y_max(scale: float) -> float | None:
    """A chart's full height for values on ``scale`` (percentages, fractions); None: fit the data."""
    return 100.0 if scale == 100 else (1.0 if scale == 1 else None)


def suite_chart(table: ReportTable) -> str:
    """Our runs (with intervals) and the most complete baselines, column by column."""
    cols = table.columns
    ours = [r for r in table.rows if r.ours]
    if not ours:
        return ""
    names = {r.label.split(" @ ")[0].split(" (")[0].rstrip("†").lower() for r in ours}

    def priority(r: Row) -> tuple[bool, int]:
        # the published numbers of the model we ran first, then the most complete rows
        same_model = r.label.split(" (")[0].rstrip("†").lower() in names
        return (not same_model, -sum(not r.cells[c.key].empty for c in cols))

    baselines = sorted((r for r in table.rows if not r.ours), key=priority)[:MAX_BASELINE_SERIES]
    series = [
        Series(
            r.label,
            [r.cells[c.key].value for c in cols],
            [r.cells[c.key].ci_low for c in cols],
            [r.cells[c.key].ci_high for c in cols],
            ours=True,
        )
        for r in ours
    ] + [Series(r.label, [r.cells[c.key].value for c in cols], ours=False) for r in baselines]
    return grouped_bars(
        [c.label for c in cols], series, title=f"{table.spec.title}: comparison", y_max=_y_max(table.spec.scale)
    )


def category_charts(runs: Sequence[ReportRun]) -> str:
    """One chart per (task, breakdown): each run's value per category, with intervals."""
    parts: list[str] = []
    keys = list(dict.fromkeys((t, b) for run in runs for t, res in run.results.items() for b in res.breakdowns))
    for task, bd in keys:
        cats = list(
            dict.fromkeys(k for run in runs if task in run.results for k in run.results[task].breakdowns.get(bd, {}))
        )
        series = []
        scale = 1.0
        for run in runs:
            table = run.results[task].breakdowns.get(bd, {}) if task in run.results else {}
            if not table:
                continue
            scale = next(iter(table.values())).scale
            series.append(
                Series(
                    run.label,
                    [table[c].value if c in table else None for c in cats],
                    [table[c].ci_low if c in table else None for c in cats],
                    [table[c].ci_high if c in table else None for c in cats],
                )
            )
        if series:
            parts.append(grouped_bars(cats, series, title=f"{task} by {bd}", y_max=_y_max(scale)))
    if not parts:
        return ""
    return "<h2>Per-category results</h2>\n" + "\n".join(f"<div>{p}</div>" for p in parts)


def _grid_link(sample: SampleImages, run: ReportRun, task: str, opts: HtmlOptions) -> str:
    grid = sample.grid
    if grid is None and opts.assets_dir is not None and sample.images:
        # the run's name plus a hash of its path: two runs may share a folder name
        digest = hashlib.sha1(str(run.path.resolve()).encode("utf-8")).hexdigest()[:8]
        safe_run = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run.path.name) + "-" + digest
        safe_id = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in sample.sample_id)
        target = opts.assets_dir / "grids" / safe_run / task / f"{safe_id}.png"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            make_grid(sample.images).save(target)
        grid = target
    if grid is None:
        return ""
    return f'<a href="{_href(grid, opts)}"><img src="{_href(grid, opts)}" alt="grid {_e(sample.sample_id)}"></a>'


def images_section(runs: Sequence[ReportRun], opts: HtmlOptions) -> str:
    parts: list[str] = []
    for run in runs:
        for task in run.results:
            samples = run_images(run, task)
            if not samples:
                continue
            parts.append(f"<h3>{_e(run.label)} — {_e(task)} ({len(samples)} prompts)</h3>")
            by_cat: dict[str, list[SampleImages]] = {}
            for s in samples:
                by_cat.setdefault(s.category or "all", []).append(s)
            for cat, items in by_cat.items():
                mean = sum(s.score or 0.0 for s in items) / len(items)
                parts.append(f"<details><summary>{_e(cat)}: {len(items)} prompts, mean score {mean:.3f}</summary>")
                parts.append(
                    '<table class="samples"><tr><th>id</th><th>prompt</th><th>score</th><th>grid</th>'
                    "<th>images</th><th>reason</th></tr>"
                )
                for s in items:
                    links = " ".join(f'<a href="{_href(p, opts)}">{i}</a>' for i, p in enumerate(s.images))
                    score = "-" if s.score is None else f"{s.score:.2f}"
                    parts.append(
                        f"<tr><td>{_e(s.sample_id)}</td><td>{_e(s.prompt)}</td><td>{score}</td>"
                        f"<td>{_grid_link(s, run, task, opts)}</td><td>{links}</td><td>{_e(s.reason)}</td></tr>"
                    )
                parts.append("</table></details>")
    if not parts:
        return ""
    return "<h2>Generated images</h2>\n" + "\n".join(parts)


def runs_section(runs: Sequence[ReportRun], opts: HtmlOptions) -> str:
    rows = []
    for run in runs:
        problems = "; ".join(f"{t}: {p}" for t, p in run.problems.items())
        rows.append(
            f"<tr><td>{_e(run.label)}</td><td>{_e(run.model_name)}</td><td>{_e(run.checkpoint or '')}</td>"
            f"<td>{_e(run.created)}</td><td>{_e(run.git_commit or '')}</td>"
            f'<td><a href="{_href(run.path, opts)}">{_e(run.path)}</a></td><td>{_e(problems)}</td></tr>'
        )
    return (
        "<h2>Runs</h2><table><tr><th>label</th><th>model card</th><th>checkpoint</th><th>created</th>"
        "<th>git</th><th>directory</th><th>problems</th></tr>" + "".join(rows) + "</table>"
    )


def render(
    tables: Sequence[ReportTable],
    runs: Sequence[ReportRun],
    opts: HtmlOptions | None = None,
    *,
    title: str = "ming-eval report",
) -> str:
    opts = opts or HtmlOptions()
    body = [f"<h1>{_e(title)}</h1>", runs_section(runs, opts)]
    body += [table_html(t, opts) for t in tables]
    body += [category_charts(runs), images_section(runs, opts)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(b for b in body if b)
        + "\n</body></html>\n"
    )
