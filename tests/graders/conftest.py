from __future__ import annotations

import os
from pathlib import Path

import pytest

from ming_eval.cards import loader


@pytest.fixture()
def graded_cards(engine_cards: Path) -> Path:
    """The engine's test cards plus ``graded_paint`` and the grader card ``pixel-grader``."""
    from tests.engine_plugins import PixelGrader, write_graded_cards

    write_graded_cards(engine_cards, Path(os.environ["MING_EVAL_CACHE"]))
    loader._INDEX = None
    PixelGrader.loads = 0
    PixelGrader.batch_sizes = []
    return engine_cards


def set_grader_card(cards: Path, *, options: dict | None = None, batch: int = 4) -> None:
    """Rewrite the ``pixel-grader`` card (e.g. to make it fail, then heal it)."""
    from tests.engine_plugins import write_graded_cards

    write_graded_cards(cards, Path(os.environ["MING_EVAL_CACHE"]), grader_options=options, grader_batch=batch)
    loader._INDEX = None
