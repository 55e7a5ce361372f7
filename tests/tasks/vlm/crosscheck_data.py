"""Data for the cross-check against VLMEvalKit: generated TSVs, varied model outputs, and scripted
judge replies that depend only on the sample a judge prompt is about (and the temperature), so the same
replies come back whichever program builds the prompt, from whichever prompt source.

Outputs that VLMEvalKit's spreadsheet round trip turns into NaN ("", "None") are left out of the MCQ,
yes/no and MM-Vet outputs (the recorded expectations were made without them); ming-eval now scores them
as VLMEvalKit does, as the text "nan" (``quirks: fixed`` differs on purpose), which test_parity.py covers.

Everything here is deterministic; ``metadata_digest`` pins the generated files (without images) so
that a change of the generators cannot silently void the recorded expectations.
"""

from __future__ import annotations

import hashlib
import random
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ming_eval.testing.fixtures.vlm import (
    make_hallusionbench,
    make_mathvista,
    make_mcq,
    make_mmbench,
    make_mmmu,
    make_mmvet,
    make_ocrbench,
)

GENERATORS = {
    "MMBench_DEV_EN": lambda p: make_mmbench(p, n_questions=24, seed=3),
    "MMBench_DEV_CN": lambda p: make_mmbench(p, n_questions=12, cn=True, seed=4),
    "MMStar": lambda p: make_mcq(p, n=48, seed=5, with_hint=True),
    "MMMU_DEV_VAL": lambda p: make_mmmu(p, n=24, seed=6),
    "MathVista_MINI": lambda p: make_mathvista(p, n=40, seed=7),
    "HallusionBench": lambda p: make_hallusionbench(p, n_sets=8, seed=8),
    "MMVet": lambda p: make_mmvet(p, n=24, seed=9),
    "OCRBench": lambda p: make_ocrbench(p, n=36, seed=10),
}


TASKS = {
    "MMBench_DEV_EN": "mmbench_dev_en",
    "MMBench_DEV_CN": "mmbench_dev_cn",
    "MMStar": "mmstar",
    "MMMU_DEV_VAL": "mmmu_dev_val",
    "HallusionBench": "hallusionbench",
    "MathVista_MINI": "mathvista_mini",
    "MMVet": "mmvet",
    "OCRBench": "ocrbench",
}
OUTPUT_SEEDS = {
    "MMBench_DEV_EN": 14,
    "MMBench_DEV_CN": 33,
    "MMStar": 6,
    "MMMU_DEV_VAL": 12,
    "HallusionBench": 11,
    "MathVista_MINI": 12,
    "MMVet": 13,
    "OCRBench": 14,
}


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16)


def metadata_digest(path: Path) -> str:
    frame = pd.read_csv(path, sep="\t", usecols=lambda c: c != "image")
    return hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()[:16]


def rows_of(path: Path) -> list[dict[str, Any]]:
    """A generated file's rows as pandas reads them (without images)."""
    return pd.read_csv(path, sep="\t", usecols=lambda c: c != "image").to_dict(orient="records")


def outputs_for(dataset: str, path: Path, seed: int | None = None) -> dict[str, str]:
    """The model outputs of the cross-check (index -> text); ``seed`` defaults to the dataset's."""
    rows = rows_of(path)
    seed = OUTPUT_SEEDS[dataset] if seed is None else seed
    if dataset.startswith("MMBench") or dataset in ("MMStar", "MMMU_DEV_VAL"):
        return mcq_outputs(rows, seed)
    make = {
        "HallusionBench": yes_no_outputs,
        "MathVista_MINI": mathvista_outputs,
        "MMVet": mmvet_outputs,
        "OCRBench": ocr_outputs,
    }[dataset]
    return make(rows, seed)


# -- model outputs ----------------------------------------------------------------------------------


