"""Filling table layouts from runs and baselines: columns, scales, best values, daggers, notes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from ming_eval.errors import CardError
from ming_eval.report import render_md
from ming_eval.report.baselines import load_catalog
from ming_eval.report.runs import open_run, open_runs
from ming_eval.report.tables import (
    OURS_GROUP,
    REWRITTEN_GROUP,
    build_report_tables,
    load_table_specs,
)
from tests.report.helpers import TaskData, geneval_data, understanding_suite, write_run


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _by_name(tables):
    return {t.spec.name: t for t in tables}


def test_understanding_and_geneval_tables_from_one_run(tmp_path, catalog):
    data = understanding_suite(1)
    data["geneval"] = geneval_data(2)
    run = open_run(write_run(tmp_path / "run", data))
    tables = _by_name(build_report_tables([run], catalog.select("paper")))
    assert set(tables) == {"understanding", "geneval"}
    und = tables["understanding"]
    ours = [r for r in und.rows if r.ours]
    assert len(ours) == 1 and ours[0].group == OURS_GROUP and und.rows[-1] is ours[0]
    # Avg. is the OpenCompass 8-benchmark average the run stored, rounded as the leaderboard rounds
    assert ours[0].cells["avg"].value == run.summaries["avg_opencompass8"].metric.value
    assert ours[0].cells["avg"].value == round(ours[0].cells["avg"].value, 1)
    # MMB is the measured mean of the v1.1 test EN and CN halves (not rounded)
    en = run.results["mmbench_test_en_v11"].primary_metric.value
    cn = run.results["mmbench_test_cn_v11"].primary_metric.value
    assert ours[0].cells["mmb"].value == pytest.approx((en + cn) / 2)
    assert ours[0].cells["mmb"].source == "mmbench_test_en_v11 + mmbench_test_cn_v11"
    gen = next(r for r in tables["geneval"].rows if r.ours)
    assert gen.cells["overall"].value == pytest.approx(run.results["geneval"].metrics["overall"].value)
    assert gen.cells["counting"].ci_low is not None


def test_best_value_per_column_is_marked_and_ties_share_it(tmp_path, catalog):
    run = open_run(write_run(tmp_path / "run", {"geneval": geneval_data(2)}))
    table = _by_name(build_report_tables([run], catalog.select("paper")))["geneval"]
    best = {c.key: [r.label for r in table.rows if r.cells[c.key].best] for c in table.columns}
    assert best["overall"] == ["SD3-Medium"]
    assert best["colors"] == ["SD3-Medium", "Janus-Pro-1B"]  # both 0.89


def test_rewritten_rows_are_apart_and_ranked_among_themselves(tmp_path, catalog):
    run = open_run(write_run(tmp_path / "run", {"geneval": geneval_data(2)}))
    table = _by_name(build_report_tables([run], catalog.select("bagel")))["geneval"]
    groups = [g for g, _ in table.groups()]
    assert groups.index(REWRITTEN_GROUP) == len(groups) - 2 and groups[-1] == OURS_GROUP
    originals = [r for r in table.rows if not r.rewritten]
    rewritten = [r for r in table.rows if r.rewritten]
    assert [r.label for r in rewritten if r.cells["overall"].best] == ["BAGEL†"]
    assert [r.label for r in originals if r.cells["overall"].best] == ["BAGEL"]
    assert {r.label for r in rewritten} == {"BAGEL†", "FLUX.1-dev†", "Emu3-Gen†"}
    assert not table.rows[0].cells["counting"].verified  # BAGEL's per-tag numbers are secondary


def test_our_run_with_rewritten_prompts_gets_a_dagger(tmp_path, catalog):
    # the task of tasks/geneval_rewritten.yaml: GenEvalTask with the option prompt_set "rewritten"
    data = replace(geneval_data(2), options={"prompt_set": "rewritten"})
    run = open_run(write_run(tmp_path / "run", {"geneval_rewritten": data}))
    tables = _by_name(build_report_tables([run], catalog.select("none")))
    assert set(tables) == {"geneval"}
    assert [r.label for r in tables["geneval"].rows] == ["Ming-Lite-Uni†"] and tables["geneval"].rows[0].rewritten


def test_a_run_of_both_prompt_sets_gets_a_row_for_each(tmp_path, catalog):
    rewritten = replace(geneval_data(3), options={"prompt_set": "rewritten"})
    run = open_run(write_run(tmp_path / "run", {"geneval": geneval_data(2), "geneval_rewritten": rewritten}))
    table = _by_name(build_report_tables([run], catalog.select("paper")))["geneval"]
    ours = {r.label: r for r in table.rows if r.ours}
    # labelled apart from the paper's "Ming-Lite-Uni (published)" row, the dagger after the name
    plain, dagger = f"Ming-Lite-Uni (this run: {run.path})", f"Ming-Lite-Uni† (this run: {run.path})"
    assert set(ours) == {plain, dagger}
    assert not ours[plain].rewritten and ours[dagger].rewritten
    for label, task in ((plain, "geneval"), (dagger, "geneval_rewritten")):
        assert ours[label].cells["overall"].value == pytest.approx(run.results[task].metrics["overall"].value)


def test_partial_suite_leaves_cells_and_average_blank(tmp_path, catalog):
    data = {k: v for k, v in understanding_suite(1).items() if k != "ocrbench"}
    run = open_run(write_run(tmp_path / "run", data))
    ours = next(r for r in _by_name(build_report_tables([run], []))["understanding"].rows if r.ours)
    assert ours.cells["avg"].empty  # OCRBench missing: no 8-benchmark average
    assert not ours.cells["mms"].empty


def test_values_are_converted_to_the_tables_scale(tmp_path):
    specs_dir = tmp_path / "tables"
    specs_dir.mkdir()
    (specs_dir / "pct.yaml").write_text(
        yaml.safe_dump(
            {
                "format": "ming-eval-table/1",
                "name": "pct",
                "title": "GenEval in percent",
                "scale": 100,
                "digits": 1,
                "columns": [
                    {"key": "overall", "label": "Overall", "tasks": ["geneval"], "metric": "overall"},
                    {"key": "count", "label": "Counting", "tasks": ["geneval"], "metric": "counting"},
                ],
            }
        )
    )
    run = open_run(write_run(tmp_path / "run", {"geneval": geneval_data(2)}))
    (table,) = [t for t in build_report_tables([run], [], load_table_specs(specs_dir)) if t.spec.name == "pct"]
    m = run.results["geneval"].metrics["overall"]
    assert table.rows[0].cells["overall"].value == pytest.approx(m.value * 100)
    assert table.rows[0].cells["overall"].ci_high == pytest.approx(m.ci_high * 100)


def test_notes_for_subsets_failures_and_missing_tasks(tmp_path):
    data = TaskData([1.0, 0.0, 0.0, 1.0], statuses=["ok", "inference_failed", "ok", "ok"])
    root = write_run(
        tmp_path / "run", {"mmstar": data, "ai2d_test": TaskData([1.0])}, limit=4, skip_results=("ai2d_test",)
    )
    run = open_run(root)
    run.results["mmstar"].counts["inference_failed"] = 1
    table = _by_name(build_report_tables([run], []))["understanding"]
    notes = table.rows[0].notes
    assert "mmstar: --limit 4 (a subset; not comparable to published numbers)" in notes
    assert "mmstar: 1 of 4 samples failed and count as wrong" in notes
    assert any(n.startswith("ai2d_test: no results (scores but no results.json") for n in notes)


def test_tasks_no_layout_covers_get_their_own_table(tmp_path):
    a = write_run(tmp_path / "a", {"color_vqa": TaskData([1.0, 1.0, 0.0]), "mmstar": TaskData([1.0])})
    b = write_run(tmp_path / "b", {"color_vqa": TaskData([1.0, 0.0, 0.0])})
    tables = _by_name(build_report_tables(open_runs([a, b]), []))
    other = tables["other"]
    assert [c.label for c in other.columns] == ["color_vqa (overall)"]
    assert [r.cells["color_vqa"].best for r in other.rows] == [True, False]


def test_runs_alone_make_a_table_baselines_alone_do_not(tmp_path, catalog):
    run = open_run(write_run(tmp_path / "run", {"mmstar": TaskData([1.0, 0.0])}))
    assert set(_by_name(build_report_tables([run], catalog.select("all")))) == {"understanding"}


def test_a_baseline_with_a_column_the_table_lacks_is_refused(tmp_path, catalog):
    path = tmp_path / "b.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "format": "ming-eval-baselines/1",
                "set": "lab",
                "sources": {"s": {"kind": "page", "url": "https://x"}},
                "entries": [
                    {
                        "key": "lab/geneval/x",
                        "model": "X",
                        "table": "geneval",
                        "values": {"dpg": 80.0},
                        "from": [{"source": "s", "verified": True}],
                    }
                ],
            }
        )
    )
    run = open_run(write_run(tmp_path / "run", {"geneval": geneval_data(1)}))
    with pytest.raises(CardError, match="has values for \\['dpg'\\]"):
        build_report_tables([run], catalog.select(str(path)))


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (
            {"key": "x", "label": "X", "summary": "mmbench_v11", "tasks": ["mmstar"], "metric": "overall"},
            "exactly one of",
        ),
        ({"key": "x", "label": "X", "tasks": ["mmstar"]}, "names tasks but no metric"),
        ({"key": "x", "label": "X", "summary": "avg_8"}, "names summary 'avg_8', which no suite card declares; known"),
    ],
)
def test_bad_table_layouts_are_refused(tmp_path: Path, column, message):
    (tmp_path / "t.yaml").write_text(
        yaml.safe_dump(
            {
                "format": "ming-eval-table/1",
                "name": "t",
                "title": "T",
                "scale": 100,
                "digits": 1,
                "columns": [column],
            }
        )
    )
    with pytest.raises(CardError, match=message):
        load_table_specs(tmp_path)


def test_results_not_comparable_are_shown_but_never_ranked(tmp_path, catalog):
    perfect = geneval_data(
        2, accuracy=dict.fromkeys(("single_object", "two_object", "counting", "colors", "position", "color_attr"), 1.0)
    )
    run = open_run(write_run(tmp_path / "run", {"geneval": perfect}))
    result = run.results["geneval"]
    result.comparable = False  # as the GenEval task reports a custom prompt set
    result.notes.append("custom prompt set: not comparable with published GenEval numbers")
    table = _by_name(build_report_tables([run], catalog.select("paper")))["geneval"]
    ours = next(r for r in table.rows if r.ours)
    assert ours.cells["overall"].value == pytest.approx(1.0) and not ours.cells["overall"].best
    assert [r.label for r in table.rows if r.cells["overall"].best] == ["SD3-Medium"]
    assert any("custom prompt set" in n for n in ours.notes)


def test_judged_tables_name_the_judge_of_our_rows_and_of_baselines(tmp_path, catalog):
    """The judge is stored in results.json and shown next to the numbers; a run judged by another
    model than the protocol's stays not comparable and unranked."""
    root = write_run(tmp_path / "run", {"geneval": geneval_data(2)})
    stored = json.loads((root / "geneval" / "results.json").read_text())
    stored["judge"] = "endpoint:gpt-4o-2024-05-13@api.example"
    (root / "geneval" / "results.json").write_text(json.dumps(stored))
    other = write_run(tmp_path / "other", {"geneval": geneval_data(2)})
    stored = json.loads((other / "geneval" / "results.json").read_text())
    stored |= {"judge": "endpoint:qwen2.5-vl-72b@local", "comparable": False}
    stored["not_comparable_because"] = ["judge endpoint:qwen2.5-vl-72b@local, not the card's gpt-4o-2024-05-13"]
    (other / "geneval" / "results.json").write_text(json.dumps(stored))
    path = tmp_path / "b.yaml"
    entry = {
        "key": "judgelab/geneval/x",
        "model": "X",
        "table": "geneval",
        "values": {"overall": 0.9},
        "from": [{"source": "s", "verified": True}],
        "judge": "GPT-4o-2024-05-13",
    }
    path.write_text(
        yaml.safe_dump(
            {
                "format": "ming-eval-baselines/1",
                "set": "judgelab",
                "sources": {"s": {"kind": "page", "url": "https://x"}},
                "entries": [entry],
            }
        )
    )
    spec = next(s for s in load_table_specs() if s.name == "geneval").model_copy(update={"judged": True})
    runs = [open_run(root, label="ours"), open_run(other, label="qwen")]
    assert runs[0].results["geneval"].judge == "endpoint:gpt-4o-2024-05-13@api.example"
    table = build_report_tables(runs, catalog.select(str(path)), [spec])[0]
    text = render_md.render_table(table)
    assert "| Published | X | GPT-4o-2024-05-13 |" in text
    assert "| Ours | **ours** | endpoint:gpt-4o-2024-05-13@api.example |" in text
    assert "| | **qwen (not comparable)** | endpoint:qwen2.5-vl-72b@local |" in text.replace("|  |", "| |")
    qwen = next(r for r in table.rows if r.label.startswith("qwen"))
    assert not qwen.comparable and not any(c.best for c in qwen.cells.values())


def test_an_interval_with_a_non_finite_end_is_not_shown():
    from ming_eval.report.tables import Cell

    assert Cell(0.5, 0.4, 0.6).text(2, with_ci=True) == "0.50 [0.40, 0.60]"
    for low, high in ((0.4, float("nan")), (float("nan"), 0.6), (0.4, float("inf")), (None, 0.6)):
        assert Cell(0.5, low, high).text(2, with_ci=True) == "0.50"
