"""VLMEvalKit's own judge files as the verdicts of an imported prediction file (``--verdicts``).

The judge files are made the way VLMEvalKit's ``evaluate`` makes them at e8e78f05: the prediction file
loaded with pandas' defaults, the verdict columns appended, dumped with ``to_excel(index=False)`` (or
as a TSV with every cell quoted, ``PRED_FORMAT=tsv``). Multiple choice: rows sorted by index, column
names lower-cased except option letters, ``prediction`` as ``str()``, ``hit``/``log``; circular: the
main rows only, ``g_index`` added. HallusionBench: ``extracted`` and a boolean ``score``. MathVista:
``res`` (an int, a float, a letter, or empty) and ``log``. MM-Vet: ``score`` and ``log``.
"""

from __future__ import annotations

import csv
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ming_eval.errors import DataError, MingEvalError
from ming_eval.runner.plan import resolve_task
from ming_eval.runner.rescore import rescore, score_external
from ming_eval.store.run_store import RunStore
from ming_eval.testing.fixtures.vlm import (
    make_hallusionbench,
    make_mathvista,
    make_mcq,
    make_mmbench,
    make_mmvet,
    make_ocrbench,
)
from tests.cli.test_cli import run_cli
from tests.tasks.vlm.test_imports import vlmevalkit_file

pytest.importorskip("openpyxl")

EXACT_LOG = "Failed in Prefetch, no GPT-based answer matching under `exact_matching` policy."


@pytest.fixture(autouse=True)
def _no_judge(monkeypatch):
    """No judge is reachable: whatever the file does not cover cannot be judged (judge_unavailable)."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)


def kit_load(pred: Path) -> pd.DataFrame:
    """The prediction file as VLMEvalKit's ``load`` reads it (pandas' defaults)."""
    return pd.read_excel(pred) if pred.suffix == ".xlsx" else pd.read_csv(pred, sep="\t")


def kit_dump(frame: pd.DataFrame, path: Path) -> Path:
    """VLMEvalKit's ``dump``: .xlsx without the index, .tsv with every cell quoted."""
    if path.suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_csv(path, sep="\t", index=False, quoting=csv.QUOTE_ALL)
    return path


def mcq_result_file(
    pred: Path, judge: str, hits: Mapping[int, int], logs: Mapping[int, str] | None = None, *, circular: bool = False
) -> Path:
    """``{model}_{dataset}_{judge}_result.xlsx`` with ``hits`` (index -> 0/1) for the rows it covers."""
    data = kit_load(pred).sort_values(by="index")
    data["prediction"] = [str(x) for x in data["prediction"]]
    for k in list(data.keys()):
        data[k.lower() if k not in list(string.ascii_uppercase) else k] = data.pop(k)
    if circular:
        data["g_index"] = [int(x % 1e6) for x in data["index"]]
        data = data[data["index"] == data["g_index"]]
    data = data[data["index"].isin(list(hits))].copy()
    data["hit"] = [hits[i] for i in data["index"]]
    logged = zip(data["index"], data["prediction"], strict=True)
    data["log"] = [(logs or {}).get(i, f"Match Log: {p}. ") for i, p in logged]
    return kit_dump(data, pred.with_name(f"{pred.stem}_{judge}_result{pred.suffix}"))


def _import(tmp_path: Path, task: str, pred: Path, verdicts: Path | None, **options: Any) -> dict:
    return score_external(
        task, pred, tmp_path / "run", task_options=options, predictions=True, verdicts=verdicts, argv=["t"]
    )


def _scores(out: Path, task: str) -> dict[str, Any]:
    return RunStore(out).task(task).read_scores(RunStore(out).task(task).read_predictions())


MCQ_OUTPUTS = {
    "0": "A",
    "1": "I would say the second",
    "2": "C. purple",
    "3": "None",
    "4": "",
    "5": "D",
}


