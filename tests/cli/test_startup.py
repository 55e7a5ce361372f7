"""Start-up of a command imports that command's module and what it needs, not every command's, nor
numpy, pandas, PIL, torch or an HTTP client: it is most of the cost of re-running a finished run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import json, sys
from ming_eval.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    assert not exc.code, exc.code
heavy = ("numpy", "pandas", "PIL", "torch", "transformers", "openai", "urllib.request", "http.client")
print(json.dumps({
    "commands": sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("ming_eval.cli.")),
    "heavy": sorted(m for m in heavy if m in sys.modules),
}))
"""


def _modules(*args: str) -> dict[str, list[str]]:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "COLUMNS": "100"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], env=env, cwd=root, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report: dict[str, list[str]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("command", ["run", "score"])
def test_a_command_imports_its_own_module_and_nothing_heavy(command: str) -> None:
    report = _modules(command, "--help")
    assert set(report["commands"]) - {"app", "display", "options"} == {command}
    assert report["heavy"] == []


def test_help_without_a_command_lists_every_command() -> None:
    report = _modules("--help")
    assert {"run", "score", "report", "doctor", "listing", "data", "mplug"} <= set(report["commands"])


def test_the_understanding_tasks_load_without_pandas() -> None:
    """pandas reads a TSV or an imported prediction file; loading the task to re-score a finished run
    needs neither."""
    root = Path(__file__).resolve().parents[2]
    script = (
        "import sys\n"
        "import ming_eval.tasks.vlm.mcq, ming_eval.tasks.vlm.hallusionbench, ming_eval.tasks.vlm.mathvista\n"
        "import ming_eval.tasks.vlm.ocrbench, ming_eval.tasks.vlm.mmvet\n"
        "print('pandas' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=root, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "False"
