"""WISE end to end: the tiny PixelModel paints, a fake OpenAI-compatible judge grades.

The judge checks every request (system and user text as the judge script builds them, one PNG that is
the stored image, upstream's decoding settings) and answers in upstream's formats, malformed ones
included: an unreadable reply (asked three times, then ``judge_unparsed`` with its replies), a reply
readable only on the second asking, a grade outside the scale, and an outage (``judge_unavailable``,
judged on the next ``score``). Re-scoring with the reply cache warm asks nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ming_eval.cards import loader
from ming_eval.cli.app import main
from ming_eval.runner.evaluate import RunConfig, evaluate
from ming_eval.tasks.wise.protocol import LEGACY, VERIFIED
from ming_eval.tasks.wise.task import PROMPT_FILES as FILES
from ming_eval.testing.fixtures.wise import ids_per_category
from tests.cli.test_cli import run_cli
from tests.fakes.openai_server import FakeOpenAI
from tests.tasks.wise.helpers import (
    STANDIN_SYSTEM,
    dominant,
    expected_request_text,
    request_image,
    write_task_card,
)

UNREADABLE, SECOND_TIME, OUT_OF_SCALE, DOWN = 1, 401, 701, 801
_PID = re.compile(r"thing number (\d+)")


class Judge:
    """Answers like GPT-4o in upstream's format, from the image's dominant colour; misbehaves on some
    prompts. ``down`` makes one prompt's requests fail with HTTP 500."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.down = True
        self.asked: dict[int, int] = {}

    def __call__(self, text: str, body: dict[str, Any]) -> Any:
        pid = int(_PID.search(text).group(1))  # type: ignore[union-attr]
        self.asked[pid] = self.asked.get(pid, 0) + 1
        c = dominant(request_image(body))
        if self.kind == "verified":
            return "<think>checking</think>\nScore: 2" if pid == UNREADABLE else f"**Score**: {int(c == 0)}"
        if pid == UNREADABLE:
            return "I cannot evaluate this image."
        if pid == SECOND_TIME and self.asked[pid] == 1:
            return "Consistency: 2\nRealism: 1"
        if pid == OUT_OF_SCALE:
            return "Consistency: 5\nRealism: 1\nAesthetic Quality: 0"
        if pid == DOWN and self.down:
            return (500, "upstream model overloaded")
        return f"**Consistency**: {2 - c}\n**Realism**: {c}\n**Aesthetic Quality**: 1"


def _setup(engine_cards: Path, monkeypatch: pytest.MonkeyPatch, server: FakeOpenAI, name: str, kind: str) -> list[int]:
    version = VERIFIED if kind == "verified" else LEGACY
    ids = ids_per_category(version, 2)
    judge = {"model": "gpt-4o-2024-05-13" if kind != "verified" else "Qwen3.5-35B-A3B"}
    judge.update({"base_url": server.url, "api_key_env": "WISE_TEST_KEY", "max_retries": 0})
    write_task_card(engine_cards, Path(os.environ["MING_EVAL_CACHE"]), name, kind, ids, judge)
    monkeypatch.setenv("WISE_TEST_KEY", "sk-test-123")
    monkeypatch.setattr(loader, "_INDEX", None)
    return ids


def _scores(run: Path, task: str) -> dict[str, dict[str, Any]]:
    lines = (run / task / "scores.jsonl").read_text().splitlines()
    return {rec["id"]: rec for rec in map(json.loads, lines)}


def _prompts(run: Path, task: str) -> dict[str, dict[str, str]]:
    data = Path(os.environ["MING_EVAL_CACHE"]) / "data" / task
    rows = [r for f in FILES for p in data.glob(f"{f}*.json") for r in json.loads(p.read_text())]
    return {str(r["prompt_id"]): r for r in rows}


