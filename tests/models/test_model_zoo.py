"""The model-zoo cards: they load, name real adapters, carry complete protocols, and a checkpoint swap
keeps the protocol. Plus two runs through the real runner on tiny checkpoints (understand + generate)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from ming_eval.cards.schema import GenerateProtocol, UnderstandProtocol
from ming_eval.core.sample import Capability
from ming_eval.errors import CapabilityError, CardError, ProtocolError
from ming_eval.registry import get_model_card, list_model_cards
from ming_eval.runner.evaluate import RunConfig, evaluate
from ming_eval.runner.plan import load_model_class, make_plan
from tests.engine_plugins import write_cards
from tests.models.zoo_support import single_threaded, tiny_cards

ZOO = Path(__file__).resolve().parents[2] / "model_zoo"
EXPECTED = {
    "janus-1.3b",
    "janus-pro-1b",
    "janus-pro-7b",
    "qwen2.5-vl-3b",
    "qwen2.5-vl-7b",
    "metaquery",
    "sdxl",
    "sd3-medium",
    "sana-1600m",
    "flux.1-dev",
    "openai-compatible",
    "ming-lite-uni",
}
TASK_FOR = {Capability.UNDERSTAND: "mmbench_dev_en", Capability.GENERATE: "geneval", Capability.EDIT: "edit"}

setup_module, teardown_module = single_threaded()


def zoo_cards():
    return [card for card in list_model_cards() if card.source is not None and card.source.parent == ZOO]


def test_every_card_is_there_and_names_an_adapter_that_can_do_what_it_claims():
    cards = zoo_cards()
    assert {c.name for c in cards} >= EXPECTED
    for card in cards:
        assert card.source.stem == card.name
        cls = load_model_class(card)
        assert set(card.capabilities) <= cls.capabilities, card.name
        for cap in card.capabilities:
            protocol = card.protocol_for(TASK_FOR[cap], cap)
            assert cls.check_protocol(cap, protocol) == [], card.name
            assert card.default_batch_size(cap) >= 1


@pytest.mark.parametrize("name", ["janus-pro-7b", "janus-1.3b"])
def test_janus_geneval_protocol(name):
    protocol = get_model_card(name).protocol_for("geneval", Capability.GENERATE)
    assert isinstance(protocol, GenerateProtocol)
    assert (protocol.cfg, protocol.temperature, protocol.height, protocol.extra["image_tokens"]) == (5.0, 1.0, 384, 576)
    assert protocol.top_k is None


def test_per_task_overrides():
    mmvet = get_model_card("janus-pro-7b").protocol_for("mmvet", Capability.UNDERSTAND)
    assert isinstance(mmvet, UnderstandProtocol) and mmvet.system_prompt.startswith("You are a helpful assistant.")
    assert get_model_card("janus-pro-7b").protocol_for("mmstar", Capability.UNDERSTAND).system_prompt is None
    qwen = get_model_card("qwen2.5-vl-7b")
    assert qwen.protocol_for("ocrbench", Capability.UNDERSTAND).extra == {
        "min_pixels": 78400,
        "max_pixels": 12845056,
        "repetition_penalty": 1.0,
    }


@pytest.fixture
def plugin_cards(tmp_path, monkeypatch):
    root = write_cards(tmp_path / "cards", Path(os.environ["MING_EVAL_CACHE"]), n_vqa=4, n_paint=2)
    monkeypatch.setenv("MING_EVAL_CARDS_PATH", str(root))
    return root


def test_checkpoint_swap_keeps_the_protocol(plugin_cards):
    card = get_model_card("janus-pro-7b")
    plan = make_plan(["paint", "color_vqa"], "janus-pro-7b", checkpoint="/ckpts/janus-step-2000")
    assert plan.model_config()["checkpoint"] == "/ckpts/janus-step-2000"
    assert plan.model_config()["card"]["checkpoint"] == card.checkpoint
    by_task = {tp.name: tp.protocol for tp in plan.tasks}
    assert by_task["paint"] == card.protocol_for("paint", Capability.GENERATE)
    assert by_task["color_vqa"] == card.protocol_for("color_vqa", Capability.UNDERSTAND)


def test_missing_capability_is_refused_before_loading(plugin_cards, monkeypatch):
    from ming_eval.models.qwen_vl import QwenVLAdapter

    def never(*args, **kwargs):
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(QwenVLAdapter, "__init__", never)
    with pytest.raises(
        CapabilityError,
        match=r"task paint needs a model that can generate; model qwen2\.5-vl-7b "
        r"can: understand",
    ):
        make_plan(["paint"], "qwen2.5-vl-7b")


def test_incomplete_protocol_is_refused_before_loading(plugin_cards, tmp_path):
    data = yaml.safe_load((ZOO / "sdxl.yaml").read_text())
    del data["protocol"]["generate"]["steps"]
    (tmp_path / "my-sdxl.yaml").write_text(yaml.safe_dump({**data, "name": "my-sdxl"}))
    with pytest.raises(ProtocolError, match="incomplete protocol for task paint") as err:
        make_plan(["paint"], str(tmp_path / "my-sdxl.yaml"))
    assert "generate.steps is not set" in str(err.value)


def _qwen_card_with(tmp_path: Path, edit) -> str:
    data = yaml.safe_load((ZOO / "qwen2.5-vl-7b.yaml").read_text())
    edit(data)
    path = tmp_path / "my-qwen.yaml"
    path.write_text(yaml.safe_dump({**data, "name": "my-qwen"}))
    return str(path)


@pytest.fixture
def qwen_never_loads(monkeypatch):
    from ming_eval.models.qwen_vl import QwenVLAdapter

    def never(*args, **kwargs):
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(QwenVLAdapter, "__init__", never)


def test_misspelt_protocol_extra_stops_the_plan_before_loading(plugin_cards, qwen_never_loads, tmp_path):
    card = _qwen_card_with(tmp_path, lambda d: d["protocol"]["understand"]["extra"].update(max_pixel=100))
    with pytest.raises(CardError) as err:
        make_plan(["color_vqa"], card)
    text = str(err.value)
    assert "my-qwen.yaml" in text and "QwenVLAdapter" in text
    assert "unknown key 'protocol.understand.extra.max_pixel' (did you mean 'max_pixels'?)" in text
    assert "allowed keys: max_pixels, min_pixels, prompt_prefix, prompt_suffix, repetition_penalty, top_k" in text


def test_misspelt_extra_in_a_task_override_names_the_task(plugin_cards, qwen_never_loads, tmp_path):
    # the override is for a task this run does not even include: the whole card is checked
    card = _qwen_card_with(tmp_path, lambda d: d["tasks"]["ocrbench"]["understand"]["extra"].update(min_pixel=1))
    with pytest.raises(CardError, match=r"unknown key 'tasks\.ocrbench\.understand\.extra\.min_pixel' \(did you"):
        make_plan(["color_vqa"], card)


def test_bad_extra_values_are_card_errors_at_plan_time(plugin_cards, qwen_never_loads, tmp_path):
    def bad(data):
        data["protocol"]["understand"]["extra"]["repetition_penalty"] = "strong"
        data["tasks"]["ocrbench"]["understand"]["extra"]["min_pixels"] = -1

    with pytest.raises(CardError) as err:
        make_plan(["color_vqa"], _qwen_card_with(tmp_path, bad))
    lines = str(err.value).splitlines()
    assert any(line.startswith("  - protocol.understand.extra.repetition_penalty: Input should be") for line in lines)
    override = "  - tasks.ocrbench.understand.extra.min_pixels: Input should be greater than 0 (got -1)"
    assert override in lines
    # a range that only the merged protocol gets wrong is found at plan time too
    swapped = _qwen_card_with(tmp_path, lambda d: d["protocol"]["understand"]["extra"].update(max_pixels=1000))
    with pytest.raises(ProtocolError, match=r"min_pixels <= max_pixels, got 1003520 and 1000"):
        make_plan(["color_vqa"], swapped)


def test_tiny_models_through_the_runner(plugin_cards, tmp_path):
    """A generation run (tiny FLUX) and an understanding run (tiny Qwen2.5-VL), end to end."""
    paint = evaluate(
        RunConfig(tasks=["paint"], model=tiny_cards("flux.1-dev"), out=tmp_path / "paint", device="cpu", argv=["test"]),
        None,
    )
    predictions = tmp_path / "paint" / "paint" / "predictions.jsonl"
    records = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert {r["status"] for r in records} == {"ok"} and len(records) == 2
    images = sorted((tmp_path / "paint" / "paint").rglob("*.png"))
    assert len(images) == 4 and paint.model_loaded
    vqa = evaluate(
        RunConfig(
            tasks=["color_vqa"],
            model=tiny_cards("qwen2.5-vl-3b"),
            out=tmp_path / "vqa",
            device="cpu",
            batch_size=4,
            argv=["test"],
        ),
        None,
    )
    assert vqa.results["color_vqa"].counts.get("inference_failed", 0) == 0
