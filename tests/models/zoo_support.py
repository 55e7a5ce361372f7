"""Tiny random checkpoints for the model-zoo tests, built once per session in their real layouts.

A plain function with a per-process cache rather than a conftest fixture: other model families'
tests live in this folder too.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ming_eval.cards.schema import GenerateProtocol, ModelCard
from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.sample import GenerateRequest, ImagePart, ImageRef, TextPart, UnderstandRequest
from ming_eval.registry import get_model_card
from ming_eval.runner.plan import load_model_class
from ming_eval.testing import registry as testing_registry


def tiny_card(name: str, folder: Path) -> ModelCard:
    """The model-zoo card ``name`` pointed at a freshly built tiny checkpoint, as the self-test does."""
    card = testing_registry.tiny_card(get_model_card(name), folder)
    if card is None:
        raise LookupError(f"model card {name} has no tiny variant in ming_eval.testing")
    return card


def load(card: ModelCard, **kwargs: object) -> BaseModelAdapter:
    return load_model_class(card).from_card(card, device="cpu", **kwargs)


def single_threaded() -> tuple[Callable[[], None], Callable[[], None]]:
    """``setup_module``/``teardown_module`` that run a test module's torch work on one thread.

    Tiny models do microseconds of work per op; with several threads on a busy 2-core machine
    OpenMP's spinning costs 10-40x more CPU than the work itself (measured: 13.5 s vs 0.3 s of CPU for
    three tiny SDXL images).
    """
    import torch

    saved: list[int] = []

    def setup() -> None:
        saved.append(torch.get_num_threads())
        torch.set_num_threads(1)

    def teardown() -> None:
        if saved:
            torch.set_num_threads(saved.pop())

    return setup, teardown


_BUILT: dict[str, ModelCard] = {}
_ROOT: list[Path] = []


def tiny_cards(name: str) -> ModelCard:
    """The tiny card of model-zoo card ``name``, built once per test session in a temporary folder."""
    if name not in _BUILT:
        if not _ROOT:
            _ROOT.append(Path(tempfile.mkdtemp(prefix="ming-eval-tiny-")))
            atexit.register(shutil.rmtree, _ROOT[0], True)
        _BUILT[name] = tiny_card(name, _ROOT[0] / name)
    return _BUILT[name]


def color_image(rgb: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> ImageRef:
    return ImageRef.from_pil(Image.new("RGB", size, rgb), f"<{rgb}>")


def understand_requests() -> list[UnderstandRequest]:
    """Text only, one image, two interleaved images, and a task system prompt."""
    red, blue = color_image((200, 10, 10)), color_image((20, 10, 200), (90, 60))
    return [
        UnderstandRequest((ImagePart(red), TextPart("What colour is the square?"))),
        UnderstandRequest((TextPart("describe a cat"),)),
        UnderstandRequest((TextPart("compare"), ImagePart(blue), TextPart("and"), ImagePart(red))),
        UnderstandRequest((ImagePart(blue), TextPart("what colour?")), system="Answer with one word."),
    ]


def check_images_follow_their_seeds(
    adapter: BaseModelAdapter, protocol: GenerateProtocol, *, size: int, tolerance: int
) -> None:
    """A batch of two prompts (2 + 1 images, one seed shared) against each image made alone.

    Each batched image must equal its lone twin within ``tolerance`` grey levels (batched matrix
    products may round differently), and the two seeds of one prompt must give different images.
    """
    requests = [
        GenerateRequest("a photo of a cat", 2, seeds=(5, 6), indices=(0, 1)),
        GenerateRequest("a red apple on a wooden table", 1, seeds=(5,), indices=(0,)),
    ]
    batched = adapter.generate(requests, protocol)
    assert [len(images) for images in batched] == [2, 1]
    assert all(img.size == (size, size) and img.mode == "RGB" for images in batched for img in images)
    flat = [np.asarray(img, dtype=int) for images in batched for img in images]
    alone = [
        np.asarray(adapter.generate([GenerateRequest(r.prompt, 1, (seed,), (0,))], protocol)[0][0], dtype=int)
        for r in requests
        for seed in r.seeds
    ]
    for got, want in zip(flat, alone, strict=True):
        assert np.abs(got - want).max() <= tolerance
    assert np.abs(flat[0] - flat[1]).max() > 10