def test_mcq_result_file_gives_the_scores_labelled_and_kept_on_rescoring(tmp_path, capsys):
    tsv = make_mcq(tmp_path / "data" / "MMStar.tsv", n=6)
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / "Model_MMStar.xlsx", MCQ_OUTPUTS)
    # the kit's verdicts, unlike what the heuristics alone give (row 1 and 3 needed its judge); row 5 not covered
    hits = {0: 0, 1: 1, 2: 1, 3: 1, 4: 0}
    verdicts = mcq_result_file(pred, "gpt-4o-mini", hits)
    result = _import(tmp_path, "mmstar", pred, verdicts)["mmstar"]
    scores = _scores(tmp_path / "run", "mmstar")
    assert {k: scores[k].score for k in map(str, hits)} == {str(k): float(v) for k, v in hits.items()}
    assert scores["1"].details["how"] == "vlmevalkit_file" and scores["1"].details["decided_by"] == "judge"
    assert scores["0"].details["decided_by"] == "heuristics"
    assert scores["5"].details["how"] != "vlmevalkit_file"  # not in the file: scored by ming-eval
    assert result.judge == "VLMEvalKit file: gpt-4o-mini"
    assert result.comparable  # the protocol's judge, as the kit recorded it
    assert any("VLMEvalKit's file" in n and "not judged again" in n for n in result.notes)
    # an ordinary run: scoring it again (the originals gone) keeps the kit's verdicts and the label
    pred.unlink()
    verdicts.unlink()
    again = rescore(tmp_path / "run", argv=["t"], task_options={"mmstar": {"matching": "v0.2"}})["mmstar"]
    rescored = _scores(tmp_path / "run", "mmstar")
    assert {k: rescored[k].score for k in map(str, hits)} == {str(k): float(v) for k, v in hits.items()}
    assert again.judge == "VLMEvalKit file: gpt-4o-mini"
    code, text = run_cli(["report", str(tmp_path / "run")], capsys)
    assert code == 0, text
    assert "VLMEvalKit file: gpt-4o-mini" in text
    # without the file's verdicts, ming-eval judges every sample itself
    own = rescore(tmp_path / "run", argv=["t"], task_options={"mmstar": {"verdicts_file": None}})["mmstar"]
    assert own.judge is None and not any("not judged again" in n for n in own.notes)
    assert all(s.details.get("how") != "vlmevalkit_file" for s in _scores(tmp_path / "run", "mmstar").values())


def test_mmbench_circular_result_gives_each_question_its_verdict(tmp_path):
    tsv = make_mmbench(tmp_path / "data" / "MMBench_DEV_EN.tsv", n_questions=4)
    rows = pd.read_csv(tsv, sep="\t")
    outputs = {str(i): "I am not sure" for i in rows["index"]}
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / "Model_MMBench_DEV_EN.tsv", outputs)
    hits = {0: 1, 1: 0, 2: 1, 3: 0}
    logs = {0: "Rolling 0 Matched.\n", 1: "Failed in Rolling 1: Answer is B", 2: "Rolling 0 Matched.\n"}
    verdicts = mcq_result_file(pred, "gpt-4o-mini", hits, logs, circular=True)
    result = _import(tmp_path, "mmbench_dev_en", pred, verdicts)["mmbench_dev_en"]
    assert result.primary_metric.value == pytest.approx(50.0)
    scores = _scores(tmp_path / "run", "mmbench_dev_en")
    for index, hit in zip(rows["index"], rows["index"] % 1_000_000, strict=True):
        assert scores[str(index)].score == float(hits[hit])  # every rotation carries its question's verdict
    assert result.counts.get("judge_unavailable", 0) == 0
    # VLMEvalKit's internal one-pass check of the main rows is not the question's verdict
    one_pass = kit_dump(kit_load(verdicts).drop(columns=["g_index"]), pred.with_name("x_vanilla_circ0_result.tsv"))
    with pytest.raises(DataError, match=r"x_vanilla_circ0_result.tsv holds VLMEvalKit's one-pass verdicts"):
        _import(tmp_path / "b", "mmbench_dev_en", pred, one_pass)


