"""``ming-eval score RUN --crosscheck vlmevalkit``: VLMEvalKit's own scoring functions on a run's predictions.

Needs VLMEvalKit's source: a checkout named by ``$MING_EVAL_VLMEVALKIT_SRC`` (or an installed vlmeval)
with its light requirements importable (sty, validators); skipped otherwise. The runs are imported
VLMEvalKit prediction files (``test_imports``), so no model or TSV is needed.
"""

from __future__ import annotations

import pandas as pd
import pytest

from ming_eval.errors import MingEvalError
from ming_eval.runner.rescore import score_external
from ming_eval.tasks.vlm.vlmevalkit_check import load_kit
from ming_eval.testing.fixtures.vlm import make_hallusionbench, make_mathvista, make_mcq, make_mmbench, make_ocrbench
from tests.cli.test_cli import run_cli
from tests.tasks.vlm.test_imports import vlmevalkit_file

pytest.importorskip("openpyxl")


@pytest.fixture()
def kit():
    try:
        return load_kit()
    except MingEvalError as exc:
        pytest.skip(f"VLMEvalKit not importable: {exc}")


def _run(tmp_path, task, dataset, make, outputs, **options):
    tsv = make(tmp_path / "data" / f"{dataset}.tsv")
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / f"M_{dataset}.tsv", outputs)
    out = tmp_path / f"run-{task}"
    score_external(task, pred, out, task_options=options, predictions=True, argv=["t"])
    return out


def test_mcq_runs_agree_with_vlmevalkit_and_differences_are_listed(kit, tmp_path, capsys):
    outputs = {"0": "A", "1": "The answer is B", "2": "C. purple", "3": "None", "4": "", "5": "D"}
    run = _run(tmp_path, "mmstar", "MMStar", lambda p: make_mcq(p, n=6), outputs, judge="exact_matching")
    code, text = run_cli(["score", str(run), "--crosscheck", "vlmevalkit"], capsys)
    assert code == 0, text
    # "" and "None" are NaN to VLMEvalKit, which would ask its judge for them: not compared
    assert "MMStar: VLMEvalKit's own scoring agrees on 4/4 samples; 2 would go to its judge" in text
    assert "it/s" not in text  # no progress bars of its own
    # VLMEvalKit at the pin reads "the answer is **X**" when several letters appear; the v0.2 matching
    # does not: that run differs on the row, and the check says where (exit 1)
    gold = pd.read_csv(make_mcq(tmp_path / "g" / "MMStar.tsv", n=6), sep="\t")["answer"][0]
    bolded = {**outputs, "0": f"A or B or C or D? The answer is **{gold}**"}
    run = _run(
        tmp_path / "b", "mmstar", "MMStar", lambda p: make_mcq(p, n=6), bolded, judge="exact_matching", matching="v0.2"
    )
    code, text = run_cli(["score", str(run), "--crosscheck", "vlmevalkit"], capsys)
    assert code == 1
    assert "agrees on 3/4 samples" in text and "differs index 0: ours 0, VLMEvalKit 1" in text


def test_circular_yes_no_mathvista_ocrbench(kit, tmp_path, capsys):
    mmb = {str(i + k * 1_000_000): "ABCD"[(i + k) % 4] for i in range(4) for k in range(4)}
    runs = [
        _run(tmp_path, "mmbench_dev_en", "MMBench_DEV_EN", make_mmbench, mmb, judge="exact_matching"),
        _run(
            tmp_path,
            "hallusionbench",
            "HallusionBench",
            make_hallusionbench,
            {
                f"{c}_{l2}_1_{s}_{f}_{q}": ["Yes", "no.", "maybe"][(s + f + q) % 3]
                for s, (c, l2) in enumerate([("VD", "figure"), ("VS", "chart")])
                for f in range(2)
                for q in range(2)
            },
            judge="exact_matching",
        ),
        _run(
            tmp_path,
            "mathvista_mini",
            "MathVista_MINI",
            make_mathvista,
            {"1": "B", "2": "2", "3": "2.5", "4": "red", "5": "(B) 1/3", "6": "12", "7": "6.5", "8": "x"},
            judge=None,
        ),
        _run(tmp_path, "ocrbench", "OCRBench", make_ocrbench, {str(i): f"it says word{i % 3}" for i in range(6)}),
    ]
    for run in runs:
        code, text = run_cli(["score", str(run), "--crosscheck", "vlmevalkit", "--allow-incomplete"], capsys)
        assert code == 0 and "differs" not in text, text
        assert "agrees on" in text
    assert "OCRBench: VLMEvalKit's own scoring agrees on 6/6 samples" in text


def test_without_the_kit_the_message_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MING_EVAL_VLMEVALKIT_SRC", str(tmp_path))
    run = _run(tmp_path, "mmstar", "MMStar", lambda p: make_mcq(p, n=6), {"0": "A"}, judge="exact_matching")
    code, text = run_cli(["score", str(run), "--crosscheck", "vlmevalkit", "--allow-incomplete"], capsys)
    assert code != 0 and "is not a VLMEvalKit checkout" in text
