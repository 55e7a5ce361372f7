"""Data for the cross-check against VLMEvalKit: generated TSVs, varied model outputs, and scripted
judge replies that depend only on the judge prompt (and temperature), so the same replies come back
whichever program builds the prompt. Byte-identical prompts are therefore part of what is checked.

Outputs that VLMEvalKit's spreadsheet round trip turns into NaN ("", "None") are left out of the MCQ,
yes/no and MM-Vet outputs: there the two programs differ on purpose (an empty output is wrong here
without a judge call; VLMEvalKit asks the judge about the text "nan"), and tests elsewhere cover it.

Everything here is deterministic; ``metadata_digest`` pins the generated files (without images) so
that a change of the generators cannot silently void the recorded expectations.
"""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path
from typing import Any

import pandas as pd

from ming_eval.tasks.vlm.fixtures import (
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


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16)


def metadata_digest(path: Path) -> str:
    frame = pd.read_csv(path, sep="\t", usecols=lambda c: c != "image")
    return hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()[:16]


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
            gold, other, f"The answer is {gold}.", f"({gold}) {text}", text, options.get(other, other),
            f"**{gold}**", f"{gold}. {text}", f"{gold} looks plausible at first, but I am really not sure about it",
            "Cannot determine the answer from the picture.", "Z", "I don't know", f"{gold} or {other}",
            gold.lower(), "图中是" + text, f"My answer is a {text}, I think, yes.",
            f"The correct answer is **{other}**, not {gold}.",
            "Looking at it carefully " + text + " " + "x" * 120,
            f"Answer: {gold}", f"I choose option {gold}", "hmm, something else entirely",
        ]
        out[str(row["index"])] = rng.choice(templates)
    return out


def yes_no_outputs(rows: list[dict[str, Any]], seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    templates = ["Yes", "No.", "yes, it is", "No, not really", "Yes and no", "I think so", "The answer is yes!",
                 "nope", "." * 40 + " no", "Yes/No", "(yes)", "It is not; no."]
    return {str(r["index"]): rng.choice(templates) for r in rows}


def mathvista_outputs(rows: list[dict[str, Any]], seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    out = {}
    for row in rows:
        answer = str(row["answer"])
        if row["question_type"] == "multi_choice":
            templates = ["(B) 1/3", "B", "1/3", "The answer is C", "no idea", "one third", "A and C"]
        elif row["answer_type"] == "integer":
            templates = [answer, str(int(answer) + 1), f"The answer is {answer}.", f" {answer} ", f"{answer}.0",
                         "several"]
        elif row["answer_type"] == "float":
            templates = [answer, answer + "0", f"about {answer}", str(float(answer) + 1), "1/2"]
        else:
            templates = [answer, "blue", f"It is {answer}", ""]
        out[str(row["index"])] = rng.choice(templates)
    return out


def mmvet_outputs(rows: list[dict[str, Any]], seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    return {str(r["index"]): rng.choice(["red", "It is blue.", "green-ish", "I cannot see it", "yellow"])
            for r in rows}


def ocr_outputs(rows: list[dict[str, Any]], seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    out = {}
    for row in rows:
        i = int(row["index"])
        out[str(i)] = rng.choice([f"word{i}", f"The text reads WORD {i}.", f"w o r d{i}", "x^{2}", "X ^ { 2 }",
                                  "nothing", "", f"Word{i}\nmore"])
    return out


# -- scripted judges ----------------------------------------------------------------------------------

_OPTION_LINE = re.compile(r"^([A-Z])\. ", re.M)


def mcq_judge(prompt: str) -> str:
    """A letter among the options listed in the prompt, or Z: always something VLMEvalKit can parse,
    so its random fallback is never reached."""
    tail = prompt.rsplit("There are several options:", 1)[-1]
    letters = [*sorted(set(_OPTION_LINE.findall(tail))), "Z"]
    return letters[_h(prompt) % len(letters)]


def yes_no_judge(prompt: str, temperature: float) -> str:
    return ["Yes", "No", "Unknown", "I am not sure"][_h(f"{prompt}|{temperature}") % 4]


def mathvista_judge(prompt: str) -> str:
    response = prompt.rsplit("Model respone: ", 1)[-1].rsplit("Extracted answer:", 1)[0]
    numbers = re.findall(r"-?\d+(?:\.\d+)?", response)
    if numbers:
        return numbers[-1]
    letter = re.search(r"\b([A-E])\b", response)
    return letter.group(1) if letter else response.strip()[:12] or "none"


def mmvet_judge(prompt: str, temperature: float) -> str:
    k = _h(f"{prompt}|{temperature}") % 13
    return "N/A" if k == 12 else ("1.2" if k == 11 else f"{k / 10:.1f}")
