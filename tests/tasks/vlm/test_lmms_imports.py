"""lmms-eval ``--log_samples`` files of the six benchmarks whose logs carry no VLMEvalKit index.

The logs are written as lmms-eval writes them: the sample dict its evaluator builds (``doc_id``, ``doc``
without images, ``target``, ``arguments``, ``resps``, ``filtered_resps``, ``doc_hash`` and the task's
``process_results`` entries, as each task's ``utils.py`` returns them), then the changes its
``EvaluationTracker.save_results_samples`` makes: at v0.3.5 the doc is kept and ``arguments`` becomes a
dict; from 0.4 ``doc`` and ``arguments`` are dropped and ``resps`` only kept when it differs from
``filtered_resps``; from 0.7 single responses are unwrapped. The lines are written in reverse TSV
order, so a positional match would put every answer on the wrong row.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ming_eval.data.files import file_digest
from ming_eval.errors import DataError
from ming_eval.runner.rescore import rescore, score_external
from ming_eval.store.run_store import RunStore
from ming_eval.testing.fixtures.vlm import (
    make_hallusionbench,
    make_mathvista,
    make_mcq,
    make_mmmu,
    make_mmvet,
    make_ocrbench,
)
from tests.cli.test_cli import run_cli
from tests.tasks.vlm.helpers import load, score

Doc = dict[str, Any]


def _none(value: Any) -> Any:
    return None if isinstance(value, float) and pd.isna(value) else value


# -- each benchmark as its lmms-eval task sees it: (doc, target, prompt, filtered response, metrics) --------
def hallusion(row: Doc, text: str) -> tuple[Doc, str, str, str, Doc]:
    cat, sub, visual, set_id, fig, qid = str(row["index"]).split("_")
    yes = row["answer"] == "Yes"
    doc = {
        "category": cat,
        "subcategory": sub,
        "visual_input": visual,
        "set_id": set_id,
        "figure_id": fig,
        "sample_note": "synthetic",
        "question_id": qid,
        "question": row["question"],
        "gt_answer_details": f"The answer is {'yes' if yes else 'no'}.",
        "gt_answer": "1" if yes else "0",
        "filename": f"./{cat}/{sub}/{set_id}_{fig}.png",
    }
    sample = {**doc, "model_prediction": text}
    return doc, doc["gt_answer_details"], row["question"], text, {m: sample for m in ("aAcc", "fAcc", "qAcc")}


AI2D_POST = "\nAnswer with the option's letter from the given choices directly."


def ai2d(row: Doc, text: str) -> tuple[Doc, str, str, str, Doc]:
    options = [str(row[k]) for k in "ABCD" if _none(row.get(k)) is not None]
    doc = {"question": row["question"], "options": options, "answer": str("ABCD".index(row["answer"]))}
    prompt = row["question"] + "\n" + "\n".join(f"{chr(65 + i)}. {o}" for i, o in enumerate(options)) + AI2D_POST
    m = re.match(r"^\s*([A-Z])\.", text)  # lmms-eval's MultiChoiceRegexFilter
    filtered = m.group(1) if m else text
    return doc, row["answer"], prompt, filtered, {"exact_match": float(filtered == row["answer"])}


def mmmu(row: Doc, text: str) -> tuple[Doc, str, str, str, Doc]:
    options = [str(row[k]) for k in "ABCDE" if _none(row.get(k)) is not None]
    kind = "multiple-choice" if options else "open"
    doc = {
        "id": row["index"],
        "question": row["question"],
        "options": str(options),
        "explanation": "",
        "answer": row["answer"],
        "question_type": kind,
        "subfield": row["category"],
        "topic_difficulty": "Easy",
        "img_type": "['Photographs']",
    }
    acc = {
        "id": row["index"],
        "subdomain": row["category"],
        "question_type": kind,
        "answer": row["answer"],
        "parsed_pred": [text[:1]],
    }
    return doc, row["answer"], row["question"], text, {"mmmu_acc": acc, "submission": {row["index"]: text[:1]}}


def mathvista(row: Doc, text: str) -> tuple[Doc, str, str, str, Doc]:
    choices = _none(row["choices"])
    doc = {
        "pid": str(row["index"]),
        "question": str(row["question"]).split("Question: ")[-1],
        "image": f"images/{row['index']}.jpg",
        "choices": ast.literal_eval(choices) if choices else None,
        "unit": None,
        "precision": _none(row["precision"]),
        "answer": str(row["answer"]),
        "question_type": row["question_type"],
        "answer_type": row["answer_type"],
        "pid_hint": None,
        "metadata": {"split": "testmini", "language": "english"},
        "query": row["question"],
    }
    result = {
        "question_id": doc["pid"],
        "query": doc["query"],
        "choices": doc["choices"],
        "answer": doc["answer"],
        "extraction": text,
        "prediction": text,
        "true_false": False,
        "question_type": doc["question_type"],
        "answer_type": doc["answer_type"],
        "precision": doc["precision"] or 0,
        "metadata": doc["metadata"],
    }
    return doc, doc["answer"], row["question"], text, {"llm_as_judge_eval": result, "submission": result}


def mmvet(row: Doc, text: str) -> tuple[Doc, str, str, str, Doc]:
    doc = {
        "question_id": row["index"],
        "question": row["question"],
        "answer": row["answer"],
        "capability": row["capability"],
    }
    entry = {
        "question_id": row["index"],
        "question": row["question"],
        "gt_answer": row["answer"],
        "capabilities": row["capability"],
        "pred_answer": text,
        "score": 0.0,
        "eval_model": "gpt-4.1-mini",
    }
    return doc, row["answer"], row["question"], text, {"gpt_eval_score": entry}


def ocrbench(row: Doc, text: str) -> tuple[Doc, str, str, str, Doc]:
    answers = ast.literal_eval(row["answer"])
    doc = {"dataset": row["dataset"], "question": row["question"], "question_type": row["category"], "answer": answers}
    entry = {"question_type": row["category"], "score": 0, "prediction": text.strip(), "ground_truth": answers}
    return doc, answers, row["question"].strip(), text, {"ocrbench_accuracy": entry}


Build = Callable[[Doc, str], tuple[Doc, Any, str, str, Doc]]


def write_log(
    tsv: Path,
    out: Path,
    lmms_task: str,
    build: Build,
    outputs: Mapping[str, str],
    *,
    version: str = "0.7",
    only: Callable[[Doc], bool] = lambda row: True,
) -> Path:
    """``{date}_samples_{task}.jsonl`` for the TSV's rows (``only`` those), in reverse order."""
    frame = pd.read_csv(tsv, sep="\t")
    frame = frame[frame["image"].notna()]  # lmms-eval's splits (HallusionBench "image") hold no image-less rows
    rows = [r for r in frame.drop(columns=["image"]).to_dict(orient="records") if only(r)]
    out.parent.mkdir(parents=True, exist_ok=True)
    gen_kwargs = {"max_new_tokens": 128, "temperature": 0, "do_sample": False, "until": ["\n\n"]}
    with out.open("w", encoding="utf-8") as fh:
        for doc_id, row in reversed(list(enumerate(rows))):
            text = outputs[str(row["index"])]
            doc, target, prompt, filtered, metrics = build(row, text)
            sample: dict[str, Any] = {
                "doc_id": doc_id,
                "doc": doc,
                "target": target,
                "arguments": [prompt, gen_kwargs, doc_id, lmms_task, "test"],
                "resps": [[text]],
                "filtered_resps": [filtered],
                "doc_hash": hashlib.sha256(json.dumps(doc, indent=2).encode()).hexdigest(),
            }
            if version == "0.3":
                sample["prompt_hash"] = hashlib.sha256(prompt.encode()).hexdigest()
                sample["target_hash"] = hashlib.sha256(str(target).encode()).hexdigest()
            else:
                sample["token_counts"] = [None]
            sample.update(metrics)
            # EvaluationTracker.save_results_samples
            sample["input"] = sample["arguments"][0]
            if version == "0.3":
                sample["arguments"] = dict(enumerate(sample["arguments"][1]))
            else:
                if version == "0.7":
                    sample["resps"] = sample["resps"][0]
                    sample["filtered_resps"] = sample["filtered_resps"][0]
                if sample["resps"] == sample["filtered_resps"] or sample["resps"][0] == sample["filtered_resps"]:
                    sample.pop("resps")
                sample.pop("arguments")
                sample.pop("doc")
            sample["target"] = str(sample["target"])
            fh.write(json.dumps(sample, ensure_ascii=False) + "\n")
    return out


