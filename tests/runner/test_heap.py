"""The collector's thresholds during a run (ming_eval.runner.heap)."""

import gc

import pytest

from ming_eval.runner.evaluate import RunConfig, evaluate
from ming_eval.runner.heap import RUN_THRESHOLD
from tests.engine_plugins import PixelModel


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    gc.set_threshold(900, 11, 12)
    yield
    gc.set_threshold(*before)


def test_a_run_collects_less_often_and_then_restores_the_thresholds(engine_cards, tmp_path, monkeypatch, thresholds):
    seen: list[tuple[int, ...]] = []
    understand = PixelModel.understand
    monkeypatch.setattr(
        PixelModel,
        "understand",
        lambda self, reqs, protocol: seen.append(gc.get_threshold()) or understand(self, reqs, protocol),
    )
    evaluate(RunConfig(tasks=["color_vqa"], model="pixel", out=tmp_path / "run", argv=["test"]))
    assert seen and set(seen) == {(RUN_THRESHOLD, 11, 12)}
    assert gc.get_threshold() == (900, 11, 12)


def test_the_thresholds_are_restored_when_a_run_fails(engine_cards, tmp_path, monkeypatch, thresholds):
    def fail(self, reqs, protocol):
        raise KeyboardInterrupt

    monkeypatch.setattr(PixelModel, "understand", fail)
    with pytest.raises(KeyboardInterrupt):
        evaluate(RunConfig(tasks=["color_vqa"], model="pixel", out=tmp_path / "run", argv=["test"]))
    assert gc.get_threshold() == (900, 11, 12)
