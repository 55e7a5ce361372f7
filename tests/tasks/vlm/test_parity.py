"""Default scoring is VLMEvalKit's per sample, accidents included; ``quirks: fixed`` corrects them.

What VLMEvalKit (commit e8e78f05) does, read in its code:

* it scores its prediction file read back with pandas, so an empty output (and "None", "N/A", ...) is
  NaN, seen by every scorer as the text "nan" (``str(x) for x in data['prediction']``);
* ``can_infer("nan")`` names no option, so an MCQ row with an empty output goes to the judge
  (``extract_answer_from_item``); ``YOrN_Extraction("nan")`` is Unknown, so a yes/no row goes to the
  judge; ``MMVet_auxeval`` always asks the judge;
* MathVista's prefetch (``MathVista_auxeval``: ``if post_check(line, prefetch=True)``) is a truthiness
  test on the cast value, so an integer answer 0 predicted as "0" is never prefetched: the judge's
  extraction decides.
"""

from pathlib import Path

import pandas as pd
import pytest

from ming_eval.core.results import Prediction, Status
from ming_eval.tasks.vlm.base import scored_text
from ming_eval.testing.fixtures.vlm import make_hallusionbench, make_mathvista, make_mcq, make_mmvet, write_tsv
from tests.fakes.openai_server import FakeOpenAI
from tests.tasks.vlm.helpers import load, score


def use_fake(monkeypatch, fake, tmp_path):
    monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    return {"judge_cache_dir": str(tmp_path / "cache"), "judge_retries": 0}


@pytest.mark.parametrize("text", ["", "None", "N/A", "null", "nan"])
def test_outputs_pandas_reads_as_missing_are_nan_as_in_vlmevalkit(text):
    pred = Prediction("1", Status.OK, output=text)
    assert scored_text(pred, "vlmevalkit") == "nan"
    assert scored_text(pred, "fixed") == text


def test_whitespace_and_other_text_are_kept():
    assert scored_text(Prediction("1", Status.OK, output="  "), "vlmevalkit") == "  "
    assert scored_text(Prediction("1", Status.OK, output="None of them"), "vlmevalkit") == "None of them"


def mathvista_with_zero(path: Path) -> Path:
    """make_mathvista, with the integer answer of index 2 set to 0."""
    make_mathvista(path)
    rows = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False).to_dict("records")
    for row in rows:
        if row["index"] == "2":
            assert row["answer_type"] == "integer"
            row["answer"] = "0"
    return write_tsv(path, rows)


def test_mathvista_zero_is_not_prefetched_by_default(tmp_path, monkeypatch):
    def judge(prompt, body):
        return "1"  # the judge's extraction decides, and here it is wrong

    with FakeOpenAI(judge) as fake:
        task, samples, ctx = load(
            "mathvista_mini", tmp_path, mathvista_with_zero, **use_fake(monkeypatch, fake, tmp_path)
        )
        by_id = {s.id: s for s in samples}
        scores, result = score(task, ctx, [by_id["2"]], {"2": "0"})
        assert scores[0].details["how"] == "judge" and scores[0].score == 0.0
        assert len(fake.bodies) == 1
        assert result.metrics["prefetch_rate"].value == 0.0

        fixed, _, fctx = load(
            "mathvista_mini", tmp_path, mathvista_with_zero, quirks="fixed", **use_fake(monkeypatch, fake, tmp_path)
        )
        scores, _ = score(fixed, fctx, [by_id["2"]], {"2": "0"})
        assert scores[0].details["how"] == "prefetch" and scores[0].score == 1.0
        assert len(fake.bodies) == 1  # no further call


def test_mathvista_empty_output_goes_to_the_judge_as_nan(tmp_path, monkeypatch):
    with FakeOpenAI(lambda prompt, body: "4") as fake:
        task, samples, ctx = load("mathvista_mini", tmp_path, make_mathvista, **use_fake(monkeypatch, fake, tmp_path))
        two = [s for s in samples if s.id == "2"]  # integer answer 2
        scores, _ = score(task, ctx, two, {"2": ""})
        assert scores[0].details["how"] == "judge"
        assert "[reply] nan " in fake.prompts()[0]  # the stand-in prompt source (standins.py)
        fixed, _, fctx = load("mathvista_mini", tmp_path, make_mathvista, quirks="fixed")
        scores, _ = score(fixed, fctx, two, {"2": ""})
        assert scores[0].details["how"] == "empty" and len(fake.bodies) == 1


def test_mcq_empty_output_goes_to_the_judge(tmp_path, monkeypatch):
    with FakeOpenAI(lambda prompt, body: "A") as fake:
        task, samples, ctx = load("mmstar", tmp_path, make_mcq, **use_fake(monkeypatch, fake, tmp_path))
        first = samples[:1]  # gold A
        scores, _ = score(task, ctx, first, {first[0].id: ""})
        # VLMEvalKit credits what the judge maps "nan" to
        assert scores[0].details["how"] == "judge" and scores[0].score == 1.0
        fixed, _, fctx = load("mmstar", tmp_path, make_mcq, quirks="fixed", **use_fake(monkeypatch, fake, tmp_path))
        scores, _ = score(fixed, fctx, first, {first[0].id: "   "})
        assert scores[0].details["how"] == "empty" and scores[0].score == 0.0
        assert len(fake.bodies) == 1


