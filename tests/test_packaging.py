"""The wheel carries the cards, and an installed wheel finds them (not only a source checkout)."""

import os
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO_ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return next(out.glob("ming_eval-*.whl"))


def test_wheel_contains_cards_and_baselines(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    cards = {n for n in names if n.startswith("ming_eval/_cards/")}
    for folder in ("tasks", "model_zoo"):
        src = {p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / folder).rglob("*.yaml")}
        assert src and {f"ming_eval/_cards/{p}" for p in src} <= cards
    assert any(n.startswith("ming_eval/_cards/reports/baselines/") for n in cards)
    assert "ming_eval/cli/app.py" in names and not any(n.startswith("tests/") for n in names)


def test_installed_wheel_finds_its_cards(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    code = (
        "import ming_eval.cards.loader as l; from ming_eval.registry import get_task_card, get_model_card;"
        "print(l.builtin_root()); print(get_task_card('geneval').source); print(get_model_card('sdxl').source);"
        "from ming_eval.report.data import reports_root; print(reports_root())"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    root, task, model, reports = proc.stdout.split()
    assert root == str(target / "ming_eval" / "_cards")
    assert task.startswith(root) and model.startswith(root) and reports == f"{root}/reports"
