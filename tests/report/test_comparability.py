"""A run whose numbers are not the benchmark's as published is marked in every format and never
ranked against published rows, with the reason the run stored."""

from __future__ import annotations

import csv
import io

import pytest
from rich.console import Console

from ming_eval.report import render_csv, render_html, render_latex, render_md
from ming_eval.report.baselines import load_catalog
from ming_eval.report.leaderboard import build_leaderboard
from ming_eval.report.render_term import print_tables
from ming_eval.report.runs import open_run
from ming_eval.report.tables import build_report_tables
from tests.report.helpers import geneval_data, write_run

PERFECT = dict.fromkeys(("single_object", "two_object", "counting", "colors", "position", "color_attr"), 1.0)
REASON = "option judge='gpt-4o', not the protocol's 'gpt-4o-mini'"


@pytest.fixture()
def marked_run(tmp_path):
    path = write_run(tmp_path / "runs" / "ming", {"geneval": geneval_data(2, accuracy=PERFECT)})
    result_file = path / "geneval" / "results.json"
    run = open_run(path)
    result = run.results["geneval"]
    result.mark_not_comparable(REASON)
    result_file.write_text(__import__("json").dumps(result.to_dict()))
    return open_run(path)


def test_reason_survives_the_results_file(marked_run):
    result = marked_run.results["geneval"]
    assert not result.comparable and result.not_comparable_because == [REASON]


def test_every_format_marks_the_row_and_none_bolds_it(marked_run):
    table = next(
        t for t in build_report_tables([marked_run], load_catalog().select("paper")) if t.spec.name == "geneval"
    )
    ours = next(r for r in table.rows if r.ours)
    assert ours.label.endswith("(not comparable)") and not ours.comparable
    assert not any(c.best for c in ours.cells.values())  # a perfect score, still not ranked
    assert any(REASON in n for n in ours.notes)

    assert "(not comparable)" in render_md.render([table])
    assert "(not comparable)" in render_latex.render([table])
    assert "(not comparable)" in render_html.render([table], [marked_run])
    console = Console(width=250, record=True)
    print_tables(console, [table])
    text = console.export_text()
    assert "(not comparable)" in text and REASON in text
    rows = list(csv.DictReader(io.StringIO(render_csv.render([table]))))
    assert {r["comparable"] for r in rows if r["kind"] == "ours"} == {"0"}
    assert {r["comparable"] for r in rows if r["kind"] != "ours"} == {"1"}


def test_leaderboard_has_a_comparable_column(marked_run, tmp_path):
    write_run(tmp_path / "runs" / "other", {"geneval": geneval_data(3)})
    frame = build_leaderboard(tmp_path / "runs").frame.set_index("run")
    assert frame.loc["other", "comparable"] == "yes"
    assert frame.loc["ming", "comparable"] == f"no: geneval ({REASON})"
