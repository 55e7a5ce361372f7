import json
from pathlib import Path
from typing import Any

import pytest

from ming_eval.core.results import Prediction, SampleScore, Status
from ming_eval.core.sample import Sample, TextPart, UnderstandRequest
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


def test_a_malformed_record_appended_after_a_read_is_named_by_its_place_in_the_file(tmp_path):
    ts = RunStore.create(tmp_path / "run").task("t")
    with ts.record_writer(0) as w:
        w.write({"id": "1", "status": "ok", "output": "a"})
        w.write({"id": "2", "status": "ok", "output": "b"})
    assert sorted(ts.read_predictions()) == ["1", "2"]
    with (ts.records_dir / "rank-00000.jsonl").open("a") as fh:  # only these two are parsed next
        fh.write('{"id": "3", "status": "ok", "output": "c"}\n{"id": "4", "status": "done"}\n')
    with pytest.raises(RunStoreError, match=r"records/rank-00000.jsonl: record 4 is malformed \(ValueError"):
        ts.read_predictions()


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


V1_MANIFEST = Path(__file__).parent / "data" / "manifest_v1.json"


def _run_with_manifest(tmp_path: Path, data: Any) -> RunStore:
    store = RunStore.create(tmp_path / "r")
    store.manifest_path.write_text(json.dumps(data))
    return store


def test_a_manifest_written_before_the_schema_loads_and_is_rewritten_unchanged(tmp_path):
    """manifest_v1.json was written by the dict-based code (a `run --limit 3` then a `score`)."""
    text = V1_MANIFEST.read_text()
    store = _run_with_manifest(tmp_path, json.loads(text))
    manifest = store.read_manifest()
    assert manifest is not None
    assert list(manifest.tasks) == ["color_vqa", "paint"] and manifest.limits == {"color_vqa": 3, "paint": 3}
    assert manifest.tasks["paint"].seed == 7 and manifest.tasks["paint"].protocol["height"] == 8
    run, score = manifest.invocations
    assert (run.command, run.limit, run.tasks, run.forced_differences) == ("run", 3, ["color_vqa", "paint"], [])
    assert score.command == "score" and score.limit is None and score.git is not None and not score.git.dirty
    assert manifest.model.card["name"] == "pixel" and manifest.model.checkpoint == "none"
    store.write_manifest(manifest)
    assert store.manifest_path.read_text() == text  # same keys, same order, same values


def test_unknown_keys_survive_a_rewrite(tmp_path):
    data = json.loads(V1_MANIFEST.read_text())
    data["invocations"][1]["queue"] = "night"
    data["annotations"] = {"by": "a newer ming-eval"}
    store = _run_with_manifest(tmp_path, data)
    manifest = store.read_manifest()
    assert manifest is not None
    store.write_manifest(manifest)
    assert json.loads(store.manifest_path.read_text()) == data


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda d: d["tasks"]["paint"].pop("protocol"), "missing required key 'tasks.paint.protocol'"),
        (lambda d: d.pop("created"), "missing required key 'created'"),
        (lambda d: d["tasks"]["paint"].update(seed="seven"), "tasks.paint.seed: Input should be a valid integer"),
        (
            lambda d: d["invocations"][0].update(argv="ming-eval run"),
            "invocations[0].argv: Input should be a valid list",
        ),
        (lambda d: d["model"].update(card=None), "model.card: Input should be a valid dictionary"),
    ],
)
def test_a_damaged_manifest_is_a_run_store_error_naming_file_and_key(tmp_path, edit, problem):
    data = json.loads(V1_MANIFEST.read_text())
    edit(data)
    store = _run_with_manifest(tmp_path, data)
    with pytest.raises(RunStoreError) as err:
        store.read_manifest()
    text = str(err.value)
    assert f"{store.manifest_path} is not a valid ming-eval-run/1 manifest" in text and problem in text
    assert "run the tasks again into a new --out" in text  # the way out


