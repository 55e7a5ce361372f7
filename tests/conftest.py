"""Test isolation: no network, no user caches, cards only from the checkout (plus what a test adds)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("MING_EVAL_CACHE", str(cache))
    monkeypatch.setenv("MING_EVAL_OFFLINE", "1")
    monkeypatch.setenv("LMUData", str(cache / "LMUData"))
    monkeypatch.delenv("MING_EVAL_CARDS_PATH", raising=False)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture()
def engine_cards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Test cards (color_vqa, paint, pixel) on the card path and their data in the cache."""
    from ming_eval.cards import loader
    from tests.engine_plugins import PixelModel, write_cards

    cache = Path(os.environ["MING_EVAL_CACHE"])
    root = write_cards(tmp_path / "cards", cache)
    monkeypatch.setenv("MING_EVAL_CARDS_PATH", str(root))
    monkeypatch.setattr(loader, "_INDEX", None)
    PixelModel.loads = 0
    PixelModel.batch_sizes = []
    return root
