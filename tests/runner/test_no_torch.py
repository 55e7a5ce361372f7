"""A run through an OpenAI-compatible endpoint on an understanding task needs no torch: the
process never imports it (start-up stays short; the endpoint does the work)."""

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, os, sys
from pathlib import Path
from tests.fakes.openai_server import KEY, MODEL, FakeOpenAI
from ming_eval.registry import get_model_card, get_task_card
from ming_eval.runner.evaluate import RunConfig, evaluate
from ming_eval.testing.fixtures.vlm import selftest_setup

folder = Path(sys.argv[1])
os.environ.update(OPENAI_API_KEY=KEY, NO_PROXY="127.0.0.1,localhost")
setup = selftest_setup(get_task_card("mmstar"), folder / "data")
with FakeOpenAI(key=KEY) as fake:
    base = get_model_card("openai-compatible")
    card = base.model_copy(update={"options": {**base.options, "base_url": fake.url}, "checkpoint": MODEL})
    out = evaluate(RunConfig(tasks=["mmstar"], model=card, out=folder / "run", task_options={"mmstar": setup.options},
                             data_overrides=setup.data, argv=["test"]))
result = out.results["mmstar"]
print(json.dumps({"loaded": out.model_loaded, "n": result.counts["n"], "missing": result.counts["missing"],
                  "torch": sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))}))
"""


def test_openai_compatible_run_never_imports_torch(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env["MING_EVAL_CACHE"] = str(tmp_path / "cache")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, cwd=root, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["loaded"] and report["n"] > 0 and report["missing"] == 0
    assert report["torch"] == []