# -- per benchmark: our task, its TSV, the lmms-eval task, outputs, options -----------------------------------
def _outputs(tsv: Path, texts: list[str]) -> dict[str, str]:
    index = [str(i) for i in pd.read_csv(tsv, sep="\t")["index"]]
    return {i: texts[k % len(texts)] for k, i in enumerate(index)}


CASES: dict[str, tuple[str, Callable[[Path], Path], str, Build, list[str], dict[str, Any]]] = {
    "hallusionbench": (
        "HallusionBench",
        make_hallusionbench,
        "hallusion_bench_image",
        hallusion,
        ["Yes, it is.", "No.", "I cannot tell", "yes"],
        {"judge": "exact_matching"},
    ),
    "ai2d_test": (
        "AI2D_TEST",
        lambda p: make_mcq(p, n=6),
        "ai2d",
        ai2d,
        ["A. red", "The answer is B", "C", "D. blue", "None", ""],
        {"judge": "exact_matching"},
    ),
    "mmmu_dev_val": (
        "MMMU_DEV_VAL",
        make_mmmu,
        "mmmu_val",
        mmmu,
        ["B", "A", "red", "C"],
        {"judge": "exact_matching"},
    ),
    "mathvista_mini": (
        "MathVista_MINI",
        make_mathvista,
        "mathvista_testmini_format",
        mathvista,
        ["B", "2", "2.5", "red", "(B) 1/3", "12", "6.5", "blue"],
        {"judge": None},
    ),
    "mmvet": ("MMVet", make_mmvet, "mmvet", mmvet, ["red", "It is blue.", "", "green"], {"judge": None}),
    "ocrbench": (
        "OCRBench",
        make_ocrbench,
        "ocrbench",
        ocrbench,
        ["it says word0", "WORD 1", "x^{2}", "nothing", "word4", "no"],
        {},
    ),
}


