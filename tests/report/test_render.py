"""Each output format on one fixed table: the exact Markdown, LaTeX and CSV, and the HTML's parts."""

from __future__ import annotations

import re
import xml.dom.minidom
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from rich.console import Console

from ming_eval.report import render_csv, render_latex, render_md
from ming_eval.report.baselines import Link
from ming_eval.report.render_html import HtmlOptions
from ming_eval.report.render_html import render as render_html
from ming_eval.report.render_term import print_tables
from ming_eval.report.runs import open_run
from ming_eval.report.svg import Series, grouped_bars
from ming_eval.report.tables import BASELINE, OURS, Cell, ColumnSpec, ReportTable, Row, TableSpec, build_report_tables
from ming_eval.store.jsonl import write_jsonl_atomic
from tests.report.helpers import geneval_data, write_run


@pytest.fixture()
def table() -> ReportTable:
    spec = TableSpec(
        format="ming-eval-table/1",
        name="geneval",
        title="GenEval",
        scale=1,
        digits=2,
        columns=[
            ColumnSpec(key="counting", label="Counting", tasks=["geneval"], metric="counting"),
            ColumnSpec(key="overall", label="Overall", tasks=["geneval"], metric="overall"),
        ],
    )
    rows = [
        Row(
            "SDXL",
            BASELINE,
            "Gen. Only",
            {"counting": Cell(0.39), "overall": Cell(0.55)},
            key="x/sdxl",
            sources=[Link("paper T1", "https://example.org/t1")],
        ),
        Row(
            "Janus-Pro-7B",
            BASELINE,
            "Und. & Gen.",
            {"counting": Cell(0.59, best=True), "overall": Cell(0.80)},
            key="x/janus",
            sources=[Link("paper T4", "https://example.org/t4")],
        ),
        Row(
            "BAGEL†",
            BASELINE,
            "Rewritten prompts †",
            {"counting": Cell(0.84, verified=False, best=True), "overall": Cell(0.88, best=True)},
            rewritten=True,
            key="x/bagel",
            sources=[Link("README @ 056b5fd"), Link("quote", verified=False)],
        ),
        Row(
            "Ming_v2 @ step-10",
            OURS,
            "Ours",
            {"counting": Cell(0.5312, 0.4, 0.66, n=80), "overall": Cell(0.8149, 0.79, 0.84, n=553, best=True)},
            key="runs/m",
            sources=[Link("runs/m")],
            notes=["geneval: --limit 5 (a subset)"],
        ),
    ]
    return ReportTable(spec, rows, ["GenEval caption."])


def test_markdown(table):
    assert (
        render_md.render_table(table, with_ci=True)
        == """\
### GenEval

| Type | Model | Counting | Overall |
|:--|:--|--:|--:|
| Gen. Only | SDXL | 0.39 | 0.55 |
| Und. & Gen. | Janus-Pro-7B | **0.59** | 0.80 |
| Rewritten prompts † | BAGEL† | **0.84\\*** | **0.88** |
| Ours | **Ming_v2 @ step-10** | 0.53 [0.40, 0.66] | **0.81 [0.79, 0.84]** |

- [low, high]: 95% bootstrap confidence interval of our runs' values
- GenEval caption.
- Bold: best value in the column (rows with rewritten prompts † are ranked among themselves).
- \\* not verified against a primary source; see the row's sources.
- Ming_v2 @ step-10: geneval: --limit 5 (a subset)
- Source: [paper T1](https://example.org/t1): SDXL
- Source: [paper T4](https://example.org/t4): Janus-Pro-7B
- Source: README @ 056b5fd: BAGEL†
- Source: quote: BAGEL† (not verified)
"""
    )


def test_latex(table):
    text = render_latex.render_table(table)
    body = text[text.index(r"\begin{table}") :]
    assert (
        body
        == r"""\begin{table}[t]
\centering
\small
\caption{GenEval}
\label{tab:geneval}
\begin{tabular}{lcc}
\toprule
Model & Counting & Overall \\
\midrule
\multicolumn{3}{l}{\textit{Gen. Only}} \\
SDXL & 0.39 & 0.55 \\
\midrule
\multicolumn{3}{l}{\textit{Und. \& Gen.}} \\
Janus-Pro-7B & \textbf{0.59} & 0.80 \\
\midrule
\multicolumn{3}{l}{\textit{Rewritten prompts $^\dagger$}} \\
BAGEL$^\dagger$ & \textbf{0.84}$^*$ & \textbf{0.88} \\
\midrule
\multicolumn{3}{l}{\textit{Ours}} \\
\textbf{Ming\_v2 @ step-10} & 0.53 & \textbf{0.81} \\
\bottomrule
\end{tabular}
\end{table}
"""
    )
    assert text.startswith("% GenEval caption.\n")
    assert "% Source: paper T1 <https://example.org/t1>: SDXL" in text
    assert "% Source: quote: BAGEL† (not verified)" in text
    with_ci = render_latex.render_table(table, with_ci=True)
    assert r"\textbf{0.81}\,{\scriptsize[0.79, 0.84]}" in with_ci


def test_latex_escapes_special_characters():
    assert render_latex.escape("a_b & 50% #1 {x} ~^\\ α") == (
        r"a\_b \& 50\% \#1 \{x\} \textasciitilde{}\textasciicircum{}\textbackslash{} $\alpha$"
    )