def mcq_outputs(rows: list[dict[str, Any]], seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    out = {}
    for row in rows:
        options = {c: str(row[c]) for c in "ABCDEFGHI" if c in row and not pd.isna(row[c])}
        gold = str(row.get("answer"))
        letters = list(options) or ["A"]
        other = rng.choice([x for x in letters if x != gold] or letters)
        text = options.get(gold, gold)
        templates = [
            gold,
            other,
            f"The answer is {gold}.",
            f"({gold}) {text}",
            text,
            options.get(other, other),
            f"**{gold}**",
            f"{gold}. {text}",
            f"{gold} looks plausible at first, but I am really not sure about it",
            "Cannot determine the answer from the picture.",
            "Z",
            "I don't know",
            f"{gold} or {other}",
            gold.lower(),
            "图中是" + text,
            f"My answer is a {text}, I think, yes.",
            f"The correct answer is **{other}**, not {gold}.",
            "Looking at it carefully " + text + " " + "x" * 120,
            f"Answer: {gold}",
            f"I choose option {gold}",
            "hmm, something else entirely",
        ]
        out[str(row["index"])] = rng.choice(templates)
    return out


def yes_no_outputs(rows: list[dict[str, Any]], seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    templates = [
        "Yes",
        "No.",
        "yes, it is",
        "No, not really",
        "Yes and no",
        "I think so",
        "The answer is yes!",
        "nope",
        "." * 40 + " no",
        "Yes/No",
        "(yes)",
        "It is not; no.",
    ]
    return {str(r["index"]): rng.choice(templates) for r in rows}


def mathvista_outputs(rows: list[dict[str, Any]], seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    out = {}
    for row in rows:
        answer = str(row["answer"])
        if row["question_type"] == "multi_choice":
            templates = ["(B) 1/3", "B", "1/3", "The answer is C", "no idea", "one third", "A and C"]
        elif row["answer_type"] == "integer":
            templates = [
                answer,
                str(int(answer) + 1),
                f"The answer is {answer}.",
                f" {answer} ",
                f"{answer}.0",
                "several",
            ]
        elif row["answer_type"] == "float":
            templates = [answer, answer + "0", f"about {answer}", str(float(answer) + 1), "1/2"]
        else:
            templates = [answer, "blue", f"It is {answer}", ""]
        out[str(row["index"])] = rng.choice(templates)
    return out


def mmvet_outputs(rows: list[dict[str, Any]], seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    return {str(r["index"]): rng.choice(["red", "It is blue.", "green-ish", "I cannot see it", "yellow"]) for r in rows}


def ocr_outputs(rows: list[dict[str, Any]], seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    out = {}
    for row in rows:
        i = int(row["index"])
        out[str(i)] = rng.choice(
            [
                f"word{i}",
                f"The text reads WORD {i}.",
                f"w o r d{i}",
                "x^{2}",
                "X ^ { 2 }",
                "nothing",
                "",
                f"Word{i}\nmore",
            ]
        )
    return out


# -- scripted judges ----------------------------------------------------------------------------------
# A reply depends on the sample a judge prompt is about (its question, options or ground truth, and the
# model's answer) and on the temperature, never on the prompt's wording: the same replies come back from
# VLMEvalKit's prompts, from ming-eval's prompts read out of the pinned VLMEvalKit files, and from the
# stand-in prompt sources the tests use where those files are absent. The sample is recognised by its
# texts appearing in the prompt in order; that the prompts themselves are VLMEvalKit's, byte for byte,
# is checked separately (test_judge_prompts_pinned.py).


@dataclass(frozen=True)
class Case:
    """One sample as a judge prompt shows it: its texts in prompt order, and the reply's key."""

    pieces: tuple[str, ...]
    key: str
    letters: tuple[str, ...] = ()
    prediction: str = ""


def _matched(prompt: str, pieces: tuple[str, ...]) -> int | None:
    """Characters matched if every piece occurs in this order (latest occurrences), else None."""
    end = len(prompt)
    for piece in reversed(pieces):
        end = prompt.rfind(piece, 0, end)
        if end < 0:
            return None
    return sum(len(p) for p in pieces)


def find_case(prompt: str, cases: list[Case]) -> Case:
    best: list[Case] = []
    best_n = -1
    for case in cases:
        n = _matched(prompt, case.pieces)
        if n is not None and n >= best_n:
            best, best_n = ([*best, case] if n == best_n else [case]), n
    if len({c.key for c in best}) != 1:
        raise AssertionError(f"the judge prompt matches {len({c.key for c in best})} samples: ...{prompt[-300:]!r}")
    return best[0]


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def mcq_cases(rows: list[dict[str, Any]], outputs: dict[str, str]) -> list[Case]:
    """Options as the judge sees them: non-empty letter columns; an MMMU open question (no A) becomes
    A = the answer text, B = "Other Answers" (VLMEvalKit's MMMU_preproc, ming-eval's McqTask)."""
    cases = []
    for row in rows:
        choices = {c: _text(row.get(c)) for c in string.ascii_uppercase}
        choices = {c: t for c, t in choices.items() if t is not None}
        if "A" not in choices and _text(row.get("answer")) is not None:
            choices = dict(sorted({**choices, "A": str(row["answer"]), "B": "Other Answers"}.items()))
        question, prediction = str(row["question"]), outputs[str(row["index"])]
        texts = (question, *choices.values(), prediction)
        cases.append(Case(texts, "\x1f".join(texts), letters=(*sorted(choices), "Z")))
    return cases


def question_cases(rows: list[dict[str, Any]], outputs: dict[str, str], *, with_answer: bool = False) -> list[Case]:
    """Yes/no and MathVista (question, answer); MM-Vet also shows the ground truth's parts."""
    cases = []
    for row in rows:
        question, prediction = str(row["question"]), outputs[str(row["index"])]
        gold = str(row["answer"]) if with_answer else ""
        parts = tuple(p.strip() for p in re.split("<AND>|<OR>", gold) if p.strip())
        cases.append(
            Case((question, *parts, prediction), f"{question}\x1f{gold}\x1f{prediction}", prediction=prediction)
        )
    return cases


def _t(temperature: float) -> str:
    return f"{float(temperature):.2f}"


class ScriptedJudge:
    """The judge of one cross-check dataset: ``judge(prompt, temperature) -> reply``."""

    def __init__(self, kind: str, cases: list[Case]) -> None:
        self.kind = kind
        self.cases = cases

    def __call__(self, prompt: str, temperature: float = 0.0) -> str:
        case = find_case(prompt, self.cases)
        if self.kind == "mcq":
            # always something VLMEvalKit can parse, so its random fallback is never reached
            return case.letters[_h(case.key) % len(case.letters)]
        if self.kind == "yes_no":
            return ["Yes", "No", "Unknown", "I am not sure"][_h(f"{case.key}|{_t(temperature)}") % 4]
        if self.kind == "mathvista":
            return mathvista_reply(case.prediction)
        k = _h(f"{case.key}|{_t(temperature)}") % 13
        return "N/A" if k == 12 else ("1.2" if k == 11 else f"{k / 10:.1f}")


def mathvista_reply(response: str) -> str:
    numbers = re.findall(r"-?\d+(?:\.\d+)?", response)
    if numbers:
        return numbers[-1]
    letter = re.search(r"\b([A-E])\b", response)
    return letter.group(1) if letter else response.strip()[:12] or "none"


def judge_for(dataset: str, rows: list[dict[str, Any]], outputs: dict[str, str]) -> ScriptedJudge:
    """``rows``: the dataset file's rows (pandas' reading, without images); ``outputs``: index -> answer."""
    if dataset.startswith("MMBench") or dataset in ("MMStar", "MMMU_DEV_VAL"):
        return ScriptedJudge("mcq", mcq_cases(rows, outputs))
    if dataset == "HallusionBench":
        return ScriptedJudge("yes_no", question_cases(rows, outputs))
    if dataset == "MathVista_MINI":
        return ScriptedJudge("mathvista", question_cases(rows, outputs))
    if dataset == "MMVet":
        return ScriptedJudge("mmvet", question_cases(rows, outputs, with_answer=True))
    raise KeyError(dataset)