def test_legacy_run_judges_each_image_as_upstream_and_records_what_it_cannot_read(
    engine_cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    judge = Judge("legacy")
    with FakeOpenAI(judge) as server:
        ids = _setup(engine_cards, monkeypatch, server, "wise_tiny", "legacy")
        run = tmp_path / "run"
        result = evaluate(RunConfig(tasks=["wise_tiny"], model="pixel", out=run, argv=["test"])).results["wise_tiny"]

        images = run / "wise_tiny" / "images"
        assert sorted(p.name for p in images.iterdir()) == sorted(f"{i}.png" for i in ids)  # upstream's layout
        prompts = _prompts(run, "wise_tiny")
        for body in server.bodies:
            # the body's shape as upstream's build_evaluation_messages makes it: the system content a
            # one-item list of one text part, the user content the text then one PNG data URL
            system, user = body["messages"]
            assert system == {"role": "system", "content": [{"type": "text", "text": STANDIN_SYSTEM}]}
            assert user["role"] == "user" and [p["type"] for p in user["content"]] == ["text", "image_url"]
            assert list(user["content"][1]) == ["type", "image_url"] and list(user["content"][1]["image_url"]) == [
                "url"
            ]
            assert user["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
            text = user["content"][0]["text"]
            pid = _PID.search(text).group(1)  # type: ignore[union-attr]
            row = prompts[pid]
            assert text == expected_request_text(row["Prompt"], row["Explanation"])
            stored = np.asarray(Image.open(images / f"{pid}.png").convert("RGB"))
            assert np.array_equal(np.asarray(request_image(body)), stored)
            assert body["model"] == "gpt-4o-2024-05-13"
            assert body["max_tokens"] == 2000 and body["temperature"] == 0.0

        scores = _scores(run, "wise_tiny")
        assert judge.asked[UNREADABLE] == 3 and judge.asked[SECOND_TIME] == 2 and judge.asked[OUT_OF_SCALE] == 1
        unreadable = scores[str(UNREADABLE)]
        assert unreadable["status"] == "judge_unparsed" and unreadable["score"] == 0.0
        assert unreadable["details"]["replies"] == ["I cannot evaluate this image."] * 3
        assert scores[str(OUT_OF_SCALE)]["status"] == "judge_out_of_scale"
        assert "consistency 5" in scores[str(OUT_OF_SCALE)]["reason"]
        assert scores[str(DOWN)]["status"] == "judge_unavailable"
        for sid, s in scores.items():
            if s["status"] == "ok":
                c = dominant(Image.open(images / f"{sid}.png").convert("RGB"))
                assert s["score"] == pytest.approx((0.7 * (2 - c) + 0.2 * c + 0.1) / 2)
                assert s["details"]["judge"].startswith("endpoint:gpt-4o-2024-05-13@http://127.0.0.1")
        assert scores[str(SECOND_TIME)]["status"] == "ok"
        assert result.counts["judge_unparsed"] == 1 and result.counts["judge_out_of_scale"] == 1
        assert result.counts["judge_unavailable"] == 1 and not result.comparable
        assert "judged by endpoint:gpt-4o-2024-05-13" in result.notes[0]
        ok = [s["score"] for s in scores.values()]
        cats = {sid: LEGACY.category(int(sid)) for sid in scores}
        means = {c: np.mean([s for sid, s in zip(scores, ok, strict=True) if cats[sid] == c]) for c in LEGACY.weights}
        assert result.metrics["wiscore"].value == pytest.approx(sum(LEGACY.weights[c] * means[c] for c in means))

        # the judge is back: `score` asks only about the sample it could not judge
        judge.down = False
        posts = server.posts
        main(["score", str(run)])
        assert server.posts - posts == 1
        assert _scores(run, "wise_tiny")[str(DOWN)]["status"] == "ok"

        # a new run of the same images: every reply (the unreadable ones too) from the cache
        posts = server.posts
        evaluate(RunConfig(tasks=["wise_tiny"], model="pixel", out=tmp_path / "again", argv=["test"]))
        assert server.posts == posts
        assert _scores(tmp_path / "again", "wise_tiny") == _scores(run, "wise_tiny")


def test_verified_asks_without_thinking_and_scores_binary(
    engine_cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    judge = Judge("verified")
    with FakeOpenAI(judge) as server:
        _setup(engine_cards, monkeypatch, server, "wise_vtiny", "verified")
        result = evaluate(RunConfig(tasks=["wise_vtiny"], model="pixel", out=tmp_path / "r", argv=["t"]))
        body = server.bodies[0]
        assert body["messages"][0]["content"] == [{"type": "text", "text": STANDIN_SYSTEM}]
        assert body["chat_template_kwargs"] == {"enable_thinking": False}
        assert body["max_tokens"] == 500 and body["model"] == "Qwen3.5-35B-A3B"
    scores = _scores(tmp_path / "r", "wise_vtiny")
    assert scores[str(UNREADABLE)]["status"] == "judge_unparsed"  # "Score: 2" is not a binary score
    assert {s["score"] for sid, s in scores.items() if sid != str(UNREADABLE)} <= {0.0, 1.0}
    res = result.results["wise_vtiny"]
    assert res.info["version"] == "verified" and res.primary == "wiscore"


def test_images_from_another_tool_are_imported_and_bad_folders_refused(
    engine_cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    judge = Judge("legacy")
    judge.down = False
    with FakeOpenAI(judge) as server:
        ids = _setup(engine_cards, monkeypatch, server, "wise_tiny", "legacy")
        folder = tmp_path / "theirs"
        folder.mkdir()
        for pid in ids[1:]:
            Image.new("RGB", (8, 8), (200, 20, 20)).save(folder / f"{pid}.png")
        code, text = run_cli(["score", "wise_tiny", "--images", str(folder), "--out", str(tmp_path / "a")], capsys)
        assert code != 0 and "lacks the images of 1 of 12 prompts (e.g. 1.png)" in text and "Traceback" not in text

        Image.new("RGB", (8, 8), (200, 20, 20)).save(folder / "1.png")
        Image.new("RGB", (8, 8), (200, 20, 20)).save(folder / "5000.png")
        code, text = run_cli(["score", "wise_tiny", "--images", str(folder), "--out", str(tmp_path / "b")], capsys)
        assert code != 0 and "named by no WISE legacy prompt id (e.g. 5000.png)" in text

        (folder / "5000.png").unlink()
        (folder / f"{ids[2]}.png").write_bytes(b"not a png")
        code, text = run_cli(["score", "wise_tiny", "--images", str(folder), "--out", str(tmp_path / "c")], capsys)
        assert code == 0, text
    scores = _scores(tmp_path / "c", "wise_tiny")
    assert len(scores) == 12 and scores[str(ids[2])]["status"] == "scoring_failed"
    assert f"{ids[2]}.png" in scores[str(ids[2])]["reason"]
    assert scores[str(ids[3])]["status"] == "ok" and scores[str(ids[3])]["score"] == pytest.approx(0.75)
    shutil.rmtree(folder)
