"""Start-up overlap: on a first run the model loads while the samples are built; a load that fails is
reported by the run that needs the model, and a resume with records loads it only when work is left."""

import threading

import pytest

from ming_eval.errors import CheckpointError
from ming_eval.runner.evaluate import RunConfig, evaluate
from tests.engine_plugins import ColorVqaTask, PixelModel


def _config(tmp_path, **kw):
    return RunConfig(tasks=["color_vqa"], model="pixel", out=tmp_path / "run", argv=["test"], **kw)


def test_first_run_loads_the_model_while_the_samples_are_built(engine_cards, tmp_path, monkeypatch):
    loading = threading.Event()
    seen_while_building: list[bool] = []
    load_model, build_samples = PixelModel.__init__, ColorVqaTask.samples

    def init(self, *args, **kwargs):
        loading.set()
        load_model(self, *args, **kwargs)

    def samples(self, ctx):
        seen_while_building.append(loading.wait(timeout=30))  # a serial start-up would never see it
        return build_samples(self, ctx)

    monkeypatch.setattr(PixelModel, "__init__", init)
    monkeypatch.setattr(ColorVqaTask, "samples", samples)
    first = evaluate(_config(tmp_path))
    assert seen_while_building == [True] and PixelModel.loads == 1
    assert first.results["color_vqa"].counts["n"] == 24

    loading.clear()  # a resume: records exist, every sample has one, so no load is started
    seen_while_building.clear()
    monkeypatch.setattr(ColorVqaTask, "samples", build_samples)
    again = evaluate(_config(tmp_path, force=True, score_batch_size=5))
    assert PixelModel.loads == 1 and not again.model_loaded and not loading.is_set()
    assert again.results["color_vqa"].to_dict() == first.results["color_vqa"].to_dict()


def test_a_failed_background_load_stops_the_run_with_its_error(engine_cards, tmp_path, monkeypatch):
    def broken(self, *args, **kwargs):
        raise CheckpointError("pixel: weights are truncated", hint="download them again")

    monkeypatch.setattr(PixelModel, "__init__", broken)
    with pytest.raises(CheckpointError, match="weights are truncated"):
        evaluate(_config(tmp_path))
    records = (tmp_path / "run" / "color_vqa" / "records").glob("rank-*.jsonl")
    assert not any(path.stat().st_size for path in records)  # no sample was marked failed


def test_a_model_in_a_reference_cycle_is_freed_when_the_run_ends(engine_cards, tmp_path, monkeypatch):
    """The objects a load leaves are kept out of the collector's way while the model is in use; the
    model's memory is still collected once the run is over (as a grader loading next needs)."""
    import gc
    import weakref

    models: list[weakref.ref] = []
    load_model = PixelModel.__init__

    def init(self, *args, **kwargs):
        load_model(self, *args, **kwargs)
        self.me = self  # a cycle: only the collector frees it
        models.append(weakref.ref(self))

    monkeypatch.setattr(PixelModel, "__init__", init)
    outcome = evaluate(_config(tmp_path))
    assert outcome.results["color_vqa"].counts["n"] == 24 and len(models) == 1
    gc.collect()
    assert models[0]() is None


@pytest.mark.parametrize("scorer_needs_torch", [True, False])
def test_the_model_memory_is_reclaimed_before_scoring_only_when_scoring_loads_models(
    engine_cards, tmp_path, monkeypatch, scorer_needs_torch
):
    """A task whose scorer loads models (a detector, a local grader) gets the closed model's memory
    back before it starts; a task that scores without torch does not wait for a full collection."""
    import gc
    import weakref

    import torch  # noqa: F401  (a torch model was loaded in this process: its memory is worth collecting)

    models: list[weakref.ref] = []
    collections: list[int] = []
    at_scoring: list[bool] = []
    load_model, make_scorer, collect = PixelModel.__init__, ColorVqaTask.scorer, gc.collect

    def init(self, *args, **kwargs):
        load_model(self, *args, **kwargs)
        self.me = self  # a cycle: only the collector frees it
        models.append(weakref.ref(self))

    def scorer(self, ctx):
        at_scoring.append(models[0]() is None)
        return make_scorer(self, ctx)

    def counted_collect(*args):
        collections.append(1)
        return collect(*args)

    monkeypatch.setattr(PixelModel, "__init__", init)
    monkeypatch.setattr(ColorVqaTask, "scorer", scorer)
    monkeypatch.setattr(ColorVqaTask, "needs_torch", scorer_needs_torch)
    monkeypatch.setattr(PixelModel, "close", lambda self: collections.clear())  # count from the close on
    monkeypatch.setattr(gc, "collect", counted_collect)
    outcome = evaluate(_config(tmp_path))
    assert outcome.results["color_vqa"].counts["n"] == 24
    if scorer_needs_torch:
        assert at_scoring == [True]
    else:
        assert at_scoring == [False] and collections == []


def test_the_collector_is_on_again_after_the_samples_are_built_or_fail(engine_cards, tmp_path, monkeypatch):
    """Samples are built with the cycle collector paused (they live for the run); it runs again
    afterwards, also when the task's data is bad, and for the model's own load on its thread."""
    import gc

    from ming_eval.errors import DataError

    during: list[bool] = []
    build_samples = ColorVqaTask.samples

    def samples(self, ctx):
        during.append(gc.isenabled())
        return build_samples(self, ctx)

    monkeypatch.setattr(ColorVqaTask, "samples", samples)
    assert gc.isenabled()
    evaluate(_config(tmp_path))
    assert during == [False] and gc.isenabled()

    def broken(self, ctx):
        raise DataError("color_vqa: row 3 has no question")

    monkeypatch.setattr(ColorVqaTask, "samples", broken)
    with pytest.raises(DataError, match="row 3"):
        evaluate(_config(tmp_path, force=True))
    assert gc.isenabled()
