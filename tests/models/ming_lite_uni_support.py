"""Shared helpers for the Ming-Lite-Uni tests: deterministic images and one tiny checkpoint per session."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

from ming_eval.cards.schema import ModelCard

if TYPE_CHECKING:
    from ming_eval.models.ming_lite_uni import MingLiteUni

_CACHE: dict[str, Path] = {}
_ADAPTER: dict[str, MingLiteUni] = {}


def make_image(kind: str) -> Image.Image:
    """Deterministic test images (the equivalence fixture was made from exactly these).

    ``gradient``: 300x200, red/green ramps over blue 128 with a red square in the middle.
    ``checker``: 64x96, an 8-pixel checkerboard with a blue ramp (smaller than 672², so it is upscaled).
    """
    if kind == "gradient":
        w, h = 300, 200
        x = np.arange(w)[None, :].repeat(h, 0)
        y = np.arange(h)[:, None].repeat(w, 1)
        arr = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full((h, w), 128)], -1).astype(np.uint8)
        arr[70:130, 120:180] = (220, 30, 40)
    elif kind == "checker":
        w, h = 64, 96
        x = np.arange(w)[None, :].repeat(h, 0)
        y = np.arange(h)[:, None].repeat(w, 1)
        board = ((x // 8 + y // 8) % 2).astype(np.uint8)
        arr = np.stack([board * 200 + 30, (1 - board) * 180 + 40, (x * 3) % 256], -1).astype(np.uint8)
    else:
        raise ValueError(kind)
    return Image.fromarray(arr, "RGB")


def tiny_checkpoint(factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint, written once per test session (about 3 s, 40 MB)."""
    if "root" not in _CACHE:
        from ming_eval.testing.tiny.ming_lite_uni import write_tiny_checkpoint

        _CACHE["root"] = write_tiny_checkpoint(factory.mktemp("ming_tiny") / "Ming-Lite-Uni")
    return _CACHE["root"]


def tiny_card(root: Path, **overrides: object) -> ModelCard:
    """The shipped ming-lite-uni card pointed at a tiny checkpoint, with a small protocol."""
    from ming_eval.registry import get_model_card
    from ming_eval.testing.registry import deep_merge

    card = get_model_card("ming-lite-uni")
    merged = deep_merge(
        card.model_dump(mode="json", by_alias=True, exclude_unset=True),
        {
            "checkpoint": str(root),
            "dtype": "float32",
            "protocol": {
                "understand": {"max_new_tokens": 6},
                "generate": {"steps": 2, "height": 64, "width": 64},
                "edit": {"steps": 2, "height": 64, "width": 64},
            },
        },
    )
    return ModelCard.model_validate(deep_merge(merged, dict(overrides)))


def tiny_adapter(factory: pytest.TempPathFactory) -> MingLiteUni:
    """One loaded adapter on the tiny checkpoint, shared by all tests of the session."""
    if "adapter" not in _ADAPTER:
        from ming_eval.models.ming_lite_uni import MingLiteUni

        adapter = MingLiteUni.from_card(tiny_card(tiny_checkpoint(factory)), device="cpu")
        assert isinstance(adapter, MingLiteUni)
        _ADAPTER["adapter"] = adapter
    return _ADAPTER["adapter"]