def _setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task: str) -> tuple[Path, dict[str, Any]]:
    dataset, make, *_ = CASES[task]
    lmu = tmp_path / "LMUData"
    tsv = make(lmu / f"{dataset}.tsv")
    monkeypatch.setenv("LMUData", str(lmu))
    return tsv, {**CASES[task][5], "data_md5": file_digest(tsv, "md5")}


def _import(tmp_path: Path, task: str, log: Path, options: dict[str, Any], **kw: Any) -> Any:
    return score_external(task, log, tmp_path / "run", task_options=options, predictions=True, argv=["t"], **kw)


@pytest.mark.parametrize("version", ["0.3", "0.4", "0.7"])
@pytest.mark.parametrize("task", sorted(CASES))
def test_a_log_lands_on_the_right_rows_and_scores_as_our_run(tmp_path, monkeypatch, task, version):
    _, make, lmms_task, build, texts, _ = CASES[task]
    tsv, options = _setup(tmp_path, monkeypatch, task)
    outputs = _outputs(tsv, texts)
    split = {"split": "validation"} if task == "mmmu_dev_val" else {}
    only = (lambda row: row["split"] == "validation") if split else (lambda row: True)
    name = f"20260101_120000_samples_{lmms_task}.jsonl"
    log = write_log(tsv, tmp_path / "logs" / name, lmms_task, build, outputs, version=version, only=only)
    result = _import(tmp_path, task, log, options)[task]

    # every raw response (not the filtered letter of AI2D's regex filter) on the row it answers
    stored = {k: p.output for k, p in RunStore(tmp_path / "run").task(task).read_predictions().items()}
    ours, samples, ctx = load(task, tmp_path / "ref", make, **{**CASES[task][5], **split})
    assert stored == {s.id: outputs[s.id] for s in samples}
    _, ref = score(ours, ctx, samples, outputs)
    assert result.primary_metric.value == ref.primary_metric.value
    assert result.breakdowns == ref.breakdowns
    assert result.counts["n"] == len(samples)
    assert any(f"lmms-eval's log {log.resolve()}" in n for n in result.notes)
    # lmms-eval's prompts are not the published (VLMEvalKit) protocol: never ranked against baselines
    assert any(f"lmms-eval's task {lmms_task}" in r for r in result.not_comparable_because)
    again = rescore(tmp_path / "run", argv=["t"])[task]
    assert again.primary_metric.value == ref.primary_metric.value


