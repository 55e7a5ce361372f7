"""``ming-eval report`` and ``ming-eval leaderboard`` through the command line."""

from __future__ import annotations

import pandas as pd
import pytest

from ming_eval.runner.evaluate import RunConfig, evaluate
from tests.cli.test_cli import run_cli
from tests.report.helpers import TaskData, geneval_data, understanding_suite, write_run


@pytest.fixture()
def run_dir(tmp_path):
    data = understanding_suite(1)
    data["geneval"] = geneval_data(2)
    return write_run(tmp_path / "runs" / "ming", data)


def test_report_terminal_with_paper_baselines(run_dir, capsys):
    code, text = run_cli(["report", str(run_dir), "--ci"], capsys)
    assert code == 0, text
    assert "Multimodal understanding" in text and "GenEval" in text
    assert "LLaVA-72B" in text and "Ming-Lite-Uni (published)" in text and "95% bootstrap" in text


@pytest.mark.parametrize(
    ("fmt", "marker"),
    [("md", "### GenEval"), ("latex", r"\begin{tabular}"), ("csv", "table,group,row"), ("html", "<!DOCTYPE html>")],
)
def test_report_formats_to_stdout_and_file(run_dir, tmp_path, capsys, fmt, marker):
    code, text = run_cli(["report", str(run_dir), "-f", fmt, "-b", "none"], capsys)
    assert code == 0 and marker in text
    out = tmp_path / "out" / f"report.{fmt}"
    code, _ = run_cli(["report", str(run_dir), "-f", fmt, "--out", str(out)], capsys)
    assert code == 0 and marker in out.read_text()


def test_report_only_some_tables_and_labels(run_dir, capsys):
    code, text = run_cli(
        ["report", str(run_dir), "-f", "md", "-t", "geneval", "-l", "Ours-step42", "-b", "none"], capsys
    )
    assert code == 0 and "Multimodal understanding" not in text and "**Ours-step42**" in text


def test_unknown_baseline_key_exits_2_with_a_suggestion(run_dir, capsys):
    code, text = run_cli(["report", str(run_dir), "--baselines", "paper,bagle"], capsys)
    assert code == 2
    assert "unknown baseline 'bagle'" in text and "did you mean 'bagel'" in text


def test_incomplete_and_foreign_runs(run_dir, tmp_path, capsys):
    partial = write_run(
        tmp_path / "partial", {"mmstar": TaskData([1.0, 0.0]), "mmvet": TaskData([0.5])}, skip_results=("mmvet",)
    )
    code, text = run_cli(["report", str(partial), "-f", "md", "-b", "none"], capsys)
    assert code == 0 and "task mmvet has no results (scores but no results.json" in text
    code, text = run_cli(["report", str(tmp_path)], capsys)
    assert code == 2 and "is not a ming-eval run: it has no manifest.json" in text


def test_list_baselines(capsys):
    code, text = run_cli(["report", "--list-baselines"], capsys)
    assert code == 0 and "bagel/geneval/bagel-rewritten" in text and "janus-pro/geneval/janus-pro-7b" in text


def test_report_of_an_engine_run(engine_cards, tmp_path, capsys):
    evaluate(RunConfig(tasks=["color_vqa"], model="pixel", out=tmp_path / "run", argv=["test"], limit=8))
    code, text = run_cli(["report", str(tmp_path / "run"), "-f", "md"], capsys)
    assert code == 0, text
    assert "### Other tasks" in text and "color_vqa (accuracy)" in text
    assert "--limit 8 (a subset; not comparable to published numbers)" in text


def test_leaderboard_exports(run_dir, tmp_path, capsys):
    write_run(tmp_path / "runs" / "ming-2", {"geneval": geneval_data(5)}, checkpoint="/ck/2")
    csv, parquet = tmp_path / "b.csv", tmp_path / "b.parquet"
    code, text = run_cli(
        ["leaderboard", str(tmp_path / "runs"), "--sort", "geneval", "--csv", str(csv), "--parquet", str(parquet)],
        capsys,
    )
    assert code == 0, text
    assert "avg_opencompass8" in text and "ming-2" in text
    assert pd.read_parquet(parquet)["run"].tolist() == pd.read_csv(csv)["run"].tolist()
    code, text = run_cli(["leaderboard", str(tmp_path / "runs"), "-f", "md", "-s", "mmstar"], capsys)
    assert code == 0 and text.startswith("| run | model |")
    code, text = run_cli(["leaderboard", str(tmp_path / "runs"), "-s", "nope"], capsys)
    assert code == 2 and "cannot sort by 'nope'" in text


def test_more_labels_than_runs_is_refused_naming_both_counts(run_dir, capsys):
    code, text = run_cli(["report", str(run_dir), "-f", "md", "-b", "none", "-l", "A", "-l", "B", "-l", "C"], capsys)
    assert code == 2
    assert "3 --label values for 1 run(s)" in text and "drop the last 2 --label value(s)" in text
    assert "###" not in text  # no table is printed with labels that name no run


def test_fewer_labels_than_runs_label_the_first_runs_and_keep_the_others_defaults(run_dir, tmp_path, capsys):
    other = write_run(tmp_path / "runs" / "janus", {"geneval": geneval_data(3)})
    code, text = run_cli(
        ["report", str(run_dir), str(other), "-f", "md", "-t", "geneval", "-b", "none", "-l", "Ours"], capsys
    )
    assert code == 0, text
    assert "**Ours**" in text and "**Ming-Lite-Uni**" in text  # the second run keeps its default label


def test_a_runs_own_file_instead_of_the_run_folder_names_the_folder(run_dir, tmp_path, capsys):
    for inside in (run_dir / "results.json", run_dir / "manifest.json", run_dir / "geneval" / "results.json"):
        code, text = run_cli(["report", str(inside)], capsys)
        assert code == 2, text
        assert (
            f"{inside} is a file, not a run folder" in text and f"pass the run folder it belongs to: {run_dir}" in text
        )
        assert "does not exist" not in text
    other = tmp_path / "notes.txt"
    other.write_text("x")
    code, text = run_cli(["report", str(other)], capsys)
    assert code == 2 and f"{other} is a file, not a run folder" in text and "`ming-eval run --out`" in text
    # compare reads runs the same way
    code, text = run_cli(["compare", str(run_dir), str(run_dir / "results.json")], capsys)
    assert code == 2 and f"pass the run folder it belongs to: {run_dir}" in text


def test_leaderboard_of_a_file_says_what_it_is_and_what_it_reads(run_dir, tmp_path, capsys):
    code, text = run_cli(["leaderboard", str(run_dir / "manifest.json")], capsys)
    assert code == 2
    assert (
        "is a file, not a folder of run directories" in text and f"pass the run folder it belongs to: {run_dir}" in text
    )
    code, text = run_cli(["leaderboard", str(tmp_path / "nothing")], capsys)
    assert code == 2 and "does not exist" in text
