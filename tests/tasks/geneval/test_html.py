"""The HTML page: every prompt, its images with pass/fail and reason, links relative to the task folder."""

from __future__ import annotations

import json

import pytest

from ming_eval.core.results import SampleScore
from ming_eval.core.sample import GenerateRequest, Sample
from ming_eval.errors import RunStoreError
from ming_eval.store.jsonl import write_jsonl_atomic
from ming_eval.tasks.geneval.html import image_links, render_report, write_report_for_task_dir
from ming_eval.tasks.geneval.summary import build_result


def rows():
    target = {
        "tag": "counting",
        "include": [{"class": "clock", "count": 2}],
        "exclude": [{"class": "clock", "count": 3}],
        "prompt": "two <clocks> & more",
    }
    images = [
        {"file": "00000/samples/0000.png", "correct": True, "reason": ""},
        {"file": "00000/samples/0001.png", "correct": False, "reason": "expected clock<3, found 3"},
    ]
    score = SampleScore("00000", 0.5, correct=True, reason="1/2", details={"tag": "counting", "images": images})
    failed = SampleScore("00001", 0.0, correct=False, status="scoring_failed", reason="cannot decode image x.png")
    t2 = {"tag": "colors", "include": [{"class": "car", "count": 1, "color": "red"}], "prompt": "a red car"}
    return [("00000", target, score), ("00001", t2, failed)]


def result():
    samples = [
        Sample("00000", GenerateRequest("p", 2), meta={"tag": "counting"}),
        Sample("00001", GenerateRequest("p", 2), meta={"tag": "colors"}),
    ]
    return build_result("geneval", samples, [r[2] for r in rows()], label="GenEval", prompt_set="original")


def test_page_content_is_escaped_and_complete(tmp_path):
    links = image_links(tmp_path, ["00000/samples/0000.png", "00000/samples/0001.png", "/elsewhere/a.png"])
    assert links["00000/samples/0000.png"] == "images/00000/samples/0000.png"
    assert links["/elsewhere/a.png"].endswith("elsewhere/a.png") and links["/elsewhere/a.png"].startswith("..")
    page = render_report("GenEval — <model>", result(), rows(), links)
    assert "two &lt;clocks&gt; &amp; more" in page and "<clocks>" not in page
    assert "GenEval — &lt;model&gt;" in page
    assert page.count("<figure class=pass>") == 1 and page.count("<figure class=fail>") == 1
    assert "expected clock&lt;3, found 3" in page
    assert "scoring_failed: cannot decode image x.png" in page
    assert "2 × clock; fewer than 3 × clock" in page
    assert "Color Attri." in page and "Overall" in page


def test_rebuild_from_a_task_folder(tmp_path):
    with pytest.raises(RunStoreError, match=r"results\.json is missing"):
        write_report_for_task_dir(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps(result().to_dict()))
    write_jsonl_atomic(tmp_path / "scores.jsonl", [r[2].to_record() for r in rows()])
    write_jsonl_atomic(tmp_path / "predictions.jsonl", [{"id": sid, "target": t} for sid, t, _ in rows()])
    path = write_report_for_task_dir(tmp_path)
    assert path == tmp_path / "report.html"
    assert "a red car" in path.read_text() and "images/00000/samples/0001.png" in path.read_text()