def _lines(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines()


def _rewrite(log: Path, lines: list[str], name: str | None = None) -> Path:
    out = log.parent / "bad" / (name or log.name)
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _log(tmp_path: Path, task: str, version: str = "0.7", **kw: Any) -> tuple[Path, Path, dict[str, Any]]:
    _, _, lmms_task, build, texts, _ = CASES[task]
    tsv, options = _setup(tmp_path, kw.pop("monkeypatch"), task)
    name = f"20260101_120000_samples_{lmms_task}.jsonl"
    return (
        write_log(tsv, tmp_path / "logs" / name, lmms_task, build, _outputs(tsv, texts), version=version),
        tsv,
        options,
    )


def test_bad_logs_are_refused_naming_file_and_line(tmp_path, monkeypatch):
    log, _, options = _log(tmp_path, "mathvista_mini", monkeypatch=monkeypatch)
    lines = _lines(log)  # doc_ids 7, 6, ..., 0 for indices 8, 7, ..., 1
    # a truncated file: the last line cut mid-way
    with pytest.raises(DataError, match=rf"{re.escape(log.name)} line 8 is not valid JSON .*truncated"):
        _import(tmp_path / "a", "mathvista_mini", _rewrite(log, [*lines[:7], lines[7][:40]]), options)
    # a doc logged twice
    with pytest.raises(DataError, match=r"line 9: doc_id 6 appears again \(first at line 2\)"):
        _import(tmp_path / "b", "mathvista_mini", _rewrite(log, [*lines, lines[1]]), options)
    # two docs that name the same row
    other = json.loads(lines[1])
    other["doc_id"] = 99
    with pytest.raises(
        DataError,
        match=r"line 9 \(doc_id 99\): answers the same row of MathVista_MINI.tsv "
        r"\(index 7\) as line 2",
    ):
        _import(tmp_path / "c", "mathvista_mini", _rewrite(log, [*lines, json.dumps(other)]), options)
    # a pid the TSV does not have, and an answer that differs from the TSV's
    moved = json.loads(lines[0])
    moved["llm_as_judge_eval"]["question_id"] = moved["submission"]["question_id"] = "999"
    with pytest.raises(DataError, match=r"line 1 \(doc_id 7\): no row of MathVista_MINI.tsv has the pid '999'"):
        _import(tmp_path / "d", "mathvista_mini", _rewrite(log, [json.dumps(moved), *lines[1:]]), options)
    changed = json.loads(lines[2])
    changed["llm_as_judge_eval"]["answer"] = changed["submission"]["answer"] = "41"
    with pytest.raises(
        DataError,
        match=r"line 3 \(doc_id 5\): the logged answer '41' differs from '\w+' in "
        r"MathVista_MINI.tsv \(index 6\)",
    ):
        _import(tmp_path / "e", "mathvista_mini", _rewrite(log, [*lines[:2], json.dumps(changed), *lines[3:]]), options)
    # a log of another task, by its name and, renamed, by its content
    ocr, _, _ = _log(tmp_path / "o", "ocrbench", monkeypatch=monkeypatch)
    monkeypatch.setenv("LMUData", str(tmp_path / "LMUData"))
    with pytest.raises(
        DataError,
        match=r"is lmms-eval's log of task ocrbench, not of mathvista_testmini.*\n.*"
        r"score it as task ocrbench",
    ):
        _import(tmp_path / "f", "mathvista_mini", ocr, options)
    renamed = _rewrite(ocr, _lines(ocr), "results.jsonl")
    with pytest.raises(DataError, match=r"results.jsonl line 1 \(doc_id 5\): the sample carries no pid"):
        _import(tmp_path / "g", "mathvista_mini", renamed, options)
    # a partial log
    with pytest.raises(DataError, match=r"1 of the 8 samples of MathVista_MINI.tsv are not in the log \(e.g. 1\)"):
        _import(tmp_path / "h", "mathvista_mini", _rewrite(log, lines[:7]), options)


def test_the_tsv_is_required(tmp_path, monkeypatch):
    log, tsv, options = _log(tmp_path, "hallusionbench", monkeypatch=monkeypatch)
    tsv.unlink()
    with pytest.raises(DataError, match=r"importing it needs HallusionBench.tsv.*\n.*--data HallusionBench.tsv=PATH"):
        _import(tmp_path, "hallusionbench", log, options)


def test_rows_the_log_cannot_tell_apart_are_refused(tmp_path, monkeypatch):
    """AI2D and OCRBench logs name no row: the content decides, and two rows alike are not guessed at."""
    _, _, lmms_task, build, texts, _ = CASES["ai2d_test"]
    tsv, options = _setup(tmp_path, monkeypatch, "ai2d_test")
    frame = pd.read_csv(tsv, sep="\t")
    for column in ("question", "A", "B", "C", "D", "answer"):
        frame.loc[3, column] = frame.loc[2, column]  # another image, the same question
    frame.to_csv(tsv, sep="\t", index=False)
    options["data_md5"] = file_digest(tsv, "md5")
    log = write_log(tsv, tmp_path / "l" / f"x_samples_{lmms_task}.jsonl", lmms_task, build, _outputs(tsv, texts))
    with pytest.raises(
        DataError,
        match=r"line 3 \(doc_id 3\): 2 rows of AI2D_TEST.tsv \(index 2, 3\) have the same "
        r"question, options and answer; the log cannot tell",
    ):
        _import(tmp_path, "ai2d_test", log, options)


def test_a_partial_mmmu_log_is_the_validation_split(tmp_path, monkeypatch):
    """lmms-eval's mmmu_val holds the validation rows only: the dev rows are no missing samples, and a
    log without one validation row is incomplete."""
    _, _, lmms_task, build, texts, _ = CASES["mmmu_dev_val"]
    tsv, options = _setup(tmp_path, monkeypatch, "mmmu_dev_val")
    name = f"x_samples_{lmms_task}.jsonl"
    full = write_log(tsv, tmp_path / "l" / name, lmms_task, build, _outputs(tsv, texts))  # dev rows too
    with pytest.raises(DataError, match=r"line 1 \(doc_id 5\): no row of MMMU_DEV_VAL.tsv has the MMMU id 'dev_Art_5'"):
        _import(tmp_path / "a", "mmmu_dev_val", full, options)
    valid = [line for line in _lines(full) if '"validation_' in line]
    with pytest.raises(DataError, match=r"1 of the 4 samples of MMMU_DEV_VAL.tsv are not in the log"):
        _import(tmp_path / "b", "mmmu_dev_val", _rewrite(full, valid[1:]), options)
    result = _import(tmp_path / "c", "mmmu_dev_val", _rewrite(full, valid[1:]), options, allow_incomplete=True)
    assert result["mmmu_dev_val"].counts["n"] == 3
    assert result["mmmu_dev_val"].not_comparable_because
    assert any("only the validation rows of MMMU_DEV_VAL.tsv" in n for n in result["mmmu_dev_val"].notes)


def test_cli_imports_a_log(tmp_path, monkeypatch, capsys):
    log, _, options = _log(tmp_path, "ocrbench", monkeypatch=monkeypatch)
    out = tmp_path / "run"
    args = [
        "score",
        "ocrbench",
        "--predictions",
        str(log),
        "--out",
        str(out),
        "-o",
        f"ocrbench.data_md5={options['data_md5']}",
    ]
    code, text = run_cli(args, capsys)
    assert code == 0, text
    assert "imported 6 predictions" in text
    bad = _rewrite(log, [*_lines(log), _lines(log)[0]])
    code, text = run_cli([*args[:3], str(bad), "--out", str(tmp_path / "run2"), *args[6:]], capsys)
    assert code != 0
    assert "line 7: doc_id 5 appears again (first at line 1)" in text
    assert "Traceback" not in text
    # the log changed since its import: importing it again into the same run is refused, the scores kept
    other = json.loads(_lines(log)[0])
    other["filtered_resps"] = "something else"
    log.write_text("\n".join([json.dumps(other), *_lines(log)[1:]]) + "\n", encoding="utf-8")
    code, text = run_cli(args, capsys)
    assert code != 0
    assert "already holds scores of" in text and "as it was before (it changed since)" in text
    stored = RunStore(out).task("ocrbench").read_predictions()
    assert "something else" not in {p.output for p in stored.values()}


def test_mmvet_ids_name_a_tsv_indexed_by_number(tmp_path, monkeypatch):
    """MM-Vet's question ids are ``v1_N``; a TSV indexed 0..N is matched by the number, and checked by the
    question and answer."""
    log, tsv, options = _log(tmp_path, "mmvet", monkeypatch=monkeypatch)
    frame = pd.read_csv(tsv, sep="\t")
    frame["index"] = [int(str(i).removeprefix("v1_")) for i in frame["index"]]
    frame.to_csv(tsv, sep="\t", index=False)
    options["data_md5"] = file_digest(tsv, "md5")
    _import(tmp_path, "mmvet", log, options)
    stored = {k: p.output for k, p in RunStore(tmp_path / "run").task("mmvet").read_predictions().items()}
    texts = CASES["mmvet"][4]
    assert stored == {str(i): texts[i % len(texts)] for i in range(len(frame))}
    swapped = frame.copy()
    swapped.loc[0, "question"], swapped.loc[1, "question"] = frame.loc[1, "question"], frame.loc[0, "question"]
    swapped.to_csv(tsv, sep="\t", index=False)
    options["data_md5"] = file_digest(tsv, "md5")
    with pytest.raises(DataError, match=r"the logged question .* differs from .* in MMVet.tsv \(index 1\)"):
        _import(tmp_path / "b", "mmvet", log, options)
