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


LAB_PLUGIN = """
from typing import ClassVar
from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.results import SampleScore, TaskResult
from ming_eval.core.sample import Capability, Sample, TextPart, UnderstandRequest
from ming_eval.core.task import BaseTask, Scorer
from ming_eval.stats.bootstrap import mean_metric


class CountTask(BaseTask):
    capability = Capability.UNDERSTAND
    needs_torch: ClassVar[bool] = False

    def samples(self, ctx):
        return [Sample(str(i), UnderstandRequest((TextPart(f"{i} mod 7?"),)), target=str(i % 7)) for i in range(20)]

    def scorer(self, ctx):
        return MatchScorer()

    def aggregate(self, samples, scores, ctx):
        return TaskResult(self.name, "accuracy", {"accuracy": mean_metric([s.score for s in scores], scale=100)})


class MatchScorer(Scorer):
    def score(self, batch):
        return [SampleScore(s.id, float(p.output == s.target), correct=p.output == s.target) for s, p in batch]


class InstantModel(BaseModelAdapter):
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.UNDERSTAND})
    needs_torch: ClassVar[bool] = False

    def understand(self, requests, protocol):
        return ["3" for _ in requests]
"""


def test_re_running_a_finished_run_imports_no_image_or_array_library(tmp_path: Path) -> None:
    """PIL and numpy are imported where images or statistics are computed; a finished run's re-run
    reads its results back."""
    (tmp_path / "lab_count.py").write_text(LAB_PLUGIN)
    cards = tmp_path / "cards"
    (cards / "tasks").mkdir(parents=True)
    (cards / "model_zoo").mkdir()
    (cards / "tasks" / "count.yaml").write_text("name: count\nclass: lab_count:CountTask\ncapability: understand\n")
    (cards / "model_zoo" / "instant.yaml").write_text(
        "name: instant\nclass: lab_count:InstantModel\ncapabilities: [understand]\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        "MING_EVAL_CARDS_PATH": str(cards),
        "COLUMNS": "100",
    }
    args = ["run", "count", "--model", "instant", "--out", str(tmp_path / "run")]
    for _ in range(2):  # the first run, then its re-run
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT, *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert "already done" in proc.stdout + proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["heavy"] == []
