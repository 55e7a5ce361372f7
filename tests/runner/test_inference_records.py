"""How inference records and scores reach the disk (a batch together, before the next batch runs), and
that what a run writes is not read back by the same run."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from ming_eval.cards.schema import TaskCard, UnderstandProtocol
from ming_eval.core.results import SampleScore, TaskResult
from ming_eval.core.sample import Capability, Sample, TextPart, UnderstandRequest
from ming_eval.core.seeds import derive_seed
from ming_eval.core.task import BaseTask, Scorer, TaskContext
from ming_eval.runner.distributed import Dist
from ming_eval.runner.inference import InferenceSettings, run_inference
from ming_eval.store.jsonl import read_jsonl
from ming_eval.store.run_store import TaskStore


class EchoTask(BaseTask):
    capability = Capability.UNDERSTAND

    def samples(self, ctx: TaskContext) -> list[Sample]:
        raise NotImplementedError

    def scorer(self, ctx: TaskContext) -> Scorer:
        raise NotImplementedError

    def aggregate(self, samples: Sequence[Sample], scores: Sequence[SampleScore], ctx: TaskContext) -> TaskResult:
        raise NotImplementedError


class WatchingModel:
    """Answers each question with itself; before each batch, notes the ids already on disk, and fails
    on the question "bad"."""

    records: ClassVar[Path]
    seen_on_disk: ClassVar[list[list[str]]] = []
    seeds: ClassVar[list[int]] = []

    def understand(self, requests: Sequence[UnderstandRequest], protocol: UnderstandProtocol) -> list[str]:
        on_disk = [r["id"] for r in read_jsonl(self.records)] if self.records.exists() else []
        type(self).seen_on_disk.append(on_disk)
        type(self).seeds.extend(r.seed for r in requests)
        if any(r.text == "bad" for r in requests):
            raise ValueError("cannot answer (https://u:pw@host/v1)")
        return [r.text for r in requests]


def _run(tmp_path: Path, questions: list[str], batch_size: int) -> TaskStore:
    task = EchoTask.from_card(
        TaskCard.model_validate({"name": "echo", "class": "x:EchoTask", "capability": "understand"})
    )
    samples = [Sample(str(i), UnderstandRequest((TextPart(q),))) for i, q in enumerate(questions)]
    store = TaskStore(tmp_path, "echo")
    model = WatchingModel()
    WatchingModel.records = store.records_dir / "rank-00000.jsonl"
    WatchingModel.seen_on_disk, WatchingModel.seeds = [], []
    settings = InferenceSettings(batch_size=batch_size, run_seed=5, fail_fast_after=0)
    run_inference(task, samples, store, UnderstandProtocol(), lambda: model, Dist(), settings, None)
    return store


def test_each_batch_is_on_disk_before_the_next_runs(tmp_path):
    store = _run(tmp_path, [f"q{i}" for i in range(7)], batch_size=3)
    assert WatchingModel.seen_on_disk == [[], ["0", "1", "2"], ["0", "1", "2", "3", "4", "5"]]
    records = list(read_jsonl(store.records_dir / "rank-00000.jsonl"))
    assert [(r["id"], r["output"], r["status"]) for r in records] == [(str(i), f"q{i}", "ok") for i in range(7)]


def test_a_failure_isolated_in_a_batch_is_recorded_with_the_others(tmp_path):
    store = _run(tmp_path, ["a", "bad", "c", "d"], batch_size=4)
    by_id = {r["id"]: r for r in read_jsonl(store.records_dir / "rank-00000.jsonl")}
    assert by_id["1"]["status"] == "failed" and "cannot answer" in by_id["1"]["error"]
    assert [by_id[i]["output"] for i in ("0", "2", "3")] == ["a", "c", "d"]
    # the seed the model was given is the one recorded, and depends on the sample alone
    assert by_id["2"]["seed"] == derive_seed(5, "echo", "2") and derive_seed(5, "echo", "2") in WatchingModel.seeds


def test_scoring_gets_the_records_just_written_without_reading_them_back(tmp_path, monkeypatch):
    import ming_eval.store.run_store as run_store

    read: list[str] = []
    parse = run_store.AppendedReader.read  # every rank file is read through it
    monkeypatch.setattr(
        run_store.AppendedReader, "read", lambda self, path: read.append(path.name) or parse(self, path)
    )
    store = _run(tmp_path, ["a", "bad", "c"], batch_size=3)
    in_memory = store.read_predictions()
    assert read == []  # what the run wrote was kept, not read back
    fresh = TaskStore(tmp_path, "echo").read_predictions()
    assert read == ["rank-00000.jsonl"] and in_memory == fresh
    assert in_memory["1"].status.value == "failed" and "pw" not in in_memory["1"].error  # as written: redacted
    assert in_memory["2"].output == "c"


def test_records_that_json_would_change_are_read_back(tmp_path):
    store = TaskStore(tmp_path, "echo")
    assert store.read_predictions() == {}
    with store.record_writer(0) as writer:
        writer.write({"id": "a", "status": "ok", "output": ("x", "y")})  # a tuple comes back as a list
        writer.write({"id": "b", "status": "failed", "error": "see https://u:pw@host/v1"})
    preds = store.read_predictions()
    assert preds["a"].output == ["x", "y"] and "pw" not in preds["b"].error
    assert preds == TaskStore(tmp_path, "echo").read_predictions()


def test_a_first_run_reads_back_none_of_its_records_or_scores(engine_cards, tmp_path, monkeypatch):
    import ming_eval.store.run_store as run_store
    from ming_eval.runner.evaluate import RunConfig, evaluate

    read: list[str] = []
    parse = run_store.AppendedReader.read
    monkeypatch.setattr(
        run_store.AppendedReader, "read", lambda self, path: read.append(str(path)) or parse(self, path)
    )
    out = evaluate(RunConfig(tasks=["color_vqa"], model="pixel", out=tmp_path / "run", argv=["test"]))
    assert [p for p in read if "rank-" in p] == []
    # what was aggregated is what the files hold
    task = tmp_path / "run" / "color_vqa"
    on_disk = {json.loads(line)["id"]: json.loads(line)["score"] for line in (task / "scores.jsonl").open()}
    assert len(on_disk) == 24 and out.results["color_vqa"].counts["n"] == 24
    stored = TaskStore(tmp_path / "run", "color_vqa")
    assert {k: s.score for k, s in stored.read_scores(stored.read_predictions()).items()} == on_disk
    assert out.results["color_vqa"].primary_metric.value == pytest.approx(100 * sum(on_disk.values()) / 24)


def test_each_batch_of_scores_is_on_disk_before_the_next_is_scored(engine_cards, tmp_path, monkeypatch):
    """A kill while scoring loses no score the scorer handed back before it: a batch's scores, and a
    sample that failed alone, are written before the next batch starts."""
    import shutil

    from ming_eval.runner.evaluate import RunConfig, evaluate
    from ming_eval.runner.rescore import rescore
    from tests.engine_plugins import ExactMatchScorer

    run = tmp_path / "run"
    evaluate(RunConfig(tasks=["color_vqa"], model="pixel", out=run, argv=["test"]))
    task = run / "color_vqa"
    shutil.rmtree(task / "scoring")
    for name in ("scores.jsonl", "finished.json"):
        (task / name).unlink()
    ids = [json.loads(line)["id"] for line in (task / "predictions.jsonl").open()]
    bad = ids[6]  # in the second batch of 5: scored alone after the batch is split, and fails
    scored = ExactMatchScorer.score
    seen: list[tuple[list[str], list[str]]] = []  # (batch, ids whose score is on disk) at each call

    def watching(self, batch):
        files = sorted((task / "scoring").glob("rank-*.jsonl"))
        seen.append(([s.id for s, _ in batch], [r["id"] for f in files for r in read_jsonl(f)]))
        if any(s.id == bad for s, _ in batch):
            raise ValueError("cannot score this one")
        return scored(self, batch)

    monkeypatch.setattr(ExactMatchScorer, "score", watching)
    result = rescore(run, tasks=["color_vqa"], argv=["test"], batch_size=5)["color_vqa"]
    assert result.counts["scoring_failed"] == 1
    done: list[str] = []
    for batch, on_disk in seen:
        assert sorted(on_disk) == sorted(done)  # every score handed back before, none more
        if bad not in batch:
            done.extend(batch)
        elif batch == [bad]:
            done.append(bad)
    assert sorted(done) == sorted(ids)


def test_answers_with_a_lone_surrogate_or_control_characters_are_stored_and_scored_as_read_back(
    engine_cards, tmp_path, monkeypatch
):
    """Half of an emoji (a lone surrogate, which a JSON reply can carry) has no UTF-8 form: it is stored
    as its JSON escape instead of stopping the run, and what the run kept, merged and aggregated is
    exactly what scoring the stored records from nothing gives."""
    import shutil

    from ming_eval.runner.evaluate import RunConfig, evaluate
    from ming_eval.runner.rescore import rescore
    from tests.engine_plugins import PixelModel

    odd = ["x\ud83d", "red\u2028", "\x00\x1b[0m", "  RED ", "é😀", '"\\', "\ufeffred", "blue\r\n"]
    batches = []

    def understand(self, requests, protocol):
        batches.append(len(requests))
        if len(batches) == 2:  # a failed batch: its samples are recorded as failed, split and retried
            raise ValueError("cannot answer \ud800 (https://u:pw@host/v1)")
        return [odd[(len(batches) + i) % len(odd)] for i in range(len(requests))]

    monkeypatch.setattr(PixelModel, "understand", understand)
    run = tmp_path / "run"
    first = evaluate(RunConfig(tasks=["color_vqa"], model="pixel", out=run, argv=["test"], batch_size=4))
    records = [json.loads(line) for line in (run / "color_vqa" / "records" / "rank-00000.jsonl").open()]
    assert "x\ud83d" in {r["output"] for r in records}
    copy = tmp_path / "scratch"
    shutil.copytree(run, copy)
    shutil.rmtree(copy / "color_vqa" / "scoring")
    for name in ("scores.jsonl", "predictions.jsonl", "finished.json", "results.json"):
        (copy / "color_vqa" / name).unlink()
    again = rescore(copy, tasks=["color_vqa"], argv=["test"])
    assert again["color_vqa"].to_dict() == first.results["color_vqa"].to_dict()
    for name in ("scores.jsonl", "predictions.jsonl", "results.json"):
        assert (copy / "color_vqa" / name).read_bytes() == (run / "color_vqa" / name).read_bytes()