def test_mcq_empty_output_under_exact_matching_is_wrong_without_judge(tmp_path):
    task, samples, ctx = load("mmstar", tmp_path, make_mcq, judge="exact_matching")
    scores, _ = score(task, ctx, samples[:1], {samples[0].id: ""})
    assert scores[0].details["how"] == "exact_matching" and scores[0].score == 0.0


def test_yes_no_empty_output_goes_to_the_judge(tmp_path, monkeypatch):
    _, samples, _ = load("hallusionbench", tmp_path, make_hallusionbench)
    gold = samples[0].target
    with FakeOpenAI(lambda prompt, body: gold) as fake:
        task, samples, ctx = load(
            "hallusionbench", tmp_path, make_hallusionbench, **use_fake(monkeypatch, fake, tmp_path)
        )
        scores, _ = score(task, ctx, samples[:1], {samples[0].id: ""})
        assert scores[0].details["how"] == "judge" and scores[0].score == 1.0
        fixed, _, fctx = load("hallusionbench", tmp_path, make_hallusionbench, quirks="fixed")
        scores, _ = score(fixed, fctx, samples[:1], {samples[0].id: ""})
        assert scores[0].details["how"] == "empty" and scores[0].score == 0.0
        assert len(fake.bodies) == 1


def test_mmvet_blank_output_is_graded_by_the_judge(tmp_path, monkeypatch):
    with FakeOpenAI(lambda prompt, body: "0.5") as fake:
        task, samples, ctx = load("mmvet", tmp_path, make_mmvet, **use_fake(monkeypatch, fake, tmp_path))
        scores, _ = score(task, ctx, samples[:1], {samples[0].id: " "})
        assert scores[0].details["how"] == "judge" and scores[0].score == 0.5


# -- comparability ------------------------------------------------------------------------------------


def test_card_data_and_options_are_comparable():
    from ming_eval.registry import get_task_card
    from ming_eval.runner.plan import load_task

    assert load_task(get_task_card("mmstar"), {}).comparability() == []
    # matching rules of another VLMEvalKit release are VLMEvalKit's own: still comparable
    assert load_task(get_task_card("mmstar"), {"matching": "v0.2"}).comparability() == []


def test_other_data_judge_or_fixed_quirks_are_not_comparable(tmp_path):
    task, _, _ = load("mmstar", tmp_path, make_mcq, judge="gpt-4o", quirks="fixed")
    reasons = task.comparability()
    assert "data file MMStar.tsv is not the card's (another checksum)" in reasons  # a generated TSV
    assert "option judge='gpt-4o', not the protocol's 'gpt-4o-mini'" in reasons
    assert "option quirks='fixed', not the protocol's 'vlmevalkit'" in reasons
    mathvista, _, _ = load("mathvista_mini", tmp_path, make_mathvista, text_answers="exact")
    assert "option text_answers='exact', not the protocol's 'vlmevalkit'" in mathvista.comparability()


# -- data files: nothing silently ignored -----------------------------------------------------------


def test_header_only_tsv_is_an_error(tmp_path):
    from ming_eval.errors import DataError
    from ming_eval.tasks.vlm.tsv import TsvTable

    path = tmp_path / "MMStar.tsv"
    path.write_text("index\tquestion\timage\tanswer\n")
    with pytest.raises(DataError, match=r"MMStar\.tsv has a header but no rows"):
        TsvTable.load(path)


def test_tsv_whose_image_cells_are_all_empty_is_an_error(tmp_path):
    from ming_eval.errors import DataError
    from ming_eval.tasks.vlm.tsv import TsvTable

    path = write_tsv(tmp_path / "x.tsv", [{"index": 1, "question": "q", "image": None}])
    with pytest.raises(DataError, match="none of its 1 rows has an image"):
        TsvTable.load(path)


def test_rows_with_an_empty_image_cell_are_reported(tmp_path, caplog):
    def with_a_blank_image(path: Path) -> Path:
        make_mcq(path)
        rows = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False).to_dict("records")
        rows[1]["image"] = ""
        return write_tsv(path, rows)

    with caplog.at_level("WARNING"):
        _, samples, _ = load("mmstar", tmp_path, with_a_blank_image)
    assert len(samples) == 5  # left out, as VLMEvalKit does ...
    assert "MMStar.tsv: 1 rows have an empty image cell and are left out" in caplog.text  # ... but said


def test_one_empty_answer_cell_is_a_wrong_answer_not_a_void_metric(tmp_path):
    def one_blank_answer(path: Path) -> Path:
        make_mcq(path)
        rows = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False).to_dict("records")
        rows[0]["answer"] = ""
        return write_tsv(path, rows)

    task, samples, ctx = load("mmstar", tmp_path, one_blank_answer, judge="exact_matching")
    golds = {s.id: s.target for s in samples}
    scores, result = score(task, ctx, samples, {sid: gold or "A" for sid, gold in golds.items()})
    assert [s.score for s in scores] == [0.0, 1, 1, 1, 1, 1]
    assert result.metrics["overall"].value == pytest.approx(500 / 6)
    assert any("1 rows of the data file have an empty answer cell" in n and "index 0" in n for n in result.notes)
    assert not any("no answers" in n for n in result.notes)
