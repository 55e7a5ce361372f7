"""Zoo cards as graders: checked before loading, loaded once, batched, failures isolated per request."""

from __future__ import annotations

import pytest
import yaml
from PIL import Image

from ming_eval.cards import loader
from ming_eval.core.sample import ImagePart, ImageRef, TextPart, UnderstandRequest
from ming_eval.errors import CapabilityError, CardError, CheckpointError
from ming_eval.graders.base import DecodeSettings, ZooSpec
from ming_eval.graders.local import FAIL_FAST_AFTER, ZooGrader
from tests.engine_plugins import COLORS, PixelGrader
from tests.graders.conftest import set_grader_card


def _requests(colors: list[str], text: str = "Which colour?") -> list[UnderstandRequest]:
    return [
        UnderstandRequest((ImagePart(ImageRef.from_pil(Image.new("RGB", (4, 4), COLORS[c]))), TextPart(f"{text} {i}")))
        for i, c in enumerate(colors)
    ]


def test_answers_in_batches_of_the_card_size_and_loads_once(graded_cards):
    grader = ZooGrader(ZooSpec(card="pixel-grader"), "cpu")
    assert grader.identity == "zoo:pixel-grader@none" and PixelGrader.loads == 0  # nothing loaded yet
    colors = ["red", "green", "blue", "blue", "red", "green", "red", "blue", "green", "red"]
    replies = grader.grade(_requests(colors))
    assert [r.text for r in replies] == colors
    assert PixelGrader.batch_sizes == [4, 4, 2]
    grader.grade(_requests(["green"]))
    assert PixelGrader.loads == 1


def test_spec_batch_size_wins_over_the_card(graded_cards):
    grader = ZooGrader(ZooSpec(card="pixel-grader", batch_size=3), "cpu")
    grader.grade(_requests(["red"] * 7))
    assert PixelGrader.batch_sizes == [3, 3, 1]


def test_a_failing_request_gets_an_error_and_the_others_their_reply(graded_cards):
    set_grader_card(graded_cards, options={"fail_on": "poison"}, batch=8)
    grader = ZooGrader(ZooSpec(card="pixel-grader"), "cpu")
    requests = _requests(["red", "green", "blue", "red"]) + _requests(["blue"], text="poison") + _requests(["green"])
    replies = grader.grade(requests)
    assert [r.text for r in replies] == ["red", "green", "blue", "red", None, "green"]
    assert "cannot handle" in str(replies[4].error) and "zoo:pixel-grader@none" in str(replies[4].error)
    assert grader.stats.failed == 1


def test_out_of_memory_shrinks_the_batch_for_later_calls(graded_cards):
    set_grader_card(graded_cards, options={"oom_above": 2}, batch=8)
    grader = ZooGrader(ZooSpec(card="pixel-grader"), "cpu")
    first = grader.grade(_requests(["red"] * 8))
    assert all(r.text == "red" for r in first)
    PixelGrader.batch_sizes.clear()
    grader.grade(_requests(["blue"] * 4))
    assert PixelGrader.batch_sizes == [2, 2]  # no failed attempt at 8 or 4 again


def test_systematic_failure_gives_the_grader_up(graded_cards):
    set_grader_card(graded_cards, options={"fail_on": "Which"}, batch=4)
    grader = ZooGrader(ZooSpec(card="pixel-grader"), "cpu")
    replies = grader.grade(_requests(["red"] * FAIL_FAST_AFTER))
    assert all(not r.ok for r in replies)
    calls = len(PixelGrader.batch_sizes)
    later = grader.grade(_requests(["red"] * 5))
    assert len(PixelGrader.batch_sizes) == calls  # not asked any more
    assert all("given up" in str(r.error) and "cannot handle" in str(r.error) for r in later)


def test_a_card_that_cannot_understand_is_a_card_error_naming_it(graded_cards):
    path = graded_cards / "model_zoo" / "painter.yaml"
    card = yaml.safe_load((graded_cards / "model_zoo" / "pixel.yaml").read_text())
    path.write_text(yaml.safe_dump({**card, "name": "painter", "capabilities": ["generate"]}))
    loader._INDEX = None
    with pytest.raises(CardError, match=r"^task t option grader 'painter' \(model card .*painter.yaml\) cannot grade"):
        ZooGrader(ZooSpec(card="painter"), "cpu", where="task t option grader")
    with pytest.raises(CardError, match=r"^task t option grader: unknown model 'pixel-grade'") as err:
        ZooGrader(ZooSpec(card="pixel-grade"), "cpu", where="task t option grader")
    assert err.value.hint is not None and "pixel-grader" in err.value.hint  # did you mean


def test_a_checkpoint_that_cannot_load_stops_with_a_setup_error(graded_cards, monkeypatch):
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("no such file: weights.safetensors")

    monkeypatch.setattr(PixelGrader, "from_card", classmethod(broken))
    grader = ZooGrader(ZooSpec(card="pixel-grader"), "cpu")
    with pytest.raises(CheckpointError, match=r"zoo:pixel-grader@none could not be loaded on cpu.*weights"):
        grader.grade(_requests(["red"]))


def test_decoding_settings_reach_the_model_and_unknown_ones_are_refused(graded_cards, monkeypatch):
    seen = []
    original = PixelGrader.understand

    def spy(self, requests, protocol):  # type: ignore[no-untyped-def]
        seen.append(protocol)
        return original(self, requests, protocol)

    monkeypatch.setattr(PixelGrader, "understand", spy)
    grader = ZooGrader(ZooSpec(card="pixel-grader"), "cpu")
    grader.grade(_requests(["red"]), DecodeSettings(max_tokens=5, temperature=0.7, extra=(("top_p", 0.9),)))
    assert (seen[0].max_new_tokens, seen[0].temperature, seen[0].do_sample, seen[0].top_p) == (5, 0.7, True, 0.9)
    with pytest.raises(CapabilityError, match="logit_bias"):
        grader.grade(_requests(["red"]), DecodeSettings(extra=(("logit_bias", {}),)))


def test_replies_under_another_card_setup_are_not_reused(graded_cards, tmp_path):
    from ming_eval.graders.cache import DiskReplyStore

    grader = ZooGrader(ZooSpec(card="pixel-grader"), "cpu", DiskReplyStore(tmp_path))
    grader.grade(_requests(["red"]))
    assert grader.grade(_requests(["red"]))[0].cached
    path = graded_cards / "model_zoo" / "pixel-grader.yaml"
    card = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**card, "protocol": {"understand": {"system_prompt": "Be terse."}}}))
    loader._INDEX = None
    other = ZooGrader(ZooSpec(card="pixel-grader"), "cpu", DiskReplyStore(tmp_path))
    assert other.identity == grader.identity and not other.grade(_requests(["red"]))[0].cached
