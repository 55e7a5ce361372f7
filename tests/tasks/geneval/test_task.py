"""The task: cards, options, prompt sets (original / rewritten † / custom), imports, self-test setup."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from ming_eval.errors import CardError, DataError
from ming_eval.runner.evaluate import RunConfig, evaluate
from ming_eval.runner.plan import resolve_task
from ming_eval.runner.rescore import score_external
from ming_eval.tasks.geneval import scorer as scorer_module
from ming_eval.tasks.geneval.detectors.convert import read_metadata
from ming_eval.tasks.geneval.layout import write_prompt_metadata
from ming_eval.tasks.geneval.task import GenEvalTask
from ming_eval.testing.fixtures.geneval import SELFTEST_PROMPTS, selftest_setup, write_metadata
from tests.tasks.geneval.plugins import PaintedColors, PaintedDetector, paint, write_shapes_card


@pytest.fixture
def injected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scorer_module, "make_detector", lambda options, device: PaintedDetector())
    monkeypatch.setattr(scorer_module, "make_color_classifier", lambda settings, device: PaintedColors())


def test_builtin_cards():
    task = resolve_task("geneval")
    assert isinstance(task, GenEvalTask) and task.opts.prompt_set == "original"
    [spec] = task.data_files()
    assert spec.sha256 == "5c48e0813e812e3c373fa5c8ed07a8f0a483be30272b4427b0559c8048e67c13"
    assert spec.url is not None and "af4902f24d3ca90ebbb446dd9891a59e0f82725f" in spec.url
    rewritten = resolve_task("geneval_rewritten")
    assert rewritten.opts.prompt_set == "rewritten"  # type: ignore[attr-defined]
    assert [(f.name, f.url, f.sha256) for f in rewritten.data_files()] == [(spec.name, spec.url, spec.sha256)]


def test_options_that_would_mix_prompt_sets_are_refused(tmp_path):
    with pytest.raises(CardError, match="use the task geneval_rewritten"):
        resolve_task("geneval", {"prompt_set": "rewritten", "prompts_file": str(tmp_path / "x.jsonl")})
    with pytest.raises(CardError, match="prompts_file is only for"):
        resolve_task("geneval", {"prompts_file": str(tmp_path / "x.jsonl")})
    with pytest.raises(CardError, match="unknown key"):
        resolve_task("geneval", {"treshold": 0.4})
    custom = resolve_task("geneval", {"prompt_set": "custom", "prompts_file": "rel/p.jsonl"})
    assert custom.data_files() == [] and Path(custom.opts.prompts_file).is_absolute()  # type: ignore[attr-defined, arg-type]


def test_fingerprint_ignores_speed_settings():
    a = resolve_task("geneval").scoring_fingerprint()
    b = resolve_task(
        "geneval", {"clip_batch_size": 8, "prompts_per_batch": 2, "html_report": False, "detector": {"batch_size": 1}}
    ).scoring_fingerprint()
    c = resolve_task("geneval", {"threshold": 0.35}).scoring_fingerprint()
    assert a == b and a != c


def rewritten_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[dict[str, Any]]) -> Path:
    """A geneval_rewritten card whose pinned original is a generated file (its real sha256)."""
    original = write_metadata(
        tmp_path / "cache" / "data" / "geneval_rewritten" / "evaluation_metadata.jsonl", SELFTEST_PROMPTS
    )
    monkeypatch.setenv("MING_EVAL_CACHE", str(tmp_path / "cache"))
    card = yaml.safe_load((Path(__file__).parents[3] / "tasks" / "geneval_rewritten.yaml").read_text())
    card["data"][0].update(
        sha256=hashlib.sha256(original.read_bytes()).hexdigest(), size=original.stat().st_size, url=None
    )
    (tmp_path / "cards" / "tasks").mkdir(parents=True)
    (tmp_path / "cards" / "tasks" / "geneval_rewritten.yaml").write_text(yaml.safe_dump(card))
    long = write_metadata(tmp_path / "long.jsonl", rows)
    write_shapes_card(tmp_path / "cards", long, images_per_prompt=2)
    monkeypatch.setenv("MING_EVAL_CARDS_PATH", str(tmp_path / "cards"))
    return long


def test_rewritten_without_a_file_says_how(tmp_path, monkeypatch):
    rewritten_setup(tmp_path, monkeypatch, list(SELFTEST_PROMPTS))
    with pytest.raises(DataError, match=r"pass -o geneval_rewritten\.prompts_file=PATH"):
        evaluate(RunConfig(tasks=["geneval_rewritten"], model="shapes", out=tmp_path / "run", argv=["t"]))


def test_rewritten_prompts_run_apart_and_marked(tmp_path, monkeypatch, injected):
    rows = [{**r, "prompt": f"An elaborate scene. {r['prompt']}, photographed in daylight."} for r in SELFTEST_PROMPTS]
    long = rewritten_setup(tmp_path, monkeypatch, rows)
    cfg = RunConfig(
        tasks=["geneval_rewritten"],
        model="shapes",
        out=tmp_path / "run",
        argv=["t"],
        task_options={"geneval_rewritten": {"prompts_file": str(long)}},
    )
    result = evaluate(cfg).results["geneval_rewritten"]
    assert result.task == "geneval_rewritten" and result.info["label"] == "GenEval†"
    assert result.info["table"]["label"] == "GenEval†" and any(n.startswith("†") for n in result.notes)
    assert result.info["prompts_sha256"] == hashlib.sha256(long.read_bytes()).hexdigest()
    folder_meta = json.loads(
        (tmp_path / "run" / "geneval_rewritten" / "images" / "00000" / "metadata.jsonl").read_text()
    )
    assert folder_meta["prompt"].startswith("An elaborate scene.")
    assert "GenEval†" in (tmp_path / "run" / "geneval_rewritten" / "report.html").read_text()


def test_rewritten_file_that_changes_requirements_is_refused(tmp_path, monkeypatch, injected):
    rows = [dict(r) for r in SELFTEST_PROMPTS]
    rows[1] = {**rows[1], "include": [{"class": "cup", "count": 1}]}
    long = rewritten_setup(tmp_path, monkeypatch, rows)
    cfg = RunConfig(
        tasks=["geneval_rewritten"],
        model="shapes",
        out=tmp_path / "run",
        argv=["t"],
        task_options={"geneval_rewritten": {"prompts_file": str(long)}},
    )
    with pytest.raises(DataError, match="line 2 differs in include"):
        evaluate(cfg)


def test_import_incomplete_folder_only_when_allowed(tmp_path, injected):
    meta = write_metadata(tmp_path / "p.jsonl", SELFTEST_PROMPTS)
    root = tmp_path / "imgs"
    for i, row in enumerate(SELFTEST_PROMPTS[:5]):
        write_prompt_metadata(root, f"{i:05d}", row)
        for k in range(4 if i else 3):
            paint(row, False).save(root / f"{i:05d}" / "samples" / f"{k:04d}.png")
    Image.new("RGB", (8, 8)).save(root / "00001" / "samples" / "0004.jpg")
    options = {"prompt_set": "custom", "prompts_file": str(meta)}
    with pytest.raises(DataError) as err:
        score_external("geneval", root, tmp_path / "out", task_options=options, argv=["t"])
    text = str(err.value)
    assert "00000/samples has 3 of 4 images" in text and "00005" in text and "0004.jpg" in text
    assert not (tmp_path / "out" / "geneval" / "records").exists()  # nothing recorded from a refused folder
    result = score_external("geneval", root, tmp_path / "out", task_options=options, allow_incomplete=True, argv=["t"])[
        "geneval"
    ]
    assert result.counts["missing"] == 1 and result.counts["missing_images"] == 1
    assert result.metrics["single_object"].value == 1.0 and result.counts["images"] == 19
    assert any("incomplete" in n for n in result.notes)
    state = json.loads((tmp_path / "out" / "geneval" / "import.json").read_text())
    assert state["missing_prompts"] == [5] and any("0004.jpg" in line for line in state["incomplete"])


def test_prepare_outputs_refuses_a_folder_made_for_another_prompt(tmp_path):
    task = resolve_task("geneval", {"prompt_set": "custom", "prompts_file": str(tmp_path / "p.jsonl")})
    from ming_eval.core.sample import GenerateRequest, Sample

    sample = Sample("00000", GenerateRequest("a photo of a cat"), target=SELFTEST_PROMPTS[0])
    task.prepare_outputs(sample, tmp_path / "imgs")
    paint(SELFTEST_PROMPTS[0], False).save(tmp_path / "imgs" / "00000" / "samples" / "0000.png")
    task.prepare_outputs(sample, tmp_path / "imgs")  # same prompt: fine
    other = Sample("00000", GenerateRequest("x"), target=SELFTEST_PROMPTS[1])
    with pytest.raises(DataError, match="was written for another prompt"):
        task.prepare_outputs(other, tmp_path / "imgs")
    (tmp_path / "imgs" / "00000" / "metadata.jsonl").write_bytes(b"\xff\xfe")  # damaged, not UTF-8
    with pytest.raises(DataError, match="was written for another prompt"):
        task.prepare_outputs(sample, tmp_path / "imgs")
    (tmp_path / "imgs" / "00000" / "samples" / "0000.png").unlink()
    task.prepare_outputs(sample, tmp_path / "imgs")  # no images yet: rewritten
    assert json.loads((tmp_path / "imgs" / "00000" / "metadata.jsonl").read_text()) == SELFTEST_PROMPTS[0]


def test_selftest_setup(tmp_path):
    from ming_eval.registry import get_task_card

    setup = selftest_setup(get_task_card("geneval"), tmp_path)
    assert setup is not None and setup.limit is None
    assert setup.options["prompt_set"] == "custom"
    assert read_metadata(Path(setup.options["detector"]["weights"]))["source"] == "tiny random weights"
    assert str(setup.options["clip_model"]).startswith("local-dir:")
    task = resolve_task("geneval", setup.options)
    assert task.data_files() == []
    assert selftest_setup(get_task_card("geneval_rewritten"), tmp_path / "r") is None


def test_selftest_setup_runs_through_the_runner(tmp_path, monkeypatch):
    """What `ming-eval selftest` does for geneval, with the painting model and the painted detector in
    place of the tiny random detector (test_e2e.py runs that one)."""
    from ming_eval.selftest import selftest_tasks

    monkeypatch.setattr(scorer_module, "make_detector", lambda options, device: PaintedDetector())
    [(card, setup)] = selftest_tasks(tmp_path / "st", ["geneval"])
    write_shapes_card(tmp_path / "cards", Path(setup.options["prompts_file"]), images_per_prompt=2)
    monkeypatch.setenv("MING_EVAL_CARDS_PATH", str(tmp_path / "cards"))
    cfg = RunConfig(
        tasks=[card],
        model="shapes",
        out=tmp_path / "run",
        limit=setup.limit,
        batch_size=2,
        device="cpu",
        task_options={card.name: setup.options},
        data_overrides=setup.data,
        argv=["selftest"],
    )
    result = evaluate(cfg).results["geneval"]
    assert result.counts["n"] == 6 and result.counts["images"] == 12
    assert [k for k, m in result.breakdowns["tag"].items() if m.n] == list(result.breakdowns["tag"])
    again = evaluate(cfg)
    assert not again.model_loaded and again.results["geneval"].to_dict() == result.to_dict()
