"""HallusionBench, MathVista, MM-Vet and OCRBench scoring; expectations worked out by hand."""

import numpy as np
import pytest

from ming_eval.errors import CardError
from ming_eval.tasks.vlm.hallusionbench import hallusion_metrics
from ming_eval.tasks.vlm.mmvet import parse_grade
from ming_eval.tasks.vlm.ocrbench import ocr_match
from ming_eval.testing.fixtures.vlm import (
    COLORS,
    make_hallusionbench,
    make_mathvista,
    make_mmvet,
    make_ocrbench,
    png_b64,
    write_tsv,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.tasks.vlm.helpers import load, score
from tests.tasks.vlm.standins import load_module


def use_fake(monkeypatch, fake, tmp_path):
    monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    return {"judge_cache_dir": str(tmp_path / "cache"), "judge_retries": 0}


def flip(answer):
    return "No" if answer == "Yes" else "Yes"


# right (1) / wrong (0) per row of make_hallusionbench(): set 0 = rows 0-3, set 1 = rows 4-7
HALLU_PATTERN = [1, 1, 1, 0, 1, 0, 1, 1]


def test_hallusionbench_metrics_by_hand(tmp_path):
    task, samples, ctx = load("hallusionbench", tmp_path, make_hallusionbench)
    assert len(samples) == 8  # the no-visual row has no image and is dropped
    outputs = {s.id: (s.target if ok else flip(s.target)) + "." for s, ok in zip(samples, HALLU_PATTERN, strict=True)}
    _, result = score(task, ctx, samples, outputs)
    m = result.metrics
    assert m["aAcc"].value == pytest.approx(75.0)
    assert m["fAcc"].value == pytest.approx(50.0)  # figures (0,0) and (1,1) all right
    assert m["qAcc"].value == pytest.approx(50.0)  # questions (0,q0) and (1,q0) right on both figures
    assert m["overall"].value == pytest.approx((75 + 50 + 50) / 3)
    assert result.primary == "overall"
    lo, hi = m["overall"].ci_low, m["overall"].ci_high
    assert lo is not None and hi is not None and lo <= m["overall"].value <= hi
    assert result.breakdowns["category"]["VD aAcc"].value == pytest.approx(75.0)
    assert result.breakdowns["l2-category"]["chart fAcc"].value == pytest.approx(50.0)


def test_hallusionbench_judge_rising_temperature(tmp_path, monkeypatch):
    replies = iter(["hmm", "not sure", "No"])
    with FakeOpenAI(lambda p, b: next(replies)) as fake:
        opts = use_fake(monkeypatch, fake, tmp_path)
        task, samples, ctx = load("hallusionbench", tmp_path, make_hallusionbench, **opts)
        outputs = {s.id: s.target for s in samples}
        outputs[samples[1].id] = "It is hard to say."
        scores, _ = score(task, ctx, samples, outputs)
        assert [r["temperature"] for r in fake.bodies] == [0.0, 0.5, 1.0]
        # the stand-in prompt source (tests/tasks/vlm/standins.py), filled as VLMEvalKit fills its own
        assert fake.prompts()[0].endswith(
            "<question>Is the image purple??</question>\n<reply>It is hard to say.</reply>\nverdict: "
        )
    assert scores[1].details["how"] == "judge" and scores[1].score == 1.0


def test_hallusionbench_groups_ignore_vd_vs_like_vlmevalkit(tmp_path):
    rows = [
        {
            "index": f"{c}_chart_1_0_0_0",
            "category": c,
            "l2-category": "chart",
            "question": "Is it red?",
            "answer": "Yes",
            "image": png_b64(COLORS["red"]),
        }
        for c in ("VD", "VS")
    ]
    task, samples, ctx = load("hallusionbench", tmp_path, lambda p: write_tsv(p, rows))
    _, result = score(task, ctx, samples, {"VD_chart_1_0_0_0": "Yes", "VS_chart_1_0_0_0": "No"})
    assert result.metrics["fAcc"].value == 0.0  # one merged figure group, half wrong
    assert result.breakdowns["category"]["VD fAcc"].value == 100.0


def test_hallusion_metric_interval_resamples_sets():
    metas = [{"l2-category": "x", "set": str(i // 2), "figure": "0", "qid": str(i % 2)} for i in range(40)]
    values = np.array([1.0, 0.0] * 20)
    m = hallusion_metrics(values, metas)
    assert m["aAcc"].value == 50.0 and m["fAcc"].value == 0.0
    assert m["aAcc"].ci_low == m["aAcc"].ci_high == 50.0  # every set is exactly half right


MATHVISTA_OUTPUTS = {
    "1": "(B) 1/3",  # multiple choice, prefetched, right
    "2": "2",  # integer, prefetched
    "3": "2.50",  # float("2.50") == 2.5, prefetched
    "4": "red",  # text answer: never credited (VLMEvalKit compares with str(None))
    "5": "I think one third",  # judge -> B, right
    "6": "The total is 10 apples",  # judge -> 10, right
    "7": "6.4",  # not equal: judge -> 6.4, wrong
    "8": "",  # text answer: never credited
}


def mathvista_judge(prompt, body):
    for said, extracted in (("one third", "B"), ("10 apples", "10"), ("[reply] 6.4", "6.4"), ("[reply] red", "red")):
        if said in prompt:
            return extracted
    return "?"


def test_mathvista(tmp_path, monkeypatch):
    with FakeOpenAI(mathvista_judge) as fake:
        task, samples, ctx = load("mathvista_mini", tmp_path, make_mathvista, **use_fake(monkeypatch, fake, tmp_path))
        scores, result = score(task, ctx, samples, MATHVISTA_OUTPUTS)
        assert len(fake.bodies) == 3
        assert all(r["max_tokens"] == 128 and r["temperature"] == 0.0 for r in fake.bodies)
        sample5 = next(s for s in samples if s.id == "5")
        standin = load_module(tmp_path / "judge-sources" / "mathvista.py")
        line = {"question": sample5.meta["question"], "prediction": "I think one third"}
        assert standin.build_mathvista_gpt4_prompt(line) in fake.prompts()
    assert [s.score for s in scores] == [1, 1, 1, 0, 1, 1, 0, 0]
    assert [s.details["how"] for s in scores] == [
        "prefetch",
        "prefetch",
        "prefetch",
        "never_credited",
        "judge",
        "judge",
        "judge",
        "never_credited",
    ]
    assert result.metrics["overall"].value == pytest.approx(62.5)
    assert result.metrics["prefetch_rate"].value == pytest.approx(37.5)
    assert result.breakdowns["skill"]["statistical reasoning"].value == pytest.approx(50.0)  # ids 2, 4, 6, 8


def test_mathvista_text_answers_exact_option(tmp_path, monkeypatch):
    with FakeOpenAI(mathvista_judge) as fake:
        task, samples, ctx = load(
            "mathvista_mini", tmp_path, make_mathvista, text_answers="exact", **use_fake(monkeypatch, fake, tmp_path)
        )
        scores, _ = score(task, ctx, samples, MATHVISTA_OUTPUTS)
    # row 7 is empty: judged as the text "nan", as VLMEvalKit does
    assert scores[3].score == 1.0 and scores[7].details["how"] == "judge" and scores[7].score == 0.0


def test_mathvista_without_judge(tmp_path):
    task, samples, ctx = load("mathvista_mini", tmp_path, make_mathvista)
    scores, result = score(task, ctx, samples, MATHVISTA_OUTPUTS)
    assert [s.status for s in scores].count("judge_unavailable") == 3
    assert result.metrics["overall"].value == pytest.approx(37.5)


def test_mathvista_refuses_exact_matching(tmp_path):
    with pytest.raises(CardError, match=r"options\.judge: Value error, this task needs an LLM judge"):
        load("mathvista_mini", tmp_path, make_mathvista, judge="exact_matching")


def test_mmvet(tmp_path, monkeypatch):
    def judge(prompt, body):
        if "my answer (0)" in prompt:
            return "0.8"
        if "my answer (1)" in prompt:
            return "garbage"
        if "my answer (2)" in prompt:
            return "1.5" if body["temperature"] == 0.0 else "1.0"
        raise AssertionError("row 3 has an empty output and must not be judged under quirks: fixed")

    with FakeOpenAI(judge) as fake:
        task, samples, ctx = load(
            "mmvet", tmp_path, make_mmvet, quirks="fixed", **use_fake(monkeypatch, fake, tmp_path)
        )
        outputs = {s.id: f"my answer ({i})" for i, s in enumerate(samples)}
        outputs[samples[3].id] = "  "
        scores, result = score(task, ctx, samples, outputs)
        temps = sorted(r["temperature"] for r in fake.bodies if "my answer (1)" in r["messages"][0]["content"])
        assert temps == [0.0, 0.5, 1.0, 1.5, 2.0]
        s0 = samples[0]
        standin = load_module(tmp_path / "judge-sources" / "mmvet.py")
        sent = standin.build_mmvet_gpt4_prompt(
            {"question": s0.meta["question"], "answer": s0.target, "prediction": "my answer (0)"}
        )
        assert sent in fake.prompts()
        assert "<OR>" in s0.target and " [or] " in sent  # the source's padding of the markers
    assert [s.score for s in scores] == [0.8, 0.0, 1.0, 0.0]
    assert scores[1].details["how"] == "judge_unparsed"
    assert result.metrics["overall"].value == pytest.approx(45.0)
    cap = result.breakdowns["capability"]
    assert cap["rec"].value == pytest.approx(60.0) and cap["ocr"].value == 0.0 and cap["know"].value == 100.0
    assert set(result.breakdowns["category"]) == {"rec", "ocr_rec", "know_rec_gen", "math_ocr_spat"}


def test_mmvet_without_judge(tmp_path):
    task, samples, ctx = load("mmvet", tmp_path, make_mmvet)
    scores, _ = score(task, ctx, samples, {s.id: "x" for s in samples})
    assert {s.status for s in scores} == {"judge_unavailable"}


@pytest.mark.parametrize(
    ("reply", "grade"), [("0.5", 0.5), (" 1.0 ", 1.0), ("1.1", None), ("-0.1", None), ("score: 0.5", None), ("1", 1.0)]
)
def test_grade_parsing(reply, grade):
    assert parse_grade(reply) == grade


def test_ocrbench(tmp_path):
    task, samples, ctx = load("ocrbench", tmp_path, make_ocrbench)
    outputs = {"0": "The text says WORD0.", "1": "word 1", "2": "X ^ {2}", "3": "nothing", "4": "WoRd4", "5": ""}
    scores, result = score(task, ctx, samples, outputs)
    assert [s.score for s in scores] == [1, 1, 0, 0, 1, 0]
    assert result.metrics["final_score"].value == pytest.approx(3.0)
    assert result.metrics["overall"].value == pytest.approx(0.3)  # final score / 10
    assert result.breakdowns["group"]["Text Recognition"].value == pytest.approx(1.0)  # rows 0 and 5: one right


def test_ocrbench_answer_cell_with_one_bare_value(tmp_path):
    rows = [
        {
            "index": 0,
            "image": png_b64(COLORS["red"]),
            "question": "What number?",
            "answer": "2024",
            "category": "Digit String Recognition",
        }
    ]
    task, samples, ctx = load("ocrbench", tmp_path, lambda p: write_tsv(p, rows))
    assert samples[0].target == ["2024"]
    scores, _ = score(task, ctx, samples, {"0": "It says 2024."})
    assert scores[0].score == 1.0


def test_ocr_match_rules():
    hmer = "Handwritten Mathematical Expression Recognition"
    assert ocr_match("x^{2}", ["x ^ { 2 }"], hmer)
    assert not ocr_match("X^{2}", ["x ^ { 2 }"], hmer)  # case-sensitive
    assert ocr_match("Line one\nline TWO", ["one line two"], "Regular Text Recognition")
