"""Suite summaries end to end: `run` computes them into results.json and prints them; `report` and
`leaderboard` show what results.json holds; a run written before summaries were stored still reports.

The per-task results are Ming-Lite-Uni's row of its paper's Table 2 (arXiv:2505.02471; the README
table in reports/baselines/ming_lite_uni.yaml): MMB 80.7, MMS 60.5, MMMU 51.2, MathV 68.3, Hall 51.8,
AI2D 84.5, MM-Vet 72.3. The table does not show OCRBench; its "Avg." 69.7 is the leaderboard's
8-benchmark average, which needs OCRBench / 10 = 8 * 69.7 - (sum of the seven) = 88.3 (the range
557.2 to 557.99 allows 87.9 to 88.6). The seven columns alone average 67.0.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml

from ming_eval import load_run
from ming_eval.cards import loader
from tests.cli.test_cli import run_cli

PAPER_ROW = {
    "mmbench_test_en_v11": 80.7,  # MMB = the mean of the English and Chinese test splits
    "mmbench_test_cn_v11": 80.7,
    "mmstar": 60.5,
    "mmmu_dev_val": 51.2,
    "mathvista_mini": 68.3,
    "ocrbench": 88.3,
    "ai2d_test": 84.5,
    "hallusionbench": 51.8,
    "mmvet": 72.3,
}


@pytest.fixture()
def paper_cards(tmp_path, monkeypatch):
    """Cards named as the leaderboard's tasks (they shadow the built-in ones) that score the paper's row."""
    root = tmp_path / "cards"
    (root / "tasks").mkdir(parents=True)
    (root / "model_zoo").mkdir()
    for name, value in PAPER_ROW.items():
        card = {
            "name": name,
            "class": "tests.cli.summary_plugins:FixedScoreTask",
            "capability": "understand",
            "options": {"value": value},
        }
        (root / "tasks" / f"{name}.yaml").write_text(yaml.safe_dump(card))
    model = {"name": "ming-row", "class": "tests.cli.summary_plugins:AnyModel", "capabilities": ["understand"]}
    (root / "model_zoo" / "ming-row.yaml").write_text(yaml.safe_dump(model))
    monkeypatch.setenv("MING_EVAL_CARDS_PATH", str(root))
    monkeypatch.setattr(loader, "_INDEX", None)
    return root


def _report_csv(run_dir, tmp_path, capsys) -> dict[str, float]:
    out = tmp_path / f"report-{run_dir.name}.csv"
    code, text = run_cli(
        ["report", str(run_dir), "-f", "csv", "-t", "understanding", "-b", "none", "--out", str(out)], capsys
    )
    assert code == 0, text
    rows = csv.DictReader(io.StringIO(out.read_text()))
    return {r["column"]: float(r["value"]) for r in rows if r["kind"] == "ours"}


def _leaderboard(root, tmp_path, capsys) -> dict[str, float]:
    out = tmp_path / "board.csv"
    code, text = run_cli(["leaderboard", str(root), "--csv", str(out)], capsys)
    assert code == 0, text
    (row,) = list(csv.DictReader(io.StringIO(out.read_text())))
    return {k: float(v) for k, v in row.items() if k.startswith(("avg_", "mmbench_v11"))}


def test_paper_row_gives_69_7_and_67_0_from_run_to_report_and_leaderboard(paper_cards, tmp_path, capsys):
    run_dir = tmp_path / "runs" / "ming"
    code, text = run_cli(["run", "opencompass-leaderboard", "-m", "ming-row", "--out", str(run_dir)], capsys)
    assert code == 0, text
    # `run` prints the summaries it stored
    assert "(avg_opencompass8): 69.7" in text and "(avg_7_no_ocrbench): 67.0" in text

    stored = json.loads((run_dir / "results.json").read_text())["summaries"]
    assert stored["avg_opencompass8"]["metric"]["value"] == 69.7
    assert stored["avg_7_no_ocrbench"]["metric"]["value"] == 67.0
    assert stored["mmbench_v11"]["metric"]["value"] == pytest.approx(80.7)
    assert stored["avg_opencompass8"]["inputs"]["ocrbench"] == 88.3  # final score 883 / 10
    assert load_run(run_dir).summaries["avg_7_no_ocrbench"].metric.value == 67.0  # the Python API

    cells = _report_csv(run_dir, tmp_path, capsys)
    assert cells["avg"] == 69.7 and cells["mmb"] == pytest.approx(80.7) and cells["mms"] == pytest.approx(60.5)

    board = _leaderboard(tmp_path / "runs", tmp_path, capsys)
    assert board == {"avg_opencompass8": 69.7, "avg_7_no_ocrbench": 67.0, "mmbench_v11": pytest.approx(80.7)}

    # the same numbers when the summaries are stored under changed suite cards: results.json is the
    # source, the cards are read only for runs that predate stored summaries
    data = json.loads((run_dir / "results.json").read_text())
    data["summaries"]["avg_opencompass8"]["metric"]["value"] = 12.3
    (run_dir / "results.json").write_text(json.dumps(data))
    assert _report_csv(run_dir, tmp_path, capsys)["avg"] == 12.3
    assert _leaderboard(tmp_path / "runs", tmp_path, capsys)["avg_opencompass8"] == 12.3


def test_a_run_from_before_stored_summaries_still_reports_them(paper_cards, tmp_path, capsys):
    run_dir = tmp_path / "runs" / "old"
    code, text = run_cli(["run", "opencompass-leaderboard", "-m", "ming-row", "--out", str(run_dir)], capsys)
    assert code == 0, text
    data = json.loads((run_dir / "results.json").read_text())
    del data["summaries"]  # as ming-eval wrote results.json before this change
    (run_dir / "results.json").write_text(json.dumps(data))

    # computed at read time from the suite cards, by the function the runner uses
    cells = _report_csv(run_dir, tmp_path, capsys)
    assert cells["avg"] == 69.7
    board = _leaderboard(tmp_path / "runs", tmp_path, capsys)
    assert board["avg_opencompass8"] == 69.7 and board["avg_7_no_ocrbench"] == 67.0

    # `ming-eval score` writes them into results.json (scores are reused: nothing is re-scored)
    code, text = run_cli(["score", str(run_dir)], capsys)
    assert code == 0, text
    stored = json.loads((run_dir / "results.json").read_text())["summaries"]
    assert stored["avg_opencompass8"]["metric"]["value"] == 69.7


def test_summaries_cover_the_whole_run_directory(paper_cards, tmp_path, capsys):
    """Tasks run by separate invocations into one directory add up to the suite's summaries."""
    run_dir = tmp_path / "runs" / "split"
    first = ["mmbench", "mmstar", "mmmu", "mathvista"]
    code, text = run_cli(["run", *first, "-m", "ming-row", "--out", str(run_dir)], capsys)
    assert code == 0, text
    assert set(json.loads((run_dir / "results.json").read_text())["summaries"]) == {"mmbench_v11"}
    code, text = run_cli(
        ["run", "ocrbench", "ai2d", "hallusionbench", "mmvet", "-m", "ming-row", "--out", str(run_dir)], capsys
    )
    assert code == 0, text
    assert "(avg_opencompass8): 69.7" in text


def test_a_summary_that_cannot_resolve_stops_the_run_before_any_work(paper_cards, tmp_path, capsys):
    (paper_cards / "tasks" / "pair.yaml").write_text(yaml.safe_dump({"name": "pair", "tasks": ["mmstar", "mmmu"]}))
    bad = {"name": "outer", "tasks": ["pair", "ocrbench"], "summaries": [{"key": "avg_outer", "label": "A"}]}
    (paper_cards / "tasks" / "outer.yaml").write_text(yaml.safe_dump(bad))
    loader._INDEX = None
    out = tmp_path / "runs" / "x"
    code, text = run_cli(["run", "mmstar", "-m", "ming-row", "--out", str(out)], capsys)
    assert code == 2 and "member 'pair' is a suite of 2 entries that declares no summary" in text
    assert not (out / "mmstar").exists()
