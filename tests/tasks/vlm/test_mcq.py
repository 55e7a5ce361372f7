"""Multiple-choice scoring: vanilla (MMStar, AI2D), circular (MMBench), MMMU; expectations by hand."""

import pytest

from ming_eval.core.sample import ImagePart, TextPart
from ming_eval.errors import DataError
from ming_eval.testing.fixtures.vlm import COLORS, make_mcq, make_mmbench, make_mmmu, png_b64, write_tsv
from tests.fakes.openai_server import FakeOpenAI
from tests.tasks.vlm.helpers import load, score

# make_mcq(n=6): golds A C D D D B; options row 2 = blue red yellow green
MMSTAR_OUTPUTS = {
    "0": "A",  # right, by letter
    "1": "B",  # wrong
    "2": "It is green.",  # right, by option text
    "3": "hmm, maybe the last colour",  # the judge says D: right
    "4": "",  # empty: VLMEvalKit reads it back as "nan" and asks the judge, which names no option: wrong
    "5": "I would say the second",  # the judge never names an option: wrong
}


def mcq_judge(prompt, body):
    if "maybe the last colour" in prompt:
        return "D"
    if "maybe the fourth" in prompt:
        return "B"
    return "I cannot tell."


def with_judge(monkeypatch, fake, tmp_path):
    monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    return {"judge_cache_dir": str(tmp_path / "judge-cache"), "judge_retries": 0}


def test_vanilla_with_judge(tmp_path, monkeypatch):
    with FakeOpenAI(mcq_judge) as fake:
        task, samples, ctx = load("mmstar", tmp_path, make_mcq, **with_judge(monkeypatch, fake, tmp_path))
        scores, result = score(task, ctx, samples, MMSTAR_OUTPUTS)
        assert [s.score for s in scores] == [1, 0, 1, 1, 0, 0]
        assert [s.details.get("how") for s in scores] == [
            "option",
            "option",
            "text",
            "judge",
            "judge_unparsed",
            "judge_unparsed",
        ]
        assert result.metrics["overall"].value == pytest.approx(50.0)
        assert result.info["extraction"]["judge"] == 1
        # one call for row 3, three (attempts 0, 1, 2) for rows 4 and 5; none for what the heuristics matched
        assert len(fake.bodies) == 7
        assert any("<reply>nan</reply>" in p for p in fake.prompts())
        assert all(r["temperature"] == 0.0 and r["max_tokens"] == 2048 for r in fake.bodies)
        # the stand-in prompt source (tests/tasks/vlm/standins.py), filled as VLMEvalKit fills its own
        prompt = next(p for p in fake.prompts() if "last colour" in p)
        assert prompt.endswith(
            "<question>Which colour fills image 3??</question>\n<options>options on offer:\n"
            "(A) blue;\n(B) red;\n(C) yellow;\n(D) green;\n</options>\n"
            "<reply>hmm, maybe the last colour</reply>\nmapped to: "
        )
    # scoring again asks nothing: every reply is in the cache
    with FakeOpenAI(mcq_judge) as fake2:
        monkeypatch.setenv("OPENAI_BASE_URL", fake2.url)
        again, _ = score(task, ctx, samples, MMSTAR_OUTPUTS)
        assert [s.score for s in again] == [1, 0, 1, 1, 0, 0] and fake2.bodies == []
    # categories: rows 0, 2, 4 are "coarse perception"
    assert result.breakdowns["category"]["coarse perception"].value == pytest.approx(200 / 3)


def test_vanilla_without_judge_counts_unavailable(tmp_path):
    task, samples, ctx = load("mmstar", tmp_path, make_mcq)
    scores, result = score(task, ctx, samples, MMSTAR_OUTPUTS)
    assert [s.status for s in scores].count("judge_unavailable") == 3  # rows 3, 4 (empty) and 5
    assert "no judge configured: set OPENAI_API_KEY" in scores[3].reason
    assert result.metrics["overall"].value == pytest.approx(100 * 2 / 6)


def test_exact_matching_policy(tmp_path):
    task, samples, ctx = load("ai2d_test", tmp_path, make_mcq, judge="exact_matching")
    scores, result = score(task, ctx, samples, MMSTAR_OUTPUTS)
    assert all(s.status == "ok" for s in scores)
    assert scores[3].details["how"] == "exact_matching" and scores[3].score == 0
    assert result.metrics["overall"].value == pytest.approx(100 * 2 / 6)


# make_mmbench(n=4) golds by index (see the fixture): rotations of each question
CIRCULAR_OUTPUTS = {
    "0": "A",
    "1000000": "B",
    "2000000": "C",  # Q0: all right -> 1
    "1": "C",
    "1000001": "D",
    "2000001": "A",
    "3000001": "maybe the fourth",  # Q1: judge says B -> 1
    "2": "D",
    "1000002": "B",
    "2000002": "maybe the fourth",
    "3000002": "C",  # Q2: a rotation wrong -> 0
    "3": "C",
    "1000003": "A",
    "2000003": "no clue at all",  # Q3: judge unparsable -> 0
}


def test_circular_with_judge(tmp_path, monkeypatch):
    with FakeOpenAI(mcq_judge) as fake:
        task, samples, ctx = load("mmbench_dev_en", tmp_path, make_mmbench, **with_judge(monkeypatch, fake, tmp_path))
        scores, result = score(task, ctx, samples, CIRCULAR_OUTPUTS)
        # Q2's vague rotation is not judged: its question is already lost (as VLMEvalKit)
        assert len(fake.bodies) == 1 + 3
        assert not any("maybe the fourth" in p and "image 2" in p for p in fake.prompts())
    skipped = next(s for s in scores if s.id == "2000002")
    assert skipped.details["how"] == "skipped" and skipped.correct is None
    assert result.metrics["overall"].value == pytest.approx(50.0)
    assert result.metrics["overall"].n == 4 and result.counts["questions"] == 4
    # per ability over questions: Q0 and Q3 are coarse perception (1 of 2)
    assert result.breakdowns["l2-category"]["CP"].value == pytest.approx(50.0)
    assert result.breakdowns["l2-category"]["FP-S"].value == pytest.approx(100.0)