def test_a_file_from_another_judge_or_exact_matching_is_labelled_not_comparable(tmp_path):
    tsv = make_mcq(tmp_path / "data" / "MMStar.tsv", n=6)
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / "Model_MMStar.xlsx", MCQ_OUTPUTS)
    hits = dict.fromkeys(range(6), 1)
    old = mcq_result_file(pred, "openai", hits)  # chatgpt-0125, the leaderboard's judge before 2026
    result = _import(tmp_path / "a", "mmstar", pred, old)["mmstar"]
    assert result.judge == "VLMEvalKit file: chatgpt-0125"
    assert not result.comparable
    assert any("judged by chatgpt-0125, not the protocol's gpt-4o-mini" in r for r in result.not_comparable_because)
    # named after the protocol's judge, but the kit fell back to exact matching on the rows it could not read
    fallback = mcq_result_file(pred, "gpt-4o-mini", {**hits, 1: 0}, {1: f"Match Log: {EXACT_LOG}. "})
    result = _import(tmp_path / "b", "mmstar", pred, fallback)["mmstar"]
    assert not result.comparable
    assert any("decided by exact matching" in r for r in result.not_comparable_because)


def test_hallusionbench_auxmatch_tsv(tmp_path):
    tsv = make_hallusionbench(tmp_path / "data" / "HallusionBench.tsv")
    rows = pd.read_csv(tsv, sep="\t").dropna(subset=["image"])
    outputs = {str(i): ("Yes" if k % 3 else "It is hard to say") for k, i in enumerate(rows["index"])}
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / "Model_HallusionBench.tsv", outputs)
    data = kit_load(pred)
    data["prediction"] = [str(x) for x in data["prediction"]]
    data["extracted"] = ["Yes" if p == "Yes" else "No" for p in data["prediction"]]  # the judge read "No"
    data["score"] = data["answer"] == data["extracted"]
    verdicts = kit_dump(data, pred.with_name("Model_HallusionBench_auxmatch.tsv"))
    result = _import(tmp_path, "hallusionbench", pred, verdicts)["hallusionbench"]
    scores = _scores(tmp_path / "run", "hallusionbench")
    assert {k: s.score for k, s in scores.items()} == {
        str(i): float(ok) for i, ok in zip(data["index"], data["score"], strict=True)
    }
    assert result.judge == "VLMEvalKit file (judge not named)"
    assert not result.comparable
    assert any("a judge the file does not name" in r for r in result.not_comparable_because)


def _mathvista_files(tmp_path: Path) -> tuple[Path, Path]:
    """A MathVista prediction file and its ``_gpt-4o-mini.xlsx``: ``res`` cells of every kind."""
    tsv = make_mathvista(tmp_path / "data" / "MathVista_MINI.tsv")
    outputs = {"1": "B", "2": "two", "3": "2.5", "4": "red", "5": "the third", "6": "10", "7": "about 6", "8": "red"}
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / "M_MathVista_MINI.xlsx", outputs)
    data = kit_load(pred)
    prefetch, ok = "Prefetch succeed", "Succeed"
    res: dict[int, tuple[Any, str]] = {
        1: ("B", prefetch),  # multiple choice, answer_option B: right
        2: ("2", ok),  # integer 2 extracted by the judge: right
        3: (2.5, prefetch),  # float: right
        4: ("red", ok),  # text answers are compared as 'None': never right
        5: ("C", ok),  # wrong option
        6: (10, prefetch),  # right
        7: ("6", ok),  # 6.0 != 6.5
        8: ("", "Try 0: failed\nAll 5 retries failed.\n"),  # empty: wrong
    }
    data["res"] = [res[i][0] for i in data["index"]]
    data["log"] = [res[i][1] for i in data["index"]]
    return pred, kit_dump(data, pred.with_name("M_MathVista_MINI_gpt-4o-mini.xlsx"))


