"""Run ELLA's own ``compute_dpg_bench.py`` on the cases of ``fixtures.py`` (by hand, not by pytest).

    git -C <ELLA mirror> show 3c228f1:dpg_bench/compute_dpg_bench.py > /tmp/compute_dpg_bench.py
    PYTHONPATH=. python tests/tasks/dpg_bench/make_upstream_reference.py /tmp/compute_dpg_bench.py

For each scenario it writes the CSV and one ``<item_id>.png`` grid per prompt (each tile a solid
colour that encodes its prompt and tile), a corrupt file for the "corrupt" prompts and nothing for
the "missing" ones, then runs the unmodified script's ``main()`` (``--pic-num 4``, real pandas,
numpy, PIL and accelerate on one CPU process). Only ModelScope is replaced: the VQA pipeline reads
the tile's colour and returns the fixture's answer to the question. ``os.listdir`` is sorted so the
prompts are averaged in file order. The result (per-image lines of the results file, the L1/L2
tables, the overall score, the ``Failed filename`` lines) is printed as JSON; the expectations in
``test_upstream_reference.py`` are that output.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

from PIL import Image

from ming_eval.data.files import GIT_BLOB_SHA1, file_digest
from ming_eval.tasks.dpg_bench.grid import write_grid
from tests.tasks.dpg_bench.fixtures import SCENARIOS, Scenario, write_csv

#: git blob id of dpg_bench/compute_dpg_bench.py in TencentQQGYLab/ELLA at 3c228f1
SCRIPT_BLOB_ID = "aa2014bef0b7dd8e95e76693c0de7de65deba4dc"


def _stub_modelscope(lookup: dict[tuple[int, int], dict[str, str]]) -> None:
    def pipeline(task: str, model: str, device: str) -> Any:
        def answer(inputs: dict[str, Any]) -> dict[str, str]:
            prompt, tile, _ = inputs["image"].convert("RGB").getpixel((0, 0))
            return {"text": lookup[(prompt, tile)][inputs["question"]]}

        return answer

    constant = types.ModuleType("modelscope.utils.constant")
    constant.Tasks = types.SimpleNamespace(visual_question_answering="visual-question-answering")
    pipelines = types.ModuleType("modelscope.pipelines")
    pipelines.pipeline = pipeline
    sys.modules.update(
        {
            "modelscope": types.ModuleType("modelscope"),
            "modelscope.pipelines": pipelines,
            "modelscope.utils": types.ModuleType("modelscope.utils"),
            "modelscope.utils.constant": constant,
        }
    )


def _parse(results: str) -> dict[str, Any]:
    out: dict[str, Any] = {"images": {}, "l1": {}, "l2": {}, "overall": None}
    section = None
    for line in results.splitlines():
        if line.startswith("L1 category scores:"):
            section = "l1"
        elif line.startswith("L2 category scores:"):
            section = "l2"
        elif line.startswith("\t") and section:
            name, _, value = line.strip().rpartition(": ")
            out[section][name] = float(value)
        elif line.startswith("DPG-Bench score: "):
            out["overall"] = float(line.split(": ")[1])
        elif line.endswith(".png") or ".png, " in line:
            path, *values = line.split(", ")
            out["images"][Path(path).stem] = [float(v) for v in values]
        else:
            section = None
    return out


def run_scenario(script: Path, scenario: Scenario, root: Path) -> dict[str, Any]:
    images = root / "images"
    images.mkdir(parents=True)
    csv_path = write_csv(scenario.prompts, root / "dpg_bench.csv")
    lookup: dict[tuple[int, int], dict[str, str]] = {}
    r = scenario.resolution
    for index, prompt in enumerate(scenario.prompts):
        if prompt.item_id in scenario.missing:
            continue
        if prompt.item_id in scenario.corrupt:
            (images / f"{prompt.item_id}.png").write_bytes(b"not a png")
            continue
        texts = {pid: question for pid, _, _, question in prompt.questions}
        for tile, answers in enumerate(scenario.answers[prompt.item_id]):
            lookup[(index, tile)] = {texts[pid]: answer for pid, answer in answers.items()}
        tiles = [Image.new("RGB", (r, r), (index, t, 200)) for t in range(scenario.tiles)]
        write_grid(images / f"{prompt.item_id}.png", tiles, item_id=prompt.item_id)
    _stub_modelscope(lookup)
    res = root / "results.txt"
    argv = [str(script), "--image-root-path", str(images), "--resolution", str(r), "--csv", str(csv_path)]
    argv += ["--res-path", str(res), "--pic-num", str(scenario.tiles), "--vqa-model", "mplug"]
    listdir = os.listdir
    stdout = io.StringIO()
    try:
        os.listdir = lambda path=".": sorted(listdir(path))
        sys.argv = argv
        with contextlib.redirect_stdout(stdout):
            runpy.run_path(str(script), run_name="__main__")
    finally:
        os.listdir = listdir
    out = _parse(res.read_text())
    out["failed"] = sorted(
        Path(line.split()[2]).stem for line in stdout.getvalue().splitlines() if line.startswith("Failed filename:")
    )
    return out


def main() -> None:
    script = Path(sys.argv[1])
    blob = file_digest(script, GIT_BLOB_SHA1)
    if blob != SCRIPT_BLOB_ID:
        raise SystemExit(f"{script} has git blob id {blob}, not ELLA 3c228f1's {SCRIPT_BLOB_ID}")
    import numpy
    import pandas

    report: dict[str, Any] = {
        "script_blob": blob,
        "versions": {"python": sys.version.split()[0], "pandas": pandas.__version__, "numpy": numpy.__version__},
    }
    for scenario in SCENARIOS:
        with tempfile.TemporaryDirectory() as tmp:
            report[scenario.name] = run_scenario(script, scenario, Path(tmp))
    print(json.dumps(report, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