def _varied_predictions() -> list[Prediction]:
    return [
        Prediction("a", Status.OK, output="plain", seed=7, elapsed_s=0.00123),
        Prediction("b", Status.OK, output='quo"te \\ new\nline é 中 \u2028', seed=None, elapsed_s=None),
        Prediction("c", Status.FAILED, error="see https://u:pw@host/v1", seed=3),
        Prediction("d", Status.OK, output=["x.png", "y.png"], files=[[1, 2], [3, 4]]),
        Prediction("e", Status.OK, output=("tu", "ple")),  # JSON gives back a list
        Prediction("f", Status.OK, output="inf", elapsed_s=float("inf")),
        Prediction("g", Status.OK, output="big", seed=2**70, elapsed_s=1e-300),
    ]


def _varied_scores() -> list[SampleScore]:
    return [
        SampleScore("a", 1.0, correct=True),
        SampleScore(
            "b", 0.25, correct=None, reason="key sk-abcdefghijklmnopqrstuvwx leaked", status="judge_unavailable"
        ),
        SampleScore("c", 0, correct=False, reason="an int score"),  # comes back as 0.0
        SampleScore("d", 0.5, details={"breakdown": {"tag": "é"}, "pair": (1, 2)}),
        SampleScore("e", float("nan")),
        SampleScore("f", 1.0, status="scoring_failed", reason='quo"te\n'),
    ]


def test_what_a_process_writes_is_kept_and_merged_exactly_as_a_fresh_read_gives(tmp_path):
    run = RunStore.create(tmp_path / "run")
    ts = run.task("t")
    assert ts.read_predictions() == {} and ts.read_scores() == {}  # nothing yet: what is written is kept
    preds = _varied_predictions()
    with ts.record_writer(0) as w:
        for pred in preds:
            w.write_prediction(pred, flush=False)
    ts.reset_scoring({"v": 1})
    assert ts.read_scores() == {}
    kept_preds = ts.read_predictions()
    with ts.score_writer(0) as w:
        for score in _varied_scores():
            w.write_score(score, kept_preds[score.id])
    fresh = RunStore(tmp_path / "run").task("t")
    assert kept_preds == fresh.read_predictions()  # values identical to reading the lines back
    assert ts.read_scores(kept_preds).keys() == fresh.read_scores(fresh.read_predictions()).keys()
    kept_scores, read_scores = ts.read_scores(kept_preds), fresh.read_scores(fresh.read_predictions())
    assert [json.dumps(s.to_record()) for s in kept_scores.values()] == [
        json.dumps(s.to_record()) for s in read_scores.values()
    ]
    assert "pw" not in kept_preds["c"].error and "sk-abc" not in kept_scores["b"].reason
    # the merged files copy the lines written: byte for byte what encoding the read-back values gives
    samples = [
        Sample(p.sample_id, UnderstandRequest((TextPart("q"),)), target=t) for p, t in zip(preds, TARGETS, strict=True)
    ]
    ts.write_predictions(samples, kept_preds)
    ts.write_scores(samples, kept_scores)
    merged = (ts.predictions_path.read_bytes(), ts.scores_path.read_bytes())
    fresh.write_predictions(samples, fresh.read_predictions())
    fresh.write_scores(samples, read_scores)
    assert merged == (fresh.predictions_path.read_bytes(), fresh.scores_path.read_bytes())
    rows = [json.loads(line) for line in merged[0].decode().split("\n")[:-1]]
    assert [r["target"] for r in rows] == [json.loads(json.dumps(t)) for t in TARGETS]
    assert rows[1]["output"] == 'quo"te \\ new\nline é 中 \u2028' and rows[4]["output"] == ["tu", "ple"]


TARGETS = ["A", 3, None, {"k": ["v", 1.5]}, "é\n", ("t",), 2.0]


