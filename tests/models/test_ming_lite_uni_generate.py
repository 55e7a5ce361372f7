"""Text-to-image and editing on the tiny checkpoint: shapes, per-image seeds, batching, the engine."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ming_eval.cards import loader
from ming_eval.cards.schema import GenerateProtocol
from ming_eval.core.sample import EditRequest, GenerateRequest, ImageRef
from ming_eval.models.ming_lite_uni import MingLiteUni
from ming_eval.runner.evaluate import RunConfig, evaluate
from tests.engine_plugins import write_edit_cards
from tests.models.ming_lite_uni_support import make_image, tiny_adapter, tiny_card, tiny_checkpoint

PROTOCOL = GenerateProtocol(steps=2, cfg=5.0, height=64, width=64)


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    return tiny_adapter(tmp_path_factory)


def _close(a, b) -> bool:
    """Equal up to one grey level: a batch of images may round a few pixels differently on CPU."""
    diff = np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16))
    return bool(diff.max() <= 1 and (diff > 0).mean() < 0.01)


def test_generate_returns_one_image_per_seed_of_each_request(adapter):
    requests = [GenerateRequest("a red apple", 2, seeds=(11, 12)), GenerateRequest("a blue car", 1, seeds=(13,))]
    images = adapter.generate(requests, PROTOCOL)
    assert [len(row) for row in images] == [2, 1]
    for img in (im for row in images for im in row):
        assert img.mode == "RGB" and img.size == (64, 64)
    assert not _close(images[0][0], images[0][1])  # different seeds, different noise


def test_image_j_depends_only_on_seed_j_not_on_the_batch(adapter):
    apple = GenerateRequest("a red apple", 3, seeds=(21, 22, 21))
    car = GenerateRequest("a blue car", 1, seeds=(23,))
    batched = adapter.generate([apple, car], PROTOCOL)
    assert _close(batched[0][0], batched[0][2])  # the same seed twice gives the same image
    alone = adapter.generate([GenerateRequest("a red apple", 1, seeds=(22,))], PROTOCOL)[0][0]
    assert _close(batched[0][1], alone)
    small_chunks = MingLiteUni.from_card(adapter.card.model_copy(update={"options": {"max_diffusion_batch": 1}}))
    assert isinstance(small_chunks, MingLiteUni)
    small_chunks._model = adapter.model  # same weights, SANA now samples one image at a time
    chunked = small_chunks.generate([car, apple], PROTOCOL)
    assert _close(chunked[0][0], batched[1][0]) and _close(chunked[1][1], batched[0][1])


def test_one_image_per_seed_as_the_model_contract_says(adapter):
    """Exactly ``len(seeds)`` images per request (the runner passes only the images still missing)."""
    images = adapter.generate([GenerateRequest("a red apple", 2), GenerateRequest("a car", 2, seeds=(5,))], PROTOCOL)
    assert [len(row) for row in images] == [0, 1]


def test_edit_returns_images_and_is_batch_independent(adapter):
    grad = ImageRef.from_pil(make_image("gradient"), "gradient.png")
    check = ImageRef.from_pil(make_image("checker"), "checker.png")
    requests = [
        EditRequest(grad, "add a candle on top of the cake", 1, seeds=(7,)),
        EditRequest(check, "make it blue", 2, seeds=(8, 9)),
    ]
    batched = adapter.edit(requests, PROTOCOL)
    assert [len(row) for row in batched] == [1, 2]
    assert all(img.size == (64, 64) for row in batched for img in row)
    alone = adapter.edit([requests[1]], PROTOCOL)
    assert _close(batched[1][0], alone[0][0]) and _close(batched[1][1], alone[0][1])


@pytest.mark.slow
def test_runs_through_the_engine(tmp_path_factory, tmp_path, engine_cards):
    """color_vqa (understand) and paint (generate, 2 images per prompt) from the engine's test plugins."""
    card = tiny_card(tiny_checkpoint(tmp_path_factory))
    outcome = evaluate(
        RunConfig(
            tasks=["color_vqa", "paint"],
            model=card,
            out=tmp_path / "run",
            device="cpu",
            limit=2,
            batch_size=2,
            argv=["test"],
        ),
        None,
    )
    assert outcome.model_loaded
    for name in ("color_vqa", "paint"):
        result = outcome.results[name]
        assert not result.counts.get("inference_failed") and not result.counts.get("scoring_failed")
    pngs = sorted((tmp_path / "run").rglob("*.png"))
    assert len(pngs) == 4 and all(p.stat().st_size > 0 for p in pngs)


@pytest.mark.slow
def test_bfloat16_path_runs_on_cpu(tmp_path_factory):
    """The dtype plumbing of the GPU path (bf16 weights, bf16 RoPE, SANA in bf16), on CPU."""
    card = tiny_card(tiny_checkpoint(tmp_path_factory), options={"force_dtype": True}, dtype="bfloat16")
    bf16 = MingLiteUni.from_card(card, device="cpu")
    assert isinstance(bf16, MingLiteUni)
    grad = ImageRef.from_pil(make_image("gradient"), "gradient.png")
    [[image]] = bf16.edit([EditRequest(grad, "add a candle", 1, seeds=(3,))], PROTOCOL)
    assert image.size == (64, 64)
    assert bf16.model.llm.get_input_embeddings().weight.dtype == torch.bfloat16
    bf16.close()


@pytest.mark.slow
def test_edits_through_the_engine(tmp_path_factory, tmp_path, engine_cards):
    """The recolour task (edit, 2 images per input) from the engine's test plugins: every edit lands in
    the task's layout, and a batch of edits equals the same edits one at a time."""
    write_edit_cards(engine_cards, Path(os.environ["MING_EVAL_CACHE"]), n=3)
    loader._INDEX = None
    card = tiny_card(tiny_checkpoint(tmp_path_factory))
    for out, batch in (("batched", 3), ("alone", 1)):
        config = RunConfig(tasks=["recolour"], model=card, out=tmp_path / out, device="cpu", batch_size=batch)
        result = evaluate(config, None).results["recolour"]
        assert result.counts["n"] == 3 and not result.counts.get("inference_failed")
    names = [f"{i:03d}/edit-{k}.png" for i in range(3) for k in range(2)]
    for name in names:
        batched = Image.open(tmp_path / "batched" / "recolour" / "images" / name)
        alone = Image.open(tmp_path / "alone" / "recolour" / "images" / name)
        assert batched.size == (64, 64) and _close(batched, alone), name
