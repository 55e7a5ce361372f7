from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ming_eval.cli import geneval_detector
from ming_eval.cli.app import main
from ming_eval.tasks.geneval.detectors.convert import load_converted
from tests.tasks.geneval.detectors.conftest import (
    mmdet2_name,
    mmdet3_state,
    save_hostile_checkpoint,
    save_mmdet_checkpoint,
)


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    return save_mmdet_checkpoint(tmp_path / "tiny2.pth", {mmdet2_name(k): v for k, v in mmdet3_state().items()})


def test_convert_detector_command(ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "w.safetensors"
    main(["geneval", "convert-detector", str(ckpt), str(out), "--arch", "tiny", "--allow-pickle"])
    assert "sha256" in capsys.readouterr().out
    assert (tmp_path / "w.safetensors.sha256").is_file()
    load_converted(out)


def test_convert_detector_errors_are_user_errors(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = save_hostile_checkpoint(tmp_path / "hostile.pth", tmp_path / "pwned")
    with pytest.raises(SystemExit) as info:
        main(["geneval", "convert-detector", str(hostile), str(tmp_path / "w.safetensors"), "--arch", "tiny"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "hostile.pth" in err and "--allow-pickle" in err and not (tmp_path / "pwned").exists()
    with pytest.raises(SystemExit):
        main(["geneval", "convert-detector", str(ckpt), str(tmp_path / "w.bin"), "--arch", "tiny"])
    assert ".safetensors" in capsys.readouterr().err


def test_geneval_group_is_shared() -> None:
    app = typer.Typer()
    other = typer.Typer()
    other.command("score-folder")(lambda: None)
    app.add_typer(other, name="geneval")
    geneval_detector.register(app)
    assert geneval_detector.geneval_group(app) is other
    result = CliRunner().invoke(app, ["geneval", "--help"])
    assert "convert-detector" in result.output and "score-folder" in result.output