def test_the_line_of_a_written_record_is_the_encoders(tmp_path):
    from ming_eval.store.jsonl import dumps

    ts = RunStore.create(tmp_path / "run").task("t")
    with ts.record_writer(0) as w:
        for pred in _varied_predictions():
            w.write_prediction(pred)
    expected = [dumps(p.to_record()) for p in _varied_predictions()]
    lines = (ts.records_dir / "rank-00000.jsonl").read_text(encoding="utf-8").split("\n")[:-1]
    assert lines[:2] + lines[3:] == expected[:2] + expected[3:]
    assert json.loads(lines[2])["error"] == "see https://<redacted>@host/v1"


class _Text(str):
    """A str subclass (JSON gives back a plain str)."""


@pytest.mark.parametrize("elapsed_s", [0.00125, None, float("nan")])
def test_a_batch_of_answers_is_written_as_the_encoder_writes_each_record(tmp_path, elapsed_s):
    from ming_eval.store.jsonl import dumps

    answers = [
        ("a", 7, "plain"),
        ("b", 0, 'quo"te \\ new\nline é 中 \u2028'),
        (3, 5, "an int id"),  # comes back as "3"
        ("d", True, "a bool seed"),  # written as true
        ("e", 9, _Text("a str subclass")),
    ]
    run = RunStore.create(tmp_path / "run")
    ts = run.task("t")
    assert ts.read_predictions() == {}  # nothing yet: what is written is kept
    with ts.record_writer(0) as w:
        w.write_answers(*zip(*answers, strict=True), elapsed_s)
    expected = [
        dumps(Prediction(str(sid), Status.OK, str(text), None, seed, elapsed_s).to_record())
        for sid, seed, text in answers
    ]
    assert ts.records_dir.joinpath("rank-00000.jsonl").read_text(encoding="utf-8") == "".join(
        line + "\n" for line in expected
    )
    kept = ts.read_predictions()
    fresh = RunStore(tmp_path / "run").task("t")
    assert kept == fresh.read_predictions()  # what was kept is what reading the file back gives
    samples = [Sample(str(sid), UnderstandRequest((TextPart("q"),)), target="A") for sid, _, _ in answers]
    ts.write_predictions(samples, kept)
    merged = ts.predictions_path.read_bytes()
    fresh.write_predictions(samples, fresh.read_predictions())
    assert merged == fresh.predictions_path.read_bytes()


@pytest.mark.parametrize(
    "odd",
    [None, SampleScore("x", 1, correct=True), SampleScore("x", 0.0, reason="why"), SampleScore("x", float("inf"))],
    ids=["all plain", "an int score", "a reason", "an infinite score"],
)
def test_a_batch_of_scores_is_written_and_merged_as_the_encoder_writes_each(
    tmp_path: Path, odd: SampleScore | None
) -> None:
    from ming_eval.store.jsonl import dumps

    ts = RunStore.create(tmp_path / "run").task("t")
    ts.reset_scoring({"v": 1})
    scores = [SampleScore(str(i), i / 3, correct=[None, True, False][i % 3], status="ok") for i in range(7)]
    if odd is not None:
        scores.insert(3, odd)
    preds = {s.id: Prediction(s.id, Status.OK, output=f"answer {s.id}") for s in scores}
    with ts.score_writer(0) as w:
        kept = w.write_scores([(s, preds[s.id]) for s in scores])
    lines = (ts.scoring_dir / "rank-00000.jsonl").read_text().splitlines()
    assert lines == [dumps({**s.to_record(), "prediction": preds[s.id].digest}) for s in scores]
    # what is kept is what reading the lines back gives, and the merged file encodes exactly that
    fresh = RunStore(tmp_path / "run").task("t")
    read = fresh.read_scores(preds)
    assert [k.to_record() for k in kept] == [s.to_record() for s in read.values()]
    samples = [Sample(s.id, UnderstandRequest((TextPart("q"),))) for s in scores]
    ts.write_scores(samples, dict(zip(preds, kept, strict=True)))
    assert ts.scores_path.read_text().splitlines() == [dumps(s.to_record()) for s in read.values()]