def test_csv(table):
    lines = render_csv.render([table]).splitlines()
    assert lines[0] == (
        "table,group,row,kind,rewritten,column,value,ci_low,ci_high,n,best,verified,key,sources,comparable,judge,scale"
    )
    assert lines[5] == (
        "geneval,Rewritten prompts †,BAGEL†,baseline,1,counting,0.84,,,,1,0,x/bagel,"
        "README @ 056b5fd; quote (not verified),1,,1"
    )
    assert lines[7] == "geneval,Ours,Ming_v2 @ step-10,ours,0,counting,0.5312,0.4,0.66,80,0,1,runs/m,runs/m,1,,1"
    assert len(lines) == 9


def test_judged_table_shows_each_rows_judge_in_every_format(table):
    judged = ReportTable(
        table.spec.model_copy(update={"judged": True}),
        [
            replace(table.rows[0], judge="GPT-4.1 (unverified)"),
            replace(table.rows[-1], judge="endpoint:gpt-4.1@api.openai.com"),
            replace(table.rows[1], judge=""),
        ],
    )
    md = render_md.render_table(judged)
    assert "| Type | Model | Judge | Counting | Overall |" in md
    assert "| Gen. Only | SDXL | GPT-4.1 (unverified) | 0.39 | 0.55 |" in md
    assert "| **Ming_v2 @ step-10** | endpoint:gpt-4.1@api.openai.com |" in md
    assert "| Janus-Pro-7B | - |" in md  # a source that names no judge
    latex = render_latex.render_table(judged)
    assert r"\begin{tabular}{llcc}" in latex and r"Model & Judge & Counting & Overall \\" in latex
    assert r"SDXL & GPT-4.1 (unverified) & 0.39 & 0.55 \\" in latex
    csv_lines = render_csv.render([judged]).splitlines()
    assert csv_lines[1].startswith("geneval,Gen. Only,SDXL,") and csv_lines[1].endswith(",GPT-4.1 (unverified),1")
    html = render_html([judged], [], HtmlOptions())
    assert "<th>Judge</th>" in html and "<td>endpoint:gpt-4.1@api.openai.com</td>" in html
    console = Console(width=200, record=True)
    print_tables(console, [judged])
    text = console.export_text()
    assert "Judge" in text and "endpoint:gpt-4.1@api.openai.com" in text and "GPT-4.1 (unverified)" in text
    # a table whose layout does not say it is judged has no judge column
    assert "Judge" not in render_md.render_table(table)


def test_terminal(table):
    console = Console(width=200, record=True)
    print_tables(console, [table], with_ci=True, with_sources=True)
    text = console.export_text()
    assert "Ming_v2 @ step-10" in text and "0.81 [0.79, 0.84]" in text and "0.84*" in text
    assert "Source: README @ 056b5fd: BAGEL†" in text and "Source: paper T1 <https://example.org/t1>: SDXL" in text


def test_svg_is_well_formed_and_escapes_names():
    svg = grouped_bars(
        ["a<b", "c"],
        [Series("ours & co", [0.5, None], [0.4, None], [0.6, None]), Series("base", [0.7, 0.2], ours=False)],
        title="T & t",
        y_max=1.0,
    )
    doc = xml.dom.minidom.parseString(svg)
    assert doc.documentElement.tagName == "svg"
    assert len(doc.getElementsByTagName("rect")) == 3 + 2  # 3 bars + 2 legend swatches
    assert grouped_bars([], [], title="x") == ""


def test_html_report_has_tables_charts_and_image_grids(tmp_path: Path):
    data = replace(geneval_data(1, per_tag=1), prompts=[f"a photo of a cat {i}" for i in range(6)])
    root = write_run(tmp_path / "runs" / "ming", {"geneval": data})
    # the images of two prompts in GenEval's layout: one with its own grid.png, one without; prompts
    # and categories come from the scores, not from GenEval's metadata files
    preds = []
    for sid in ["00000", "00001"]:
        folder = root / "geneval" / "images" / sid
        (folder / "samples").mkdir(parents=True)
        for j in range(4):
            Image.new("RGB", (32, 32), (200, 10 * j, 0)).save(folder / "samples" / f"{j:04d}.png")
        if sid == "00000":
            Image.new("RGB", (64, 64)).save(folder / "grid.png")
        preds.append({"id": sid, "status": "ok", "output": [f"{sid}/samples/{j:04d}.png" for j in range(4)]})
    write_jsonl_atomic(root / "geneval" / "predictions.jsonl", preds)
    run = open_run(root)
    tables = build_report_tables([run], [])
    out = tmp_path / "site" / "index.html"
    opts = HtmlOptions(with_ci=True, out_dir=out.parent, assets_dir=tmp_path / "site" / "a")
    text = render_html(tables, [run], opts)
    assert '<tr class="ours">' in text and 'class="best"' not in text  # one row: nothing to rank
    assert '<span class="ci">[' in text
    svgs = re.findall(r"<svg.*?</svg>", text, re.S)
    assert len(svgs) == 2  # the suite comparison and "geneval by tag"
    for svg in svgs:
        xml.dom.minidom.parseString(svg)
    assert "a photo of a cat 0" in text and "a photo of a cat 1" in text
    assert "<summary>single_object: 1 prompts" in text and "<summary>two_object: 1 prompts" in text
    assert 'href="../runs/ming/geneval/images/00000/grid.png"' in text
    made = list((tmp_path / "site" / "a" / "grids").rglob("00001.png"))
    assert len(made) == 1 and Image.open(made[0]).size == (256, 256)
    assert 'href="../runs/ming/geneval/images/00001/samples/0003.png"' in text
