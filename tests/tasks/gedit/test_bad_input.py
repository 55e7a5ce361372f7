"""GEdit-Bench with bad input: each a clear message or a counted status, nothing scored lost."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from ming_eval.core.results import Prediction, Status
from ming_eval.core.sample import EditRequest, ImagePart, ImageRef, Sample, UnderstandRequest
from ming_eval.errors import DataError
from ming_eval.graders.base import DecodeSettings, Grader, GraderReply
from ming_eval.store.run_store import RunStore
from ming_eval.tasks.gedit.data import read_rows
from ming_eval.tasks.gedit.task import GEditScorer
from ming_eval.tasks.gedit.viescore import VieScorePrompts
from ming_eval.tasks.vlm.protocol_source import PythonSource
from tests.tasks.gedit.helpers import png, rows, write_dataset, write_standin
from tests.tasks.gedit.test_gedit import make_task


class ScriptedGrader(Grader):
    """Answers SC with ``sc`` and PQ with ``pq`` (or fails), and keeps every request."""

    def __init__(self, sc: str | None, pq: str | None) -> None:
        super().__init__()
        self.identity = "endpoint:scripted@test"
        self.sc, self.pq = sc, pq
        self.requests: list[UnderstandRequest] = []

    def _answer(self, requests: Sequence[UnderstandRequest], settings: DecodeSettings) -> list[GraderReply]:
        self.requests.extend(requests)
        out = []
        for r in requests:
            text = self.sc if len(r.images) == 2 else self.pq
            out.append(GraderReply(text=text) if text is not None else GraderReply(error="endpoint down (503)"))
        return out


def scorer_for(tmp_path: Path, grader: Grader) -> GEditScorer:
    path = tmp_path / "vie_prompts.py"
    write_standin(path)
    prompts = VieScorePrompts.read(PythonSource(path, "stand-in"))
    return GEditScorer(prompts, grader, DecodeSettings(max_tokens=1400, temperature=1.0), "text_first", 3)


def edit_case(tmp_path: Path, edit_size: tuple[int, int], source_size: tuple[int, int] = (32, 24)):
    source = ImageRef.from_bytes(png((10, 20, 30), source_size), "row 1 input_image")
    sample = Sample("0001", EditRequest(source, "make it red"), meta={"task_type": "color_alter"})
    (tmp_path / "out").mkdir(exist_ok=True)
    Image.new("RGB", edit_size, (200, 0, 0)).save(tmp_path / "out" / "0001.png")
    return sample, Prediction("0001", Status.OK, output=["0001.png"], images_root=tmp_path / "out")


def test_an_edit_of_another_size_is_resized_to_its_source_and_counted(tmp_path):
    grader = ScriptedGrader('{"score": [6, 8]}', "[9, 7]")
    sample, pred = edit_case(tmp_path, (64, 64))
    [score] = scorer_for(tmp_path, grader).score([(sample, pred)])
    assert score.status == "ok" and score.score == pytest.approx((6 * 7) ** 0.5)
    assert score.details["resized_from"] == [64, 64]
    assert {r.images[-1].load().size for r in grader.requests} == {(32, 24)}  # as upstream: judged at source size
    task = make_task()
    from ming_eval.core.task import TaskContext
    from ming_eval.data.files import DataFiles

    sample.meta.update({"intersection": True, "language": "en"})
    result = task.aggregate([sample], [score], TaskContext(protocol=None, data=DataFiles("g", [])))  # type: ignore[arg-type]
    assert any("1 edited images had another size" in n for n in result.notes)
    assert not result.comparable  # one task type of eleven


def test_an_undecodable_edit_is_a_counted_scoring_failure(tmp_path):
    sample, pred = edit_case(tmp_path, (32, 24))
    (tmp_path / "out" / "0001.png").write_bytes(b"not an image")
    [score] = scorer_for(tmp_path, ScriptedGrader("[5, 5]", "[5, 5]")).score([(sample, pred)])
    assert score.status == "scoring_failed" and "0001.png" in score.reason


def test_a_judge_that_answers_off_the_scale_is_unparsed_not_scored(tmp_path):
    sample, pred = edit_case(tmp_path, (32, 24))
    [score] = scorer_for(tmp_path, ScriptedGrader('{"score": [12, 3]}', "[7, 7]")).score([(sample, pred)])
    assert score.status == "judge_unparsed" and score.score == 0.0
    assert "outside the 0-10 scale" in score.reason
    assert score.details["replies"] == [['{"score": [12, 3]}', "[7, 7]"]]


def test_an_unreadable_reply_is_asked_again_then_unparsed_with_its_replies(tmp_path):
    grader = ScriptedGrader("no idea", "[7, 7]")
    sample, pred = edit_case(tmp_path, (32, 24))
    [score] = scorer_for(tmp_path, grader).score([(sample, pred)])
    assert len(grader.requests) == 4  # SC and PQ, then both again, as upstream
    assert score.status == "judge_unparsed" and score.details["replies"] == [["no idea", "[7, 7]"]] * 2


def test_a_judge_outage_is_judge_unavailable(tmp_path):
    sample, pred = edit_case(tmp_path, (32, 24))
    [score] = scorer_for(tmp_path, ScriptedGrader('{"score": [6, 8]}', None)).score([(sample, pred)])
    assert score.status == "judge_unavailable" and "503" in score.reason


def test_a_parquet_file_without_the_datasets_columns_is_refused(tmp_path):
    records = rows(per_group=1, languages=("en",))
    for r in records:
        del r["Intersection_exist"]
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "d").mkdir()
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "d" / "train.parquet")
    with pytest.raises(DataError, match="Intersection_exist"):
        read_rows(tmp_path / "d", "gedit_bench")


def test_an_undecodable_source_image_names_its_row(tmp_path):
    from ming_eval.core.task import TaskContext
    from ming_eval.data.files import DataFiles

    records = rows(per_group=1, languages=("en",))
    records[3]["input_image"] = {"bytes": b"\x89PNG broken", "path": "x.png"}
    folder = write_dataset(tmp_path / "d", records)
    task = make_task(parquet_dir=str(folder))
    samples = task.samples(TaskContext(protocol=None, data=DataFiles("gedit_bench", [])))  # type: ignore[arg-type]
    assert len(samples) == 11
    with pytest.raises(DataError, match=r"row 4 \(key 0300\)"):
        samples[3].request.image.load()  # type: ignore[union-attr]


def test_import_refuses_a_folder_without_upstreams_layout_or_with_missing_edits(tmp_path):
    from ming_eval.core.task import TaskContext
    from ming_eval.data.files import DataFiles

    folder = write_dataset(tmp_path / "d", rows(per_group=1, languages=("en",)))
    task = make_task(parquet_dir=str(folder))
    samples = task.samples(TaskContext(protocol=None, data=DataFiles("gedit_bench", [])))  # type: ignore[arg-type]
    store = RunStore.create(tmp_path / "run").task("gedit_bench")
    with pytest.raises(DataError, match="no fullset/ folder"):
        task.import_outputs(tmp_path / "method", samples, store)
    for s in samples[:5]:
        path = tmp_path / "method" / task.image_relpath(s, 0)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png((1, 2, 3), (8, 8)))
    with pytest.raises(DataError, match="6 of 11 edited images are missing"):
        task.import_outputs(tmp_path / "method", samples, store)
    assert task.import_outputs(tmp_path / "method", samples, store, allow_incomplete=True) == 5


def test_images_part_order_for_the_qwen_backbone(tmp_path):
    grader = ScriptedGrader("[6, 6]", "[6, 6]")
    scorer = scorer_for(tmp_path, grader)
    scorer.order = "images_first"
    sample, pred = edit_case(tmp_path, (32, 24))
    scorer.score([(sample, pred)])
    assert all(isinstance(r.content[0], ImagePart) for r in grader.requests)


def test_offline_without_the_dataset_says_how_to_place_it(tmp_path, monkeypatch):
    from ming_eval.core.task import TaskContext
    from ming_eval.data.files import DataFiles

    monkeypatch.setenv("MING_EVAL_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    task = make_task()
    ctx = TaskContext(protocol=None, data=DataFiles("gedit_bench", [], cache_dir=tmp_path / "c"))  # type: ignore[arg-type]
    with pytest.raises(DataError) as info:
        task.samples(ctx)
    message = f"{info.value.message} {info.value.hint}"
    assert "stepfun-ai/GEdit-Bench at revision main" in message and "offline" in message
    assert "ming-eval data download gedit_bench" in message and "parquet_dir" in message
