"""`ming-eval doctor` says per task what is on this machine beyond the data files (judge prompt sources,
weights, graders' checkpoints) and the command that fetches what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ming_eval.cli.doctor import task_data_presence
from ming_eval.core.task import Prerequisite
from ming_eval.graders.presence import grader_prerequisite
from ming_eval.runner.plan import resolve_task, task_data_files
from ming_eval.tasks.geneval.clip_weights import cached_path, hub_weights
from ming_eval.tasks.geneval.detectors.weights import CONVERTED_NAME, detector_cache
from tests.cli.test_cli import run_cli


def _plain(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_judge_prompt_sources_are_listed_with_the_command() -> None:
    rows = dict(task_data_presence())
    assert rows["mmstar: judge prompt sources"] == (
        "[yellow]0 of 2 present[/]; missing multiple_choice.py, vlm.py (`ming-eval data download mmstar`)"
    )
    files = task_data_files(resolve_task("mmstar"))
    for name, spec in files.specs.items():
        if not spec.required:
            (files.cache_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (files.cache_dir / name).write_text("# source\n")
    assert dict(task_data_presence())["mmstar: judge prompt sources"] == "[green]2 of 2 present[/]"


def test_geneval_weights_missing_then_present(capsys: pytest.CaptureFixture[str]) -> None:
    rows = dict(task_data_presence())
    assert rows["geneval: detector weights (mask2former)"] == "[yellow]missing[/] (`ming-eval data download geneval`)"
    assert rows["geneval: CLIP ViT-L-14 (openai)"] == "[yellow]missing[/] (`ming-eval data download geneval`)"
    # where `data download geneval` puts them (tested against a local server in the detector tests)
    detector = detector_cache() / CONVERTED_NAME
    weights = hub_weights("ViT-L-14", "openai")
    assert weights is not None
    clip = cached_path(weights)
    for path in (detector, clip):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    rows = dict(task_data_presence())
    assert rows["geneval: detector weights (mask2former)"] == f"[green]present[/] ({detector})"
    assert rows["geneval: CLIP ViT-L-14 (openai)"] == f"[green]present[/] ({clip})"
    code, text = run_cli(["doctor", "--no-judge"], capsys)
    assert code == 0 and "data: geneval: CLIP ViT-L-14 (openai) present" in _plain(text)


def test_a_custom_detector_file_is_checked_where_it_is(tmp_path: Path) -> None:
    task = resolve_task("geneval", {"detector": {"weights": str(tmp_path / "mine.safetensors")}})
    (detector, *_) = task.prerequisites()
    assert detector.where is None and detector.fetch == "-o geneval.detector.weights=PATH"


def test_grader_checkpoints(tmp_path: Path) -> None:
    # DPG-Bench's mPLUG grader: a ModelScope checkpoint, not a Hugging Face one
    rows = dict(task_data_presence())
    (label,) = [k for k in rows if k.startswith("dpg_bench: grader mplug-large")]
    assert "modelscope download --model damo/mplug_visual-question-answering_coco_large_en" in rows[label]
    folder = tmp_path / "mplug"
    folder.mkdir()
    found = grader_prerequisite({"card": "mplug-large", "checkpoint": str(folder)}, "test")
    assert found == Prerequisite(f"grader mplug-large ({folder})", str(folder), "")
    # a Hugging Face grader not in the hub's cache
    missing = grader_prerequisite("qwen2.5-vl-7b", "test")
    assert missing is not None and missing.where is None
    assert missing.fetch == "hf download Qwen/Qwen2.5-VL-7B-Instruct"
    # an endpoint has nothing to fetch (doctor probes the endpoint itself)
    assert grader_prerequisite("endpoint:gpt-4o", "test") is None