def test_mathvista_judge_file_hits_as_vlmevalkit_computes_them(tmp_path):
    pred, verdicts = _mathvista_files(tmp_path)
    result = _import(tmp_path, "mathvista_mini", pred, verdicts)["mathvista_mini"]
    scores = _scores(tmp_path / "run", "mathvista_mini")
    assert {k: s.score for k, s in scores.items()} == {
        "1": 1.0,
        "2": 1.0,
        "3": 1.0,
        "4": 0.0,
        "5": 0.0,
        "6": 1.0,
        "7": 0.0,
        "8": 0.0,
    }
    assert result.primary_metric.value == pytest.approx(50.0)
    assert result.judge == "VLMEvalKit file: gpt-4o-mini" and result.comparable


def test_mmvet_grades(tmp_path):
    tsv = make_mmvet(tmp_path / "data" / "MMVet.tsv")
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / "M_MMVet.xlsx", {f"v1_{i}": f"colour {i}" for i in range(4)})
    data = kit_load(pred)
    data["score"] = [1.0, 0.5, 0.0, 0.3]
    data["log"] = ["Succeed", "Succeed", "Try 0: output is x, failed to parse.\nAll 5 retries failed.\n", "Succeed"]
    verdicts = kit_dump(data, pred.with_name("M_MMVet_gpt-4-turbo.xlsx"))
    result = _import(tmp_path, "mmvet", pred, verdicts)["mmvet"]
    scores = _scores(tmp_path / "run", "mmvet")
    assert [scores[f"v1_{i}"].score for i in range(4)] == [1.0, 0.5, 0.0, 0.3]
    assert result.primary_metric.value == pytest.approx(45.0)
    assert result.judge == "VLMEvalKit file: gpt-4-turbo" and result.comparable


def _edited(path: Path, edit: Sequence[tuple[int, str, Any]], name: str) -> Path:
    frame = kit_load(path)
    for row, column, value in edit:
        frame.loc[row, column] = value
    return kit_dump(frame, path.with_name(name))


def test_a_file_for_other_predictions_is_refused_naming_file_and_row(tmp_path):
    tsv = make_mcq(tmp_path / "data" / "MMStar.tsv", n=6)
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / "Model_MMStar.xlsx", MCQ_OUTPUTS)
    good = mcq_result_file(pred, "gpt-4o-mini", dict.fromkeys(range(6), 1))
    other = _edited(good, [(2, "prediction", "B")], "Other_MMStar_gpt-4o-mini_result.xlsx")
    with pytest.raises(DataError, match=r"Other_MMStar_gpt-4o-mini_result.xlsx row 3 \(index 2\): its prediction 'B'"):
        _import(tmp_path / "a", "mmstar", pred, other)
    assert not (tmp_path / "a" / "run" / "mmstar" / "scores.jsonl").exists()
    foreign = _edited(good, [(4, "index", 99)], "Far_MMStar_gpt-4o-mini_result.xlsx")
    with pytest.raises(DataError, match=r"Far_MMStar_gpt-4o-mini_result.xlsx row 5 \(index 99\): no row of Model_"):
        _import(tmp_path / "b", "mmstar", pred, foreign)
    _import(tmp_path / "e", "mmstar", pred, good)
    changed = mcq_result_file(pred, "gpt-4", dict.fromkeys(range(6), 0))  # into the same run: refused
    with pytest.raises(DataError, match=r"already holds the verdicts of another VLMEvalKit file"):
        _import(tmp_path / "e", "mmstar", pred, changed)
    assert {s.score for s in _scores(tmp_path / "e" / "run", "mmstar").values()} == {1.0}
    summary = kit_dump(kit_load(good).drop(columns=["hit"]), good.with_name("Model_MMStar_x_result.xlsx"))
    with pytest.raises(DataError, match=r"lacks the column\(s\) hit"):
        _import(tmp_path / "c", "mmstar", pred, summary)
    ocr = vlmevalkit_file(make_ocrbench(tmp_path / "data" / "OCRBench.tsv"), tmp_path / "vk" / "M_OCRBench.xlsx", {})
    with pytest.raises(DataError, match=r"M_OCRBench_score.xlsx: VLMEvalKit writes no per-sample verdict file"):
        _import(tmp_path / "d", "ocrbench", ocr, kit_dump(kit_load(ocr), ocr.with_name("M_OCRBench_score.xlsx")))
    with pytest.raises(MingEvalError, match="verdicts_file is set by"):  # not an option of an ordinary run
        resolve_task("mmstar", {"verdicts_file": "imported_verdicts.xlsx"})


