"""mPLUG VQA (DPG-Bench's grader): our module against ModelScope's, batching, conversion, the grader service.

The reference outputs (``fixtures/mplug_reference.json``) were recorded by
``fixtures/make_mplug_reference.py`` with ModelScope 1.40.2's own pipeline on the tiny random
checkpoint; its provenance block says how. The live check against ModelScope runs where modelscope is
importable (its own venv, see the fixture script), from the repository root:

    PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 PYTHONPATH=. /tmp/venv-ms/bin/python -m pytest tests/models/test_mplug.py
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from ming_eval.core.sample import ImagePart, ImageRef, TextPart, UnderstandRequest
from ming_eval.errors import CheckpointError, ChecksumError, DataError, ProtocolError

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from make_mplug_reference import fixture_images, fixtures, weights_digest  # noqa: E402

REFERENCE = json.loads((FIXTURES / "mplug_reference.json").read_text())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ming_eval.testing.tiny.mplug import build_tiny_mplug

    folder = build_tiny_mplug(tmp_path_factory.mktemp("mplug") / "tiny")
    assert weights_digest(folder) == REFERENCE["provenance"]["weights_sha256"], (
        "the tiny mPLUG checkpoint changed: re-record fixtures/mplug_reference.json with make_mplug_reference.py"
    )
    return folder


@pytest.fixture(scope="module")
def runner(tiny: Path) -> Any:
    from ming_eval.models.mplug.runtime import MPlugRunner
    from ming_eval.models.mplug.weights import load_any

    cfg, state, vocab = load_any(tiny)
    return MPlugRunner(cfg, state, vocab, "cpu", torch.float32)


def _inputs() -> tuple[list[Any], list[str]]:
    images = fixture_images()
    pairs = fixtures()
    return [images[i] for i, _ in pairs], [q for _, q in pairs]


def test_native_matches_modelscope_reference(runner: Any) -> None:
    images, questions = _inputs()
    answers = runner.answer(images, questions)
    logits = runner.first_logits(images, questions)
    records = REFERENCE["records"]
    assert [a.text for a in answers] == [r["answer"] for r in records]
    assert [a.ids for a in answers] == [r["answer_ids"] for r in records]
    expected = torch.tensor([r["first_logits"] for r in records])
    assert (logits - expected).abs().max().item() < 1e-4
    assert max(abs(a.score - r["answer_score"]) for a, r in zip(answers, records, strict=True)) < 1e-4
    assert [runner.tokens([r["question"]])[0][0].tolist() for r in records] == [r["question_ids"] for r in records]
    # the fixtures are not degenerate: several distinct answers, one of more than one token
    assert len({a.text for a in answers}) >= 4 and any(len(a.ids) > 3 for a in answers)


def test_batching_does_not_change_answers(runner: Any) -> None:
    images, questions = _inputs()
    batched = runner.answer(images, questions)
    single = [runner.answer([i], [q])[0] for i, q in zip(images, questions, strict=True)]
    assert [a.text for a in batched] == [a.text for a in single]
    assert [a.ids for a in batched] == [a.ids for a in single]
    one = torch.cat([runner.first_logits([i], [q]) for i, q in zip(images, questions, strict=True)])
    assert (runner.first_logits(images, questions) - one).abs().max().item() < 1e-4


def test_decoding_settings_change_the_search(runner: Any) -> None:
    images, questions = _inputs()
    capped = runner.answer(images, questions, max_length=1)
    assert all(len(a.ids) == 2 for a in capped)  # [CLS] + one token, no [SEP] reached
    forced = runner.answer(images[:2], questions[:2], min_length=3)
    assert all(len(a.ids) >= 4 for a in forced)


def test_converted_file_answers_the_same_and_is_checked(tiny: Path, runner: Any, tmp_path: Path) -> None:
    from ming_eval.models.mplug.runtime import MPlugRunner
    from ming_eval.models.mplug.weights import convert_checkpoint, load_any

    out = tmp_path / "conv" / "mplug.safetensors"
    digest = convert_checkpoint(tiny, out)
    assert (out.parent / "mplug.safetensors.sha256").read_text().split()[0] == digest
    assert (out.parent / "vocab.txt").read_bytes() == (tiny / "vocab.txt").read_bytes()
    cfg, state, vocab = load_any(out)
    # the unused tensors (momentum copies, CLIP's text tower, the fusion layer that never runs) are gone
    assert not any(k.startswith(("visual_encoder_m", "visual_encoder.transformer")) for k in state)
    assert not any(k.startswith("fusion_encoder.encoder.layer.0.") for k in state)
    converted = MPlugRunner(cfg, state, vocab, "cpu", torch.float32)
    images, questions = _inputs()
    assert torch.equal(converted.first_logits(images, questions), runner.first_logits(images, questions))
    data = bytearray(out.read_bytes())
    data[-1] ^= 0xFF
    out.write_bytes(bytes(data))
    with pytest.raises(ChecksumError):
        load_any(out)
    # cut short, with no sidecar to tell: the copy is blamed, not the detector converter's input
    (out.parent / "mplug.safetensors.sha256").unlink()
    out.write_bytes(bytes(data[:-8]))
    with pytest.raises(CheckpointError, match="truncated") as info:
        load_any(out)
    assert "convert-detector" not in (info.value.hint or "")


def test_converter_refuses_a_mismatched_checkpoint(tiny: Path, tmp_path: Path) -> None:
    from ming_eval.models.mplug.weights import load_any

    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("config.yaml", "vocab.txt", "configuration.json"):
        (bad / name).write_bytes((tiny / name).read_bytes())
    bert = json.loads((tiny / "config_bert.json").read_text())
    bert["intermediate_size"] = 48
    (bad / "config_bert.json").write_text(json.dumps(bert))
    (bad / "pytorch_model.bin").symlink_to(tiny / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match=r"has shape"):
        load_any(bad)
    state = torch.load(tiny / "pytorch_model.bin", weights_only=True)["model"]
    del state["text_decoder.cls.predictions.bias"]
    (bad / "config_bert.json").write_bytes((tiny / "config_bert.json").read_bytes())
    (bad / "pytorch_model.bin").unlink()
    torch.save(state, bad / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match=r"missing 1 \(e\.g\. text_decoder\.cls\.predictions\.bias"):
        load_any(bad)
    with pytest.raises(CheckpointError, match="neither a local path nor in ModelScope's cache"):
        from ming_eval.models.mplug.adapter import resolve_checkpoint

        resolve_checkpoint("damo/no-such-model-here")


def _request(image: Any, question: str) -> UnderstandRequest:
    return UnderstandRequest(content=[ImagePart(ImageRef.from_pil(image)), TextPart(question)])


def test_grader_service_answers_batched_like_the_reference(tiny: Path, tmp_path: Path) -> None:
    from ming_eval.graders.base import DecodeSettings
    from ming_eval.graders.service import GraderService

    service = GraderService(device="cpu", cache_dir=tmp_path / "cache")
    grader = service.get({"card": "mplug-large", "checkpoint": str(tiny), "batch_size": 5})
    images, questions = _inputs()
    replies = grader.grade([_request(i, q) for i, q in zip(images, questions, strict=True)], DecodeSettings())
    assert [r.text for r in replies] == [r["answer"] for r in REFERENCE["records"]]
    assert grader.stats.asked == len(set(zip(range(len(images)), questions, strict=True)))
    again = grader.grade([_request(images[0], questions[0])], DecodeSettings())
    assert again[0].cached and again[0].text == REFERENCE["records"][0]["answer"]
    service.close()


def test_adapter_refuses_what_mplug_cannot_do(tiny: Path) -> None:
    from ming_eval.cards.schema import UnderstandProtocol
    from ming_eval.models.mplug.adapter import MPlugAdapter
    from ming_eval.registry import get_model_card

    card = get_model_card("mplug-large")
    model = MPlugAdapter.from_card(card, checkpoint=str(tiny))
    image = fixture_images()[0]
    two = UnderstandRequest(content=[ImagePart(ImageRef.from_pil(image)), ImagePart(ImageRef.from_pil(image))])
    with pytest.raises(DataError, match=r"request 0: .*exactly one image, got 2"):
        model.understand([two], UnderstandProtocol())
    with pytest.raises(ProtocolError, match="beam search"):
        model.understand([_request(image, "is it red?")], UnderstandProtocol(temperature=0.7, do_sample=True))


@pytest.mark.skipif(importlib.util.find_spec("modelscope") is None, reason="modelscope is not installed")
def test_modelscope_backend_agrees_with_native(tiny: Path, runner: Any) -> None:
    from ming_eval.models.mplug.reference import ModelScopeVQA

    images, questions = _inputs()
    upstream = ModelScopeVQA(str(tiny), "cpu", torch.float32).answer_texts(images, questions)
    assert upstream == [a.text for a in runner.answer(images, questions)]