def test_circular_without_judge_reports_undecided_questions(tmp_path):
    task, samples, ctx = load("mmbench_dev_en", tmp_path, make_mmbench)
    scores, result = score(task, ctx, samples, CIRCULAR_OUTPUTS)
    statuses = {s.id: s.status for s in scores}
    assert statuses["3000001"] == "judge_unavailable" and statuses["2000003"] == "judge_unavailable"
    assert statuses["2000002"] == "ok"  # not needed: the question is lost anyway
    assert result.metrics["overall"].value == pytest.approx(25.0)
    assert result.counts["undecided_questions"] == 2
    assert any("could not be decided" in n for n in result.notes)


def test_circular_failed_inference_loses_the_question(tmp_path):
    task, samples, ctx = load("mmbench_dev_en", tmp_path, make_mmbench)
    outputs = dict(CIRCULAR_OUTPUTS, **{"3000001": "B"})
    _, result = score(task, ctx, samples, outputs, failed={"1000000"})
    # Q0 fails (an inference failed), Q1 right, Q2 wrong, Q3 undecided
    assert result.metrics["overall"].value == pytest.approx(25.0)


def test_circular_limit_scores_main_rows_only(tmp_path):
    task, samples, ctx = load("mmbench_dev_en", tmp_path, make_mmbench)
    first = samples[:4]  # --limit 4: the main rows come first in the file
    _, result = score(task, ctx, first, {"0": "A", "1": "C", "2": "A", "3": "C"})
    assert result.metrics["overall"].value == pytest.approx(75.0)
    assert any("fewer rotations" in n for n in result.notes)


def test_test_split_without_answers(tmp_path):
    task, samples, ctx = load("mmbench_test_en", tmp_path, lambda p: make_mmbench(p, with_answers=False))
    assert all(s.target is None for s in samples)
    scores, result = score(task, ctx, samples, {s.id: "A" for s in samples})
    assert {s.status for s in scores} == {"no_answer"}
    assert result.metrics["overall"].n == 0 and "no answers" in result.notes[0]


# make_mmmu(n=6): rows 0-3 validation, 4-5 dev; rows 2 and 5 are open questions (yellow, green)
MMMU_OUTPUTS = {
    "validation_Art_0": "B",  # right
    "validation_Art_1": "The answer is red",  # option text of B: right
    "validation_Art_2": "It is yellowish",  # open: the gold text is inside the answer -> right
    "validation_Art_3": "A",  # wrong
    "dev_Art_4": "B",  # right
    "dev_Art_5": "A",  # open: a bare "A" names the gold choice -> right (as VLMEvalKit)
}


def test_mmmu_open_questions_and_splits(tmp_path):
    task, samples, ctx = load("mmmu_dev_val", tmp_path, make_mmmu)
    open_q = next(s for s in samples if s.id == "validation_Art_2")
    assert open_q.meta["choices"] == {"A": "yellow", "B": "Other Answers"} and open_q.target == "A"
    # the model saw no options for an open question
    assert "Options" not in open_q.request.text
    scores, result = score(task, ctx, samples, MMMU_OUTPUTS)
    assert [s.score for s in scores] == [1, 1, 1, 0, 1, 1]
    assert result.metrics["overall"].value == pytest.approx(75.0)  # validation only
    assert result.metrics["dev"].value == pytest.approx(100.0)
    assert result.metrics["dev_val"].value == pytest.approx(500 / 6)
    assert set(result.breakdowns["split"]) == {"dev", "validation"}


def test_mmmu_interleaves_images(tmp_path):
    _, samples, _ = load("mmmu_dev_val", tmp_path, make_mmmu)
    parts = samples[0].request.content
    assert isinstance(parts[0], TextPart) and parts[0].text == "Question: "
    assert isinstance(parts[1], ImagePart) and parts[1].image.source.endswith("image 1")
    assert isinstance(parts[3], ImagePart) and parts[3].image.source.endswith("image 2")


def test_prompt_style_reaches_the_samples(tmp_path):
    _, samples, _ = load("mmstar", tmp_path, make_mcq, style="llava")
    assert samples[0].request.text.endswith("Answer with the option's letter from the given choices directly.")
    assert samples[0].id == "0" and samples[0].target == "A"


def test_v02_matching_rules(tmp_path):
    task, samples, ctx = load("mmstar", tmp_path, make_mcq, matching="v0.2", judge="exact_matching")
    early = "A is not it, I am fairly sure the right one must be something else entirely"
    scores, _ = score(task, ctx, samples, {"0": early})
    assert scores[0].details["extracted"] == "A"  # v0.2 took a lone letter anywhere
    task, samples, ctx = load("mmstar", tmp_path / "b", make_mcq, judge="exact_matching")
    scores, _ = score(task, ctx, samples, {"0": early})
    assert scores[0].details["extracted"] == "Z"


def test_circular_index_that_is_not_a_number_names_the_row(tmp_path):
    rows = [
        {
            "index": "q7",
            "question": "Which colour?",
            "A": "red",
            "B": "blue",
            "answer": "A",
            "image": png_b64(COLORS["red"]),
        }
    ]
    with pytest.raises(DataError, match=r"MMBench_DEV_EN\.tsv index q7: .*whole-number indices"):
        load("mmbench_dev_en", tmp_path, lambda p: write_tsv(p, rows))
