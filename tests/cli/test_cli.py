"""The command line, in process (fast) and once through a real subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ming_eval.cli.app import app, main
from tests.conftest import REPO_ROOT


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
        raise SystemExit(0)
    out = capsys.readouterr()
    return exc.value.code or 0, " ".join((out.out + out.err).split())  # undo rich's line wrapping


COMMANDS = [
    ["run"],
    ["score"],
    ["report"],
    ["leaderboard"],
    ["compare"],
    ["list", "tasks"],
    ["list", "models"],
    ["data", "download"],
    ["data", "verify"],
    ["doctor"],
    ["selftest"],
    ["geneval", "convert-detector"],
    ["geneval", "download-detector"],
    ["mplug", "convert"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_every_command_help_shows_an_example(command, capsys):
    code, text = run_cli([*command, "--help"], capsys)
    assert code == 0
    assert "Examples" in text and "ming-eval" in text


def test_every_registered_command_is_covered():
    main_names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert main_names == {c[0] for c in COMMANDS}


def test_run_then_rescore_in_process(engine_cards, tmp_path, capsys):
    out = tmp_path / "run"
    code, text = run_cli(["run", "color_vqa", "paint", "-m", "pixel", "--out", str(out), "--breakdowns"], capsys)
    assert code == 0, text
    assert "color_vqa" in text and "accuracy" in text and "95% CI" in text and "category" in text
    code, text = run_cli(["score", str(out), "-o", "color_vqa.lowercase=false"], capsys)
    assert code == 0, text
    assert "scores of" in text


def test_unknown_task_suggests(engine_cards, capsys):
    code, text = run_cli(["run", "colr_vqa", "-m", "pixel"], capsys)
    assert code == 2
    assert "unknown task 'colr_vqa'" in text and "did you mean 'color_vqa'" in text


def test_unknown_model_suggests(engine_cards, capsys):
    code, text = run_cli(["run", "color_vqa", "-m", "pixle"], capsys)
    assert code == 2 and "did you mean 'pixel'" in text


def test_bad_option_syntax(engine_cards, capsys):
    code, text = run_cli(["run", "color_vqa", "-m", "pixel", "-o", "nodot=1"], capsys)
    assert code == 2 and "TASK.OPTION=VALUE" in text


def test_unwritable_out(engine_cards, tmp_path, capsys):
    blocker = tmp_path / "f"
    blocker.write_text("")
    code, text = run_cli(["run", "color_vqa", "-m", "pixel", "--out", str(blocker / "x")], capsys)
    assert code == 2 and "cannot write to the output directory" in text and "--out" in text


def test_score_needs_a_run_dir(engine_cards, tmp_path, capsys):
    code, text = run_cli(["score", str(tmp_path)], capsys)
    assert code == 2 and "not a run directory" in text


def test_list(engine_cards, capsys):
    code, text = run_cli(["list", "tasks"], capsys)
    assert code == 0 and "color_vqa" in text and "paint" in text
    code, text = run_cli(["list", "models"], capsys)
    assert code == 0 and "pixel" in text


def test_data_download_and_verify(engine_cards, tmp_path, monkeypatch, capsys):
    """A file:// URL exercises the real download path offline; the checksum is enforced."""
    import hashlib

    import yaml

    from ming_eval.cards import loader

    src = tmp_path / "remote.jsonl"
    src.write_text('{"index": 0, "prompt": "a red square", "color": "red"}\n')
    card_path = engine_cards / "tasks" / "paint.yaml"
    card = yaml.safe_load(card_path.read_text())
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    card["data"] = [{"name": "remote.jsonl", "url": src.as_uri(), "sha256": digest}]
    card_path.write_text(yaml.safe_dump(card))
    loader._INDEX = None
    code, text = run_cli(["data", "verify", "paint"], capsys)
    assert code == 1 and "missing" in text
    code, text = run_cli(["data", "download", "paint"], capsys)  # offline mode blocks it
    assert code == 2 and "offline mode is on" in text
    monkeypatch.setenv("MING_EVAL_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    code, text = run_cli(["data", "download", "paint"], capsys)
    assert code == 0 and "remote.jsonl" in text
    code, text = run_cli(["data", "verify", "paint"], capsys)
    assert code == 0 and "verified" in text
    cached = Path(os.environ["MING_EVAL_CACHE"]) / "data" / "paint" / "remote.jsonl"
    cached.write_text("tampered")
    code, text = run_cli(["data", "verify", "paint"], capsys)
    assert code == 1 and "checksum mismatch" in text


def test_doctor_reports_unreachable_judge(monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    code, text = run_cli(["doctor", "--judge-timeout", "1"], capsys)
    assert code == 0
    assert "torch" in text and "extra 'geneval'" in text and "unreachable" in text


def test_console_script_end_to_end(engine_cards, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "ming_eval", "run", "color_vqa", "--model", "pixel", "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "results.json").read_text())["tasks"]["color_vqa"]["counts"]["n"] == 24