def test_cli_verdicts_and_the_notice_of_a_judge_file_beside_the_predictions(tmp_path, capsys):
    tsv = make_mcq(tmp_path / "data" / "MMStar.tsv", n=6)
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / "Model_MMStar.xlsx", MCQ_OUTPUTS)
    verdicts = mcq_result_file(pred, "gpt-4o-mini", dict.fromkeys(range(6), 1))
    out = tmp_path / "run"
    code, text = run_cli(
        ["score", "mmstar", "--predictions", str(pred), "--verdicts", str(verdicts), "--out", str(out)], capsys
    )
    assert code == 0, text
    assert "VLMEvalKit's" in text and "100.00" in text
    code, text = run_cli(["leaderboard", str(tmp_path)], capsys)
    assert code == 0, text
    assert "VLMEvalKit file: gpt-4o-mini" in text
    own = ["score", "mmstar", "--predictions", str(pred), "--out", str(tmp_path / "own")]
    code, text = run_cli([*own, "-o", "mmstar.judge=exact_matching"], capsys)
    assert code == 0, text
    assert f"--verdicts {verdicts}" in text
    code, text = run_cli(["score", "mmstar", "--verdicts", str(verdicts)], capsys)
    assert code != 0 and "--verdicts goes with --predictions" in text


# -- files written by VLMEvalKit's own functions (skipped where its source is not importable) --------
@pytest.fixture()
def kit(monkeypatch):
    from ming_eval.tasks.vlm.vlmevalkit_check import load_kit

    try:
        modules = load_kit()
    except MingEvalError as exc:
        pytest.skip(f"VLMEvalKit not importable: {exc}")
    monkeypatch.setenv("PRED_FORMAT", "tsv")  # its intermediate files, without xlsxwriter
    return modules


def _kit_mcq_file(kit: dict, pred: Path, dataset: str, *, circular: bool) -> Path:
    """What ``ImageMCQDataset.evaluate`` writes under ``exact_matching``, by VLMEvalKit's functions."""
    data = kit["smp"].load(str(pred))
    if circular:
        data["index"] = [int(x) for x in data["index"]]
    data = data.sort_values(by="index")
    data["prediction"] = [str(x) for x in data["prediction"]]
    for k in list(data.keys()):
        data[k.lower() if k not in list(string.ascii_uppercase) else k] = data.pop(k)
    meta = data[["index", "answer"]].copy()
    evaluate = kit["mcq"].mcq_circular_eval if circular else kit["mcq"].mcq_vanilla_eval
    scored = evaluate(None, data, meta, 1, str(pred.with_name("judge.pkl")), dataset)
    out = pred.with_name(f"{pred.stem}_exact_matching_result.tsv")
    kit["smp"].dump(scored, str(out))
    return out


