"""Re-running and re-scoring a finished run does only what changed: no model load, no rewritten
file, no interval resampled whose inputs are the same."""

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ming_eval.core.results import Prediction, SampleScore
from ming_eval.core.sample import Sample
from ming_eval.core.task import TaskContext
from ming_eval.runner.evaluate import RunConfig, evaluate
from ming_eval.runner.rescore import rescore
from ming_eval.stats.bootstrap import IntervalCache, mean_metric, mean_of_means_metric
from tests.engine_plugins import ColorVqaTask, ExactMatchScorer, PixelModel


def _config(tmp_path: Path) -> RunConfig:
    return RunConfig(tasks=["color_vqa", "paint"], model="pixel", out=tmp_path / "run", argv=["test"])


def _file_states(run: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every file of the run but the manifest (which records each invocation)."""
    return {
        str(p.relative_to(run)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in run.rglob("*")
        if p.is_file() and p.name not in ("manifest.json", ".lock") and not p.name.startswith(".")
    }


def test_rerun_of_finished_run_loads_no_model_and_rewrites_nothing(engine_cards: Path, tmp_path: Path) -> None:
    first = evaluate(_config(tmp_path))
    run = tmp_path / "run"
    before = _file_states(run)
    assert "color_vqa/finished.json" in before and "paint/scoring/intervals.json" in before
    loads = PixelModel.loads
    again = evaluate(_config(tmp_path))
    assert PixelModel.loads == loads and not again.model_loaded
    assert {k: v.to_dict() for k, v in again.results.items()} == {k: v.to_dict() for k, v in first.results.items()}
    assert [(s.total, s.already_done) for s in again.inference] == [(24, 24), (6, 6)]
    assert _file_states(run) == before


def test_changed_record_or_image_makes_the_task_run_again(engine_cards: Path, tmp_path: Path) -> None:
    evaluate(_config(tmp_path))
    run = tmp_path / "run"
    records = run / "color_vqa" / "records" / "rank-00000.jsonl"
    lines = records.read_text().splitlines(keepends=True)
    records.write_text("".join(lines[:-1]))  # the last sample's record is gone
    image = next((run / "paint" / "images").rglob("*.png"))
    image.unlink()
    loads = PixelModel.loads
    again = evaluate(_config(tmp_path))
    assert again.model_loaded and PixelModel.loads == loads + 1
    ran = {s.task: s.ran_here for s in again.inference}
    assert ran == {"color_vqa": 1, "paint": 1}
    assert again.results["color_vqa"].counts["missing"] == 0 and image.is_file()


def test_a_stamp_edited_to_name_no_image_paths_makes_the_task_resume(engine_cards: Path, tmp_path: Path) -> None:
    evaluate(_config(tmp_path))
    stamp = tmp_path / "run" / "paint" / "finished.json"
    data = json.loads(stamp.read_text())
    stamp.write_text(json.dumps({**data, "images": [1, None]}))  # a traceback before, not a resume
    again = evaluate(_config(tmp_path))
    assert [(s.total, s.already_done) for s in again.inference] == [(24, 24), (6, 6)]
    assert json.loads(stamp.read_text())["images"] == data["images"]  # the full resume path rewrote it


def test_rescore_of_unchanged_run_rewrites_nothing(engine_cards: Path, tmp_path: Path) -> None:
    first = evaluate(_config(tmp_path))
    run = tmp_path / "run"
    before = _file_states(run)
    results = rescore(run, argv=["test"])
    assert {k: v.to_dict() for k, v in results.items()} == {k: v.to_dict() for k, v in first.results.items()}
    assert _file_states(run) == before


def test_cached_interval_is_reused_only_for_the_same_scores(tmp_path: Path) -> None:
    values = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    strata = ["a", "b"] * 5
    path = tmp_path / "intervals.json"
    cold = IntervalCache(path)
    with cold.active():
        m1, s1 = mean_metric(values, scale=100), mean_of_means_metric(values, strata)
    cold.save()
    assert cold.hits == 0
    warm = IntervalCache(path)
    with warm.active():
        m2, s2 = mean_metric(values, scale=100), mean_of_means_metric(values, strata)
    assert warm.hits == 2 and (m2.ci_low, m2.ci_high, s2.ci_low, s2.ci_high) == (
        m1.ci_low,
        m1.ci_high,
        s1.ci_low,
        s1.ci_high,
    )
    changed = values.copy()
    changed[1] = 1.0  # one score changed: both intervals are resampled, and match an uncached run
    after = IntervalCache(path)
    with after.active():
        m3, s3 = mean_metric(changed, scale=100), mean_of_means_metric(changed, strata)
    fresh_m, fresh_s = mean_metric(changed, scale=100), mean_of_means_metric(changed, strata)
    assert after.hits == 0
    assert (m3.ci_low, m3.ci_high) == (fresh_m.ci_low, fresh_m.ci_high) != (m1.ci_low, m1.ci_high)
    assert (s3.ci_low, s3.ci_high) == (fresh_s.ci_low, fresh_s.ci_high)


def test_rescore_after_a_score_changed_recomputes_its_interval(engine_cards: Path, tmp_path: Path) -> None:
    first = evaluate(_config(tmp_path))
    scores = tmp_path / "run" / "color_vqa" / "scoring" / "rank-00000.jsonl"
    recs = [json.loads(line) for line in scores.read_text().splitlines()]
    flipped = next(r for r in recs if r["score"] == 1.0)
    flipped.update(score=0.0, correct=False)
    scores.write_text("".join(json.dumps(r) + "\n" for r in recs))
    results = rescore(tmp_path / "run", tasks=["color_vqa"], argv=["test"])
    old, new = first.results["color_vqa"].primary_metric, results["color_vqa"].primary_metric
    expected = mean_metric([r["score"] for r in recs], scale=old.scale)
    assert new.value < old.value
    assert (new.ci_low, new.ci_high) == (expected.ci_low, expected.ci_high)


def test_prediction_digest_is_the_same_as_stored_by_earlier_versions() -> None:
    """Scores stored by earlier runs carry this digest: it must not change."""
    import hashlib

    from ming_eval.core.results import Prediction, Status

    cases = [
        Prediction("1", Status.OK, output="B"),
        Prediction("2", Status.OK, output='quote " tab \t ünïcode 中文 \\ end'),
        Prediction("3", Status.FAILED, error="timeout: 😀", output=""),
        Prediction("4", Status.OK, output=["a.png"], files=[[1, 2]]),
        Prediction("5", Status.FAILED),
    ]
    for pred in cases:
        payload = json.dumps([pred.status.value, pred.output, pred.error, pred.files], sort_keys=True, default=str)
        assert pred.digest == hashlib.sha1(payload.encode("utf-8")).hexdigest()[:16]


class _Calls:
    """How often a finished run's re-score built the task's samples or called its scorer."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.samples = 0
        self.scored: list[str] = []
        build, score = ColorVqaTask.samples, ExactMatchScorer.score

        def counted_samples(task: ColorVqaTask, ctx: TaskContext) -> list[Sample]:
            self.samples += 1
            return build(task, ctx)

        def counted_score(scorer: ExactMatchScorer, batch: Sequence[tuple[Sample, Prediction]]) -> list[SampleScore]:
            self.scored.extend(s.id for s, _ in batch)
            return score(scorer, batch)

        monkeypatch.setattr(ColorVqaTask, "samples", counted_samples)
        monkeypatch.setattr(ExactMatchScorer, "score", counted_score)


def test_rescore_of_unchanged_run_builds_no_sample_and_calls_no_scorer(
    engine_cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = evaluate(_config(tmp_path))
    run = tmp_path / "run"
    before = _file_states(run)
    calls = _Calls(monkeypatch)
    for _ in range(2):  # the stamp `run` wrote serves `score`, and the one `score` keeps serves it again
        results = rescore(run, argv=["test"])
        assert results["color_vqa"].to_dict() == first.results["color_vqa"].to_dict()
    assert (calls.samples, calls.scored) == (0, [])
    assert _file_states(run) == before
    again = evaluate(_config(tmp_path))  # and `run` after `score` still finds the task finished
    assert not again.model_loaded and calls.samples == 0


def test_rescore_after_one_record_changed_scores_only_that_sample(
    engine_cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = evaluate(_config(tmp_path))
    run = tmp_path / "run"
    records = run / "color_vqa" / "records" / "rank-00000.jsonl"
    recs = [json.loads(line) for line in records.read_text().splitlines()]
    right = next(r for r in recs if first_score(run, r["id"]) == 1.0)
    right["output"] = "no colour at all"
    records.write_text("".join(json.dumps(r) + "\n" for r in recs))
    results_before = _file_states(run)["paint/results.json"]
    calls = _Calls(monkeypatch)
    results = rescore(run, argv=["test"])
    assert calls.samples == 1 and calls.scored == [right["id"]]
    n = first.results["color_vqa"].counts["n"]
    assert results["color_vqa"].primary_metric.value == pytest.approx(
        first.results["color_vqa"].primary_metric.value - 100.0 / n
    )
    merged = {json.loads(line)["id"]: json.loads(line) for line in (run / "color_vqa" / "scores.jsonl").open()}
    assert merged[right["id"]]["score"] == 0.0
    assert _file_states(run)["paint/results.json"] == results_before  # the other task was not touched
    # the stamp now holds the new state: the next re-score reads it back
    calls.samples = 0
    rescore(run, argv=["test"])
    assert (calls.samples, calls.scored) == (0, [right["id"]])


def test_rescore_with_another_option_scores_again_and_restamps(
    engine_cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluate(_config(tmp_path))
    run = tmp_path / "run"
    calls = _Calls(monkeypatch)
    rescore(run, tasks=["color_vqa"], task_options={"color_vqa": {"lowercase": False}}, argv=["test"])
    assert calls.samples == 1 and len(calls.scored) == 24  # another scoring fingerprint: every sample
    rescore(run, tasks=["color_vqa"], task_options={"color_vqa": {"lowercase": False}}, argv=["test"])
    assert calls.samples == 1 and len(calls.scored) == 24  # the same option again: read back
    rescore(run, tasks=["color_vqa"], argv=["test"])  # back to the run's option: scored again
    assert calls.samples == 2 and len(calls.scored) == 48


def first_score(run: Path, sample_id: str) -> float:
    for line in (run / "color_vqa" / "scores.jsonl").open():
        rec = json.loads(line)
        if rec["id"] == sample_id:
            return float(rec["score"])
    raise AssertionError(sample_id)


def test_rescore_after_the_data_file_was_replaced_rebuilds_samples_but_keeps_scores(
    engine_cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = evaluate(_config(tmp_path))
    data = Path(os.environ["MING_EVAL_CACHE"]) / "data" / "color_vqa" / "vqa.jsonl"
    st = data.stat()
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the same rows, written again
    calls = _Calls(monkeypatch)
    results = rescore(tmp_path / "run", tasks=["color_vqa"], argv=["test"])
    assert calls.samples == 1 and calls.scored == []  # its samples are read again; every score still holds
    assert results["color_vqa"].to_dict() == first.results["color_vqa"].to_dict()
    rescore(tmp_path / "run", tasks=["color_vqa"], argv=["test"])
    assert calls.samples == 1  # stamped again under the file's new signature


def _append_records(run: Path, task: str, recs: list[dict[str, object]]) -> None:
    with (run / task / "records" / "rank-00000.jsonl").open("a", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in recs)


def _scored_from_scratch(run: Path, copy: Path) -> tuple[dict[str, object], bytes, bytes]:
    """Results, scores.jsonl and predictions.jsonl of color_vqa when the same records are scored with
    no score, merged file or stamp kept (a copy of ``run``)."""
    import shutil

    shutil.copytree(run, copy)
    task = copy / "color_vqa"
    shutil.rmtree(task / "scoring")
    for name in ("scores.jsonl", "predictions.jsonl", "finished.json", "results.json"):
        (task / name).unlink()
    results = rescore(copy, tasks=["color_vqa"], argv=["test"])
    return (
        results["color_vqa"].to_dict(),
        (task / "scores.jsonl").read_bytes(),
        (task / "predictions.jsonl").read_bytes(),
    )


def _rank_file_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The rank files of scores read from disk from now on."""
    from ming_eval.store import jsonl

    reads: list[str] = []
    read = jsonl.AppendedReader.read

    def counted(reader: jsonl.AppendedReader[object], path: Path) -> list[object]:
        if path.parent.name == "scoring":
            reads.append(path.name)
        return read(reader, path)

    monkeypatch.setattr(jsonl.AppendedReader, "read", counted)
    return reads


def test_rescore_after_a_record_was_appended_rescores_that_sample_and_keeps_every_other_line(
    engine_cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = evaluate(_config(tmp_path))
    run = tmp_path / "run"
    task = run / "color_vqa"
    records = [json.loads(line) for line in (task / "records" / "rank-00000.jsonl").read_text().splitlines()]
    right = next(r for r in records if first_score(run, r["id"]) == 1.0)
    scores_before = (task / "scores.jsonl").read_text().splitlines()
    preds_before = (task / "predictions.jsonl").read_text().splitlines()
    _append_records(run, "color_vqa", [{**right, "output": "no colour at all"}])  # what a re-run appends
    calls, reads = _Calls(monkeypatch), _rank_file_reads(monkeypatch)
    results = rescore(run, tasks=["color_vqa"], argv=["test"])
    assert calls.scored == [right["id"]] and reads == []  # the other scores come from scores.jsonl
    n = first.results["color_vqa"].counts["n"]
    assert results["color_vqa"].primary_metric.value == pytest.approx(
        first.results["color_vqa"].primary_metric.value - 100.0 / n
    )
    scores_after = (task / "scores.jsonl").read_text().splitlines()
    preds_after = (task / "predictions.jsonl").read_text().splitlines()
    changed = [i for i, (a, b) in enumerate(zip(scores_before, scores_after, strict=True)) if a != b]
    assert [json.loads(scores_after[i])["id"] for i in changed] == [right["id"]]
    assert json.loads(scores_after[changed[0]])["score"] == 0.0
    assert [i for i, (a, b) in enumerate(zip(preds_before, preds_after, strict=True)) if a != b] == changed
    assert json.loads(preds_after[changed[0]])["output"] == "no colour at all"
    # exactly what scoring the same records from nothing gives
    scratch = _scored_from_scratch(run, tmp_path / "scratch")
    assert scratch == (
        results["color_vqa"].to_dict(),
        (task / "scores.jsonl").read_bytes(),
        (task / "predictions.jsonl").read_bytes(),
    )
    assert json.loads((task / "results.json").read_text()) == json.loads(
        (tmp_path / "scratch" / "color_vqa" / "results.json").read_text()
    )
    # and the stamp now holds this state: a second record appended is again the only sample scored
    second = next(r for r in records if r["id"] != right["id"])
    _append_records(run, "color_vqa", [{**second, "output": "purple"}])
    calls.scored.clear()
    reads.clear()
    rescore(run, tasks=["color_vqa"], argv=["test"])
    assert calls.scored == [second["id"]] and reads == []


def test_a_record_appended_with_the_same_prediction_keeps_its_score(
    engine_cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = evaluate(_config(tmp_path))
    run = tmp_path / "run"
    records = (run / "color_vqa" / "records" / "rank-00000.jsonl").read_text().splitlines()
    scores = (run / "color_vqa" / "scores.jsonl").read_bytes()
    _append_records(run, "color_vqa", [json.loads(records[3]), {**json.loads(records[5]), "status": "failed"}])
    calls = _Calls(monkeypatch)
    results = rescore(run, tasks=["color_vqa"], argv=["test"])
    assert calls.scored == []  # the same answer again, and a failure after a success: nothing to score
    assert results["color_vqa"].to_dict() == first.results["color_vqa"].to_dict()
    assert (run / "color_vqa" / "scores.jsonl").read_bytes() == scores


@pytest.mark.parametrize("change", ["stamp without checksums", "record edited in place"])
def test_rescore_reads_every_score_again_when_more_than_appended_records_changed(
    engine_cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    evaluate(_config(tmp_path))
    run = tmp_path / "run"
    task = run / "color_vqa"
    path = task / "records" / "rank-00000.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    edited, appended = records[0], records[1]
    if change == "stamp without checksums":  # as an earlier version wrote it
        stamp = json.loads((task / "finished.json").read_text())
        del stamp["records"]
        (task / "finished.json").write_text(json.dumps(stamp))
        expected = [appended["id"]]
    else:  # a byte of the part the stamp checksummed differs; the file only grew
        text = path.read_text()
        line = text.splitlines()[0]
        flipped = json.dumps({**edited, "output": "wrong"}, separators=(",", ":"))
        path.write_text(text.replace(line, flipped.ljust(len(line)), 1))
        expected = sorted([edited["id"], appended["id"]])
    _append_records(run, "color_vqa", [{**appended, "output": "no colour at all"}])
    calls, reads = _Calls(monkeypatch), _rank_file_reads(monkeypatch)
    results = rescore(run, tasks=["color_vqa"], argv=["test"])
    assert sorted(calls.scored) == expected and reads == ["rank-00000.jsonl"]
    scratch = _scored_from_scratch(run, tmp_path / "scratch")
    assert scratch == (
        results["color_vqa"].to_dict(),
        (task / "scores.jsonl").read_bytes(),
        (task / "predictions.jsonl").read_bytes(),
    )


def _swap_lines(path: Path, i: int, j: int) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[i], lines[j] = lines[j], lines[i]
    path.write_text("".join(lines))


@pytest.mark.parametrize(
    "change",
    [
        "records reordered",
        "last record cut and appended again",
        "record in a new rank file",
        "scores.jsonl reordered",
        "predictions.jsonl edited",
        "scores rank file removed",
    ],
)
def test_rescore_after_records_and_merged_files_changed_equals_scoring_from_nothing(
    engine_cards: Path, tmp_path: Path, change: str
) -> None:
    # whatever else changed beside an appended record, no stored score is kept for the wrong sample
    # or the wrong prediction: the result and the merged files are those of scoring from nothing
    first = evaluate(_config(tmp_path))
    run = tmp_path / "run"
    task = run / "color_vqa"
    path = task / "records" / "rank-00000.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    records = [json.loads(line) for line in lines]
    right = next(r for r in records if first_score(run, r["id"]) == 1.0)
    appended = [{**right, "output": "no colour at all"}]
    if change == "records reordered":  # the later of two records of a sample is the one scored
        _append_records(run, "color_vqa", appended)
        rescore(run, tasks=["color_vqa"], argv=["test"])  # stamped with that sample wrong
        _swap_lines(path, records.index(right), len(lines))  # now its first answer, right, is the later
        other = next(r for r in reversed(records) if r["id"] != right["id"])
        appended = [{**other, "output": "no colour at all"}]
    elif change == "last record cut and appended again":
        path.write_text("".join(lines[:-1]))
        appended.append(records[-1])
    elif change == "scores.jsonl reordered":
        _swap_lines(task / "scores.jsonl", 0, 1)
    elif change == "predictions.jsonl edited":
        preds = task / "predictions.jsonl"
        preds.write_text(preds.read_text().replace('"output":"', '"output":"x', 1))
    elif change == "scores rank file removed":
        next((task / "scoring").glob("rank-*.jsonl")).unlink()
    if change == "record in a new rank file":
        (task / "records" / "rank-00001.jsonl").write_text("".join(json.dumps(r) + "\n" for r in appended))
    else:
        _append_records(run, "color_vqa", appended)
    results = rescore(run, tasks=["color_vqa"], argv=["test"])
    assert results["color_vqa"].counts["n"] == first.results["color_vqa"].counts["n"]
    assert _scored_from_scratch(run, tmp_path / "scratch") == (
        results["color_vqa"].to_dict(),
        (task / "scores.jsonl").read_bytes(),
        (task / "predictions.jsonl").read_bytes(),
    )


@pytest.mark.parametrize("case", ["write cut short by a kill", "failed sample answered by a retry", "outside --limit"])
def test_what_a_killed_or_limited_rerun_appended_is_scored_as_scoring_from_nothing_scores_it(
    engine_cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    # what `run --retry-failed` leaves when it is killed before scoring, then `score RUN`: only the
    # appended records' samples are looked at again, and the outcome is that of scoring from nothing
    limit = 10 if case == "outside --limit" else None
    cfg = RunConfig(tasks=["color_vqa"], model="pixel", out=tmp_path / "run", argv=["test"], limit=limit)
    first = evaluate(cfg)
    run = tmp_path / "run"
    path = run / "color_vqa" / "records" / "rank-00000.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    right = next(r for r in records if first_score(run, r["id"]) == 1.0)
    if case == "write cut short by a kill":  # one record, and the start of one whose write was cut short
        _append_records(run, "color_vqa", [{**right, "output": "no colour at all"}])
        with path.open("a") as fh:
            fh.write(json.dumps(records[0])[:20])
    elif case == "failed sample answered by a retry":  # stamped with its inference failed
        failed = {**right, "status": "failed", "output": None, "error": "timeout"}
        path.write_text("".join(json.dumps(failed if r is right else r) + "\n" for r in records))
        assert rescore(run, tasks=["color_vqa"], argv=["test"])["color_vqa"].counts["inference_failed"] == 1
        _append_records(run, "color_vqa", [right])
    else:  # a record of a sample the run's --limit leaves out, and one of a sample it has
        _append_records(run, "color_vqa", [{**records[0], "id": "20"}, {**right, "output": "no colour at all"}])
    calls, reads = _Calls(monkeypatch), _rank_file_reads(monkeypatch)
    results = rescore(run, tasks=["color_vqa"], argv=["test"])
    assert calls.scored == [right["id"]] and reads == []
    assert results["color_vqa"].counts["n"] == first.results["color_vqa"].counts["n"]
    assert _scored_from_scratch(run, tmp_path / "scratch") == (
        results["color_vqa"].to_dict(),
        (run / "color_vqa" / "scores.jsonl").read_bytes(),
        (run / "color_vqa" / "predictions.jsonl").read_bytes(),
    )
