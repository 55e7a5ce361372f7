"""The leaderboard over a folder of runs: discovery, columns, sorting, CSV and Parquet export."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from ming_eval.errors import MingEvalError
from ming_eval.report.leaderboard import (
    build_leaderboard,
    export,
    find_run_dirs,
    sort_leaderboard,
    to_markdown,
)
from ming_eval.report.runs import open_run
from tests.report.helpers import TaskData, geneval_data, understanding_suite, write_run

AVG_LEADERBOARD = "avg_opencompass8"


@pytest.fixture()
def runs_root(tmp_path):
    root = tmp_path / "runs"
    full = understanding_suite(1)
    full["geneval"] = geneval_data(1)
    write_run(root / "ming" / "step1000", full, checkpoint="/ck/step1000")
    write_run(root / "ming" / "step2000", understanding_suite(1, shift=0.05), checkpoint="/ck/step2000")
    write_run(root / "janus", {"geneval": geneval_data(3)}, limit=40)
    old = write_run(root / "old", {"mmstar": TaskData([1.0])})
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["format"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    (root / "notes").mkdir()
    return root


def test_finds_every_run_and_reports_unreadable_ones(runs_root):
    assert [p.relative_to(runs_root).as_posix() for p in find_run_dirs(runs_root)] == [
        "janus",
        "ming/step1000",
        "ming/step2000",
        "old",
    ]
    board = build_leaderboard(runs_root)
    assert list(board.frame["run"]) == ["janus", "ming/step1000", "ming/step2000"]
    assert [(p.name, "no 'format' key" in why) for p, why in board.skipped] == [("old", True)]


def test_columns_status_and_averages(runs_root):
    board = build_leaderboard(runs_root)
    frame = board.frame.set_index("run")
    assert frame.loc["janus", "status"] == "subset (--limit): geneval"
    assert frame.loc["ming/step1000", "status"] == "complete"
    assert frame.loc["ming/step1000", "checkpoint"] == "/ck/step1000"
    assert pd.isna(frame.loc["janus", AVG_LEADERBOARD]) and frame.loc["ming/step2000", AVG_LEADERBOARD] > 0
    assert pd.isna(frame.loc["ming/step2000", "geneval"])
    # summary columns first, broadest first; each holds the value its run's results.json stored
    assert board.metric_columns[:3] == [AVG_LEADERBOARD, "avg_7_no_ocrbench", "mmbench_v11"]
    step1000 = open_run(runs_root / "ming" / "step1000")
    for key in board.metric_columns[:3]:
        assert frame.loc["ming/step1000", key] == step1000.summaries[key].metric.value
    # the 7-column mean leaves OCRBench out: it is not the 8-benchmark average
    seven = [step1000.summaries["avg_opencompass8"].inputs[k] for k in step1000.summaries["avg_7_no_ocrbench"].inputs]
    assert frame.loc["ming/step1000", "avg_7_no_ocrbench"] == round(sum(seven) / 7, 1)
    assert frame.loc["ming/step1000", "avg_7_no_ocrbench"] != frame.loc["ming/step1000", AVG_LEADERBOARD]
    wide = build_leaderboard(runs_root, wide=True)
    assert "geneval:counting" in wide.frame.columns


def test_sorting(runs_root):
    board = build_leaderboard(runs_root)
    by_geneval = sort_leaderboard(board, "genev")
    assert list(by_geneval.frame["run"])[-1] == "ming/step2000"  # NaN last
    assert by_geneval.frame["geneval"].iloc[0] >= by_geneval.frame["geneval"].iloc[1]
    asc = sort_leaderboard(board, "avg_open", ascending=True)
    assert list(asc.frame["run"])[:2] == ["ming/step1000", "ming/step2000"]
    with pytest.raises(MingEvalError, match="ambiguous"):
        sort_leaderboard(board, "avg")
    with pytest.raises(MingEvalError, match="no such column"):
        sort_leaderboard(board, "bleu")


def test_csv_and_parquet_round_trip(runs_root, tmp_path):
    board = build_leaderboard(runs_root)
    export(board, tmp_path / "b.csv", "csv")
    export(board, tmp_path / "out" / "b.parquet", "parquet")
    from_csv = pd.read_csv(tmp_path / "b.csv")
    from_parquet = pd.read_parquet(tmp_path / "out" / "b.parquet")
    assert list(from_csv.columns) == list(board.frame.columns) == list(from_parquet.columns)
    assert from_parquet["mmstar"].tolist() == pytest.approx(board.frame["mmstar"].tolist(), nan_ok=True)


def test_markdown(runs_root):
    text = to_markdown(sort_leaderboard(build_leaderboard(runs_root), "run", ascending=True), ["run", "geneval"])
    assert text.splitlines()[:2] == ["| run | geneval |", "|:--|--:|"]
    assert re.fullmatch(r"\| janus \| 0\.\d\d \|", text.splitlines()[2])
    assert text.splitlines()[-1] == "| ming/step2000 | - |"


def test_not_a_directory(tmp_path):
    with pytest.raises(MingEvalError, match="is not a directory"):
        build_leaderboard(tmp_path / "nothing")


def test_the_judge_of_each_judged_task_is_a_column(tmp_path):
    root = tmp_path / "runs"
    run = write_run(root / "judged", {"geneval": geneval_data(1), "mmstar": TaskData([1.0])})
    stored = json.loads((run / "geneval" / "results.json").read_text())
    stored["judge"] = "endpoint:gpt-4.1@api.example"
    (run / "geneval" / "results.json").write_text(json.dumps(stored))
    write_run(root / "plain", {"mmstar": TaskData([1.0])})
    frame = build_leaderboard(root).frame.set_index("run")
    assert frame.loc["judged", "judge"] == "geneval: endpoint:gpt-4.1@api.example"
    assert frame.loc["plain", "judge"] == ""
    assert "| geneval: endpoint:gpt-4.1@api.example |" in to_markdown(build_leaderboard(root))