def test_files_written_by_vlmevalkits_own_functions(kit, tmp_path):
    tsv = make_mcq(tmp_path / "data" / "MMStar.tsv", n=6)
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / "M_MMStar.tsv", MCQ_OUTPUTS)
    verdicts = _kit_mcq_file(kit, pred, "MMStar", circular=False)
    result = _import(tmp_path / "a", "mmstar", pred, verdicts)["mmstar"]
    theirs = pd.read_csv(verdicts, sep="\t")
    scores = _scores(tmp_path / "a" / "run", "mmstar")
    hits = zip(theirs["index"], theirs["hit"], strict=True)
    assert {k: s.score for k, s in scores.items()} == {str(i): float(h) for i, h in hits}
    assert result.judge == "VLMEvalKit file: exact_matching"
    # "" and "None" are 'nan' to the kit, which matched no option without a judge: not the protocol
    assert result.not_comparable_because == [
        f"verdicts of VLMEvalKit's {verdicts.name} judged by exact_matching, not the protocol's gpt-4o-mini"
    ]

    mmb = make_mmbench(tmp_path / "data" / "MMBench_DEV_EN.tsv")
    outputs = {str(i + k * 1_000_000): "ABCD"[(i + k) % 4] for i in range(4) for k in range(4)}
    pred = vlmevalkit_file(mmb, tmp_path / "vk" / "M_MMBench_DEV_EN.tsv", outputs)
    verdicts = _kit_mcq_file(kit, pred, "MMBench_DEV_EN", circular=True)
    result = _import(tmp_path / "b", "mmbench_dev_en", pred, verdicts)["mmbench_dev_en"]
    theirs = pd.read_csv(verdicts, sep="\t")
    assert result.primary_metric.value == pytest.approx(100 * theirs["hit"].mean())
    # "D" for a three-option question: no option, and no judge to ask
    assert not result.comparable and "judged by exact_matching" in result.not_comparable_because[0]

    hb = make_hallusionbench(tmp_path / "data" / "HallusionBench.tsv")
    said = ["Yes", "no.", "maybe"]
    answers = {str(i): said[k % 3] for k, i in enumerate(pd.read_csv(hb, sep="\t").dropna(subset=["image"])["index"])}
    pred = vlmevalkit_file(hb, tmp_path / "vk" / "M_HallusionBench.tsv", answers)
    data = kit["smp"].load(str(pred))
    data["prediction"] = [str(x) for x in data["prediction"]]
    data["extracted"] = [kit["yorn"].YOrN_Extraction(p) for p in data["prediction"]]
    data["score"] = data["answer"] == data["extracted"]
    verdicts = pred.with_name("M_HallusionBench_auxmatch.tsv")
    kit["smp"].dump(data, str(verdicts))
    result = _import(tmp_path / "c", "hallusionbench", pred, verdicts)["hallusionbench"]
    scores = _scores(tmp_path / "c" / "run", "hallusionbench")
    assert {k: s.score for k, s in scores.items()} == {
        str(i): float(ok) for i, ok in zip(data["index"], data["score"], strict=True)
    }
    assert result.judge == "VLMEvalKit file (judge not named)"
    # "maybe" is neither yes nor no: Unknown in the file, which does not say whether a judge was asked
    assert [r for r in result.not_comparable_because if "VLMEvalKit" in r] == [
        f"3 answers are unread (Unknown) in VLMEvalKit's {verdicts.name}, which does not say whether a judge was asked"
    ]


def test_mathvista_hits_are_vlmevalkits_post_check(kit, tmp_path):
    pred, verdicts = _mathvista_files(tmp_path)
    _import(tmp_path, "mathvista_mini", pred, verdicts)
    data = kit["smp"].load(str(verdicts))
    theirs = {
        str(data.iloc[i]["index"]): float(bool(kit["mathvista"].post_check(data.iloc[i]))) for i in range(len(data))
    }
    assert {k: s.score for k, s in _scores(tmp_path / "run", "mathvista_mini").items()} == theirs


def test_a_scoring_pass_parses_the_imported_file_once(tmp_path, monkeypatch):
    import ming_eval.tasks.vlm.base as vlm_base
    from ming_eval.tasks.vlm.imported import read_prediction_file

    tsv = make_mcq(tmp_path / "data" / "MMStar.tsv", n=6)
    pred = vlmevalkit_file(tsv, tmp_path / "vk" / "Model_MMStar.xlsx", MCQ_OUTPUTS)
    verdicts = mcq_result_file(pred, "gpt-4o-mini", {0: 0, 1: 1, 2: 1})
    read: list[Path] = []

    def counted(path: Path, required: Sequence[str]) -> Any:
        read.append(path)
        return read_prediction_file(path, required)

    monkeypatch.setattr(vlm_base, "read_prediction_file", counted)
    _import(tmp_path, "mmstar", pred, verdicts)
    # the source, then the copy in the run once: its samples and the verdicts' check share one parse
    assert read[0] == pred and len(read) == 2
    read.clear()
    rescore(tmp_path / "run", argv=["t"])
    assert len(read) == 1
