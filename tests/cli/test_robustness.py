"""What a user hits by mistake ends in a one-line error with the way out, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.cli.test_cli import run_cli


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        ("cuda", "no CUDA device is available"),
        ("cuda:0", "no CUDA device is available"),
        ("gpu", "did you mean 'cuda'?"),
        ("cdua", "did you mean 'cuda'?"),
        ("cpu:1", "the CPU has no index"),
        ("cuda:x", "is not a device"),
    ],
)
def test_unusable_device_is_refused_before_anything_loads(
    device: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "run"
    for command in (["run", "geneval", "--model", "ming-lite-uni"], ["score", str(tmp_path)]):
        code, text = run_cli([*command, "--device", device, "--out", str(out)], capsys)
        assert code == 2, text
        assert expected in text and "Traceback" not in text
    assert not out.exists()  # refused before the run directory, the data or the model


def test_device_index_beyond_the_machine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    code, text = run_cli(["run", "geneval", "--model", "ming-lite-uni", "--device", "cuda:2"], capsys)
    assert code == 2 and "has 2 cuda device(s), numbered 0 to 1" in text


def test_full_disk_anywhere_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that no atomic helper wraps (a third-party library's, say) still ends without a traceback."""
    import errno

    from ming_eval.runner import rescore

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "scores.jsonl"))

    monkeypatch.setattr(rescore, "rescore", full)
    (tmp_path / "manifest.json").write_text("{}")
    code, text = run_cli(["score", str(tmp_path)], capsys)
    assert code == 2 and "Traceback" not in text
    assert f"cannot write {tmp_path / 'scores.jsonl'}: no space left on the device" in text


def test_long_paths_and_urls_are_never_broken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copy-pasting a URL or path out of an error works: the line is left to the terminal to wrap."""
    from ming_eval.cli.app import main
    from ming_eval.errors import DataError
    from ming_eval.runner import rescore

    url = "https://download.example.org/" + "/".join(["a-rather-long-folder-name"] * 6) + "/file.tsv"

    def fail(*args: object, **kwargs: object) -> None:
        raise DataError(f"could not download {url}", hint=f"download {url} by hand")

    monkeypatch.setattr(rescore, "rescore", fail)
    monkeypatch.setenv("COLUMNS", "60")
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(SystemExit):
        main(["score", str(tmp_path)])
    err = capsys.readouterr().err
    assert err.count(url) == 2


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib import metadata

    import ming_eval

    code, text = run_cli(["--version"], capsys)
    assert code == 0 and text == f"ming-eval {ming_eval.__version__}"
    assert ming_eval.__version__ == metadata.version("ming-eval")  # one version: the package's


def test_one_meaning_of_failed_in_every_table() -> None:
    """The terminal tables (run, score, selftest), the report's notes and the leaderboard count the same."""
    from ming_eval.cli.display import failed_cell, results_table
    from ming_eval.core.results import Metric, TaskResult
    from ming_eval.report.tables import ReportRun, run_notes

    counts = {"n": 10, "missing": 2, "inference_failed": 1, "judge_unavailable": 3}
    result = TaskResult("mmvet", "overall", {"overall": Metric(0.5, n=8)}, counts=counts)
    assert result.failed == 4
    assert failed_cell(result) == "4 / 2 (3 unjudged)"
    table = results_table({"mmvet": result}, title="t")
    assert table.columns[-1]._cells == ["4 / 2 (3 unjudged)"]
    run = ReportRun(Path("run"), manifest=None, results={"mmvet": result})  # type: ignore[arg-type]
    assert "mmvet: 4 of 10 samples failed and count as wrong" in run_notes(run, {"mmvet"})


def test_piped_tables_keep_full_names() -> None:
    """`ming-eval list models | grep ...` sees every checkpoint whole, not cut to the 80 columns of no terminal."""
    import os
    import subprocess
    import sys

    import yaml

    from tests.conftest import REPO_ROOT

    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    out = subprocess.run(
        [sys.executable, "-m", "ming_eval", "list", "models"], env=env, capture_output=True, text=True, timeout=120
    ).stdout
    assert "…" not in out
    for card in sorted((REPO_ROOT / "model_zoo").glob("*.yaml")):
        data = yaml.safe_load(card.read_text())
        if isinstance(data.get("checkpoint"), str):
            assert data["checkpoint"] in out, card.name


def test_dash_o_means_one_thing_everywhere() -> None:
    """`-o` is a task option (TASK.KEY=VALUE) in every command that has it, never an output file."""
    import typer.main

    from ming_eval.cli.app import _register, app

    _register()
    group = typer.main.get_command(app)

    def commands(cmd: object, path: str) -> list[tuple[str, object]]:
        subs = getattr(cmd, "commands", None)
        if subs:
            return [c for name, sub in subs.items() for c in commands(sub, f"{path} {name}")]
        return [(path, cmd)]

    with_o = {
        path: param.name
        for path, cmd in commands(group, "ming-eval")
        for param in getattr(cmd, "params", [])
        if "-o" in getattr(param, "opts", [])
    }
    assert {"ming-eval run", "ming-eval score"} <= set(with_o)
    assert set(with_o.values()) == {"option"}, with_o


def test_doctor_says_per_task_what_data_is_here(
    engine_cards: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ming_eval.cli.doctor import task_data_presence
    from ming_eval.runner.plan import resolve_task, task_data_files

    files = task_data_files(resolve_task("color_vqa"))
    (name,) = files.specs
    present = files.locate(name)
    assert present is not None
    assert dict(task_data_presence())["color_vqa"].endswith("1 of 1 present[/]")
    present.unlink()
    state = dict(task_data_presence())["color_vqa"]
    assert f"0 of 1 present[/]; missing {name} (`ming-eval data download color_vqa`)" in state
    code, text = run_cli(["doctor", "--no-judge"], capsys)
    assert code == 0 and f"data: color_vqa 0 of 1 present; missing {name}" in " ".join(text.replace("│", " ").split())
