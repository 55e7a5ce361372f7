import pytest

from ming_eval.core.results import Prediction, SampleScore, Status
from ming_eval.errors import RunStoreError
from ming_eval.store.run_store import RunStore


def test_successful_record_beats_failed(tmp_path):
    ts = RunStore.create(tmp_path / "run").task("t")
    with ts.record_writer(0) as w:
        w.write(Prediction("1", Status.FAILED, error="boom").to_record())
        w.write(Prediction("2", Status.OK, output="x").to_record())
    with ts.record_writer(1) as w:
        w.write(Prediction("1", Status.OK, output="y").to_record())
        w.write(Prediction("2", Status.FAILED, error="late failure").to_record())
    preds = ts.read_predictions()
    assert preds["1"].output == "y" and preds["2"].output == "x"
    assert ts.finished_ids(retry_failed=True) == {"1", "2"}


def test_failed_ids_are_done_unless_retried(tmp_path):
    ts = RunStore.create(tmp_path / "run").task("t")
    with ts.record_writer(0) as w:
        w.write(Prediction("1", Status.FAILED, error="boom").to_record())
    assert ts.finished_ids(retry_failed=False) == {"1"}
    assert ts.finished_ids(retry_failed=True) == set()


def test_reset_scoring_moves_old_scores_aside(tmp_path):
    ts = RunStore.create(tmp_path / "run").task("t")
    assert ts.reset_scoring({"v": 1}) is None
    with ts.score_writer(0) as w:
        w.write(SampleScore("1", 1.0).to_record())
    moved = ts.reset_scoring({"v": 2})
    assert moved is not None and (moved / "rank-00000.jsonl").is_file()
    assert ts.read_scores() == {} and ts.scoring_fingerprint() == {"v": 2}


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunStoreError, match="cannot write to the output directory"):
        RunStore.create(blocker / "run")


def test_open_existing_requires_manifest(tmp_path):
    (tmp_path / "r").mkdir()
    with pytest.raises(RunStoreError, match=r"no manifest.json"):
        RunStore.open_existing(tmp_path / "r")


def test_old_format_is_refused(tmp_path):
    store = RunStore.create(tmp_path / "r")
    store.manifest_path.write_text('{"format": "ming-eval-run/0"}')
    with pytest.raises(RunStoreError, match="has format 'ming-eval-run/0'"):
        store.read_manifest()


def test_a_verdict_after_a_retry_wins_over_judge_unavailable(tmp_path):
    ts = RunStore.create(tmp_path / "run").task("t")
    pred = Prediction("1", Status.OK, output="x")
    # the verdict lands in an earlier rank file than the unavailable record it replaces
    with ts.score_writer(0) as w:
        w.write_score(SampleScore("1", 1.0, status="ok"), pred)
    with ts.score_writer(1) as w:
        w.write_score(SampleScore("1", 0.0, status="judge_unavailable"), pred)
        w.write_score(SampleScore("2", 0.0, status="judge_unavailable"), Prediction("2", Status.OK, output="y"))
    scores = ts.read_scores({"1": pred, "2": Prediction("2", Status.OK, output="y")})
    assert scores["1"].status == "ok" and scores["1"].score == 1.0
    assert scores["2"].status == "judge_unavailable"


def test_malformed_records_name_their_file(tmp_path):
    ts = RunStore.create(tmp_path / "run").task("t")
    with ts.score_writer(0) as w:
        w.write({"id": "1", "score": 1.0})
        w.write({"id": "2"})  # no score
    with pytest.raises(RunStoreError, match=r"scoring/rank-00000.jsonl: record 2 is malformed \(KeyError"):
        ts.read_scores()


def test_results_and_manifest_that_are_not_ours(tmp_path):
    store = RunStore.create(tmp_path / "r")
    store.manifest_path.write_text("[1, 2]")
    with pytest.raises(RunStoreError, match="is not a ming-eval manifest"):
        store.read_manifest()
    ts = store.task("t")
    ts.dir.mkdir()
    ts.results_path.write_text('{"task": "t", "primary": "overall", "metrics": {"acc": {"value": 1.0}}}')
    with pytest.raises(RunStoreError, match="primary metric 'overall' of task 't' is not among its metrics"):
        ts.read_results()
