"""Small TSVs in VLMEvalKit's real formats, for the self-test, the tests and the benchmarks.

Every generator writes the columns the real file has (``index``, base64 ``image``, ``question``,
options ``A``-``D``, ``answer``, ``category``, ...) through ``pandas.DataFrame.to_csv(sep="\\t")``,
as the published files were written, with small solid-colour PNGs (or noise, for size). MMBench
files carry the circular copies (index ``i + k*1e6``, options rotated, image cell = the original
index). The content is synthetic: numbers computed on these files mean nothing.
"""

from __future__ import annotations

import base64
import io
import random
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from ming_eval.cards.schema import TaskCard
from ming_eval.core.task import SelftestSetup
from ming_eval.data.files import file_digest

COLORS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 210), "yellow": (230, 220, 30)}
MMB_ABILITIES = ("coarse_perception", "finegrained_perception (instance-level)", "logic_reasoning")


def png_b64(color: tuple[int, int, int], size: int = 16, *, noise_seed: int | None = None) -> str:
    """A base64 PNG: a solid colour, or incompressible noise of ``size`` x ``size`` (for big files)."""
    if noise_seed is None:
        img = Image.new("RGB", (size, size), color)
    else:
        rng = np.random.default_rng(noise_seed)
        img = Image.fromarray(rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def write_tsv(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


def _colour_question(rng: random.Random, i: int, cn: bool) -> tuple[str, list[str], int]:
    names = list(COLORS)
    shown = rng.choice(names)
    options = rng.sample(names, 4)
    if shown not in options:
        options[rng.randrange(4)] = shown
    question = "图中主要是什么颜色?" if cn else f"Which colour fills image {i}?"
    return question, options, options.index(shown)


def make_mmbench(
    path: Path,
    n_questions: int = 4,
    *,
    cn: bool = False,
    with_answers: bool = True,
    seed: int = 0,
    image_size: int = 16,
) -> Path:
    """MMBench_{DEV,TEST}_{EN,CN}[_V11]: every question once per rotation of its options."""
    rng = random.Random(seed)
    main: list[dict[str, Any]] = []
    copies: list[dict[str, Any]] = []
    for i in range(n_questions):
        question, options, right = _colour_question(rng, i, cn)
        n_opt = 4 if i % 3 else 3  # some questions have fewer options
        if right >= n_opt:
            options[n_opt - 1], options[right] = options[right], options[n_opt - 1]
            right = n_opt - 1
        options = options[:n_opt]
        shown = options[right]
        hint = ("提示" if cn else f"Look at image {i}.") if i % 2 else None
        base: dict[str, Any] = {
            "question": question,
            "hint": hint,
            "category": ["image_color", "image_scene"][i % 2],
            "source": "synthetic",
            "l2-category": MMB_ABILITIES[i % len(MMB_ABILITIES)],
            "comment": None,
            "split": "dev",
        }
        rotation = deque(options)
        for k in range(n_opt):
            letters = "ABCD"
            row = {"index": i + k * 1_000_000, **base}
            for j, letter in enumerate(letters):
                row[letter] = rotation[j] if j < n_opt else None
            if with_answers:
                row["answer"] = letters[list(rotation).index(shown)]
            row["image"] = png_b64(COLORS[shown], image_size) if k == 0 else str(i)
            (main if k == 0 else copies).append(row)
            rotation.rotate(1)
    return write_tsv(path, main + copies)


def make_mcq(
    path: Path, n: int = 6, *, seed: int = 0, image_size: int = 16, noise: bool = False, with_hint: bool = False
) -> Path:
    """MMStar / AI2D_TEST style: one row per question, options A-D, a letter answer."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        question, options, right = _colour_question(rng, i, False)
        rows.append(
            {
                "index": i,
                "question": question,
                "hint": f"Hint {i}" if with_hint else None,
                "A": options[0],
                "B": options[1],
                "C": options[2],
                "D": options[3],
                "answer": "ABCD"[right],
                "category": ["coarse perception", "math"][i % 2],
                "l2-category": ["image scene", "numeric"][i % 2],
                "image": png_b64(
                    COLORS[options[right]], image_size, noise_seed=(seed * 100_003 + i) if noise else None
                ),
            }
        )
    return write_tsv(path, rows)


def make_mmmu(path: Path, n: int = 6, *, seed: int = 0) -> Path:
    """MMMU_DEV_VAL: options up to E, open questions (no options), several images, <image k> tags."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        colours = rng.sample(list(COLORS), 2)
        split = "validation" if i < n - 2 else "dev"
        if i % 3 == 2:  # an open question: the answer is text and there are no options
            row: dict[str, Any] = {
                "question": f"Name the colour of <image 1> in question {i}.",
                "answer": colours[0],
                "question_type": "open",
            }
            images = [png_b64(COLORS[colours[0]])]
        else:
            row = {
                "question": f"<image 1> and <image 2>: which colour is in the first image? ({i})",
                "A": colours[1],
                "B": colours[0],
                "C": "white",
                "D": "black",
                "E": "grey" if i % 2 else None,
                "answer": "B",
                "question_type": "multiple-choice",
            }
            images = [png_b64(COLORS[colours[0]]), png_b64(COLORS[colours[1]])]
        rows.append(
            {
                "index": f"{split}_Art_{i}",
                **row,
                "category": ["Art", "Physics"][i % 2],
                "l2-category": ["Art and Design", "Science"][i % 2],
                "split": split,
                "image": images[0] if len(images) == 1 else str(images),
                "image_path": str([f"{split}_Art_{i}_{k}.png" for k in range(len(images))]),
            }
        )
    return write_tsv(path, rows)


def make_mathvista(path: Path, n: int = 8, *, seed: int = 0) -> Path:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        kind = ["multi_choice", "integer", "float", "text"][i % 4]
        row: dict[str, Any] = {
            "index": i + 1,
            "image": png_b64(COLORS[rng.choice(list(COLORS))]),
            "task": ["figure question answering", "math word problem"][i % 2],
            "skills": str(["arithmetic reasoning"] + (["statistical reasoning"] if i % 2 else [])),
            "precision": 1.0 if kind == "float" else None,
            "unit": None,
        }
        if kind == "multi_choice":
            row.update(
                question=f"Hint: Please answer the question and provide the correct option letter, e.g., A, "
                f"B, C, D, at the end.\nQuestion: What fraction is blue? ({i})\nChoices:\n(A) 1/2\n"
                "(B) 1/3\n(C) 2/3",
                answer="1/3",
                question_type="multi_choice",
                answer_type="text",
                answer_option="B",
                choices=str(["1/2", "1/3", "2/3"]),
            )
        elif kind == "text":
            row.update(
                question=f"Hint: answer in a word.\nQuestion: Which colour? ({i})",
                answer="red",
                question_type="free_form",
                answer_type="text",
                answer_option=None,
                choices=None,
            )
        else:
            answer = str(i * 2) if kind == "integer" else f"{i}.5"
            row.update(
                question=f"Hint: Please answer the question requiring an {kind} answer.\nQuestion: How much? ({i})",
                answer=answer,
                question_type="free_form",
                answer_type=kind,
                answer_option=None,
                choices=None,
            )
        rows.append(row)
    return write_tsv(path, rows)


def make_hallusionbench(path: Path, n_sets: int = 2, *, seed: int = 0) -> Path:
    """Two figures per set (original and edited), two questions per figure; indices
    ``<cat>_<l2>_1_<set>_<figure>_<question>``."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for s in range(n_sets):
        category, l2 = ("VD", "figure") if s % 2 == 0 else ("VS", "chart")
        for fig in range(2):
            colour = rng.choice(list(COLORS))
            for q in range(2):
                asked = colour if (q + fig) % 2 == 0 else "purple"
                rows.append(
                    {
                        "index": f"{category}_{l2}_1_{s}_{fig}_{q}",
                        "category": category,
                        "l2-category": l2,
                        "question": f"Is the image {asked}?",
                        "answer": "Yes" if asked == colour else "No",
                        "image": png_b64(COLORS[colour]),
                    }
                )
    rows.append(
        {
            "index": f"VD_figure_0_{n_sets}_0_0",
            "category": "VD",
            "l2-category": "figure",
            "question": "Is Paris the capital of France?",
            "answer": "Yes",
            "image": None,
        }
    )  # no-visual: dropped
    return write_tsv(path, rows)


def make_mmvet(path: Path, n: int = 4, *, seed: int = 0) -> Path:
    rng = random.Random(seed)
    cats = ["rec", "ocr,rec", "know,rec,gen", "math,ocr,spat"]
    rows = []
    for i in range(n):
        colour = rng.choice(list(COLORS))
        rows.append(
            {
                "index": f"v1_{i}",
                "image": png_b64(COLORS[colour]),
                "question": f"What colour is shown? ({i})",
                "answer": colour if i % 2 else f"{colour}<OR>{colour}ish",
                "category": cats[i % len(cats)],
                "capability": cats[i % len(cats)],
            }
        )
    return write_tsv(path, rows)


def make_ocrbench(path: Path, n: int = 6, *, seed: int = 0) -> Path:
    cats = [
        "Regular Text Recognition",
        "Scene Text-centric VQA",
        "Handwritten Mathematical Expression Recognition",
        "Doc-oriented VQA",
        "Key Information Extraction",
        "Digit String Recognition",
    ]
    rows = []
    for i in range(n):
        answers = ["x ^ { 2 }"] if cats[i % len(cats)].startswith("Handwritten") else [f"word{i}", f"WORD {i}"]
        rows.append(
            {
                "index": i,
                "image": png_b64(COLORS["red"]),
                "question": f"What is written? ({i})",
                "answer": str(answers),
                "category": cats[i % len(cats)],
                "dataset": "synthetic",
            }
        )
    return write_tsv(path, rows)


Generator = Callable[[Path], Path]


def generator_for(card: TaskCard) -> Generator:
    """The self-test's file for a card: a handful of rows (seconds with a tiny model)."""
    dataset = str(card.options.get("dataset", ""))
    if dataset.startswith("MMBench"):
        answers = "TEST" not in dataset or "V11" in dataset
        return lambda p: make_mmbench(p, n_questions=2, cn="_CN" in dataset, with_answers=answers)
    if dataset.startswith("MMMU"):
        return lambda p: make_mmmu(p, n=4)
    if dataset.startswith("MathVista"):
        return lambda p: make_mathvista(p, n=4)
    if dataset.startswith("HallusionBench"):
        return lambda p: make_hallusionbench(p, n_sets=1)
    if dataset.startswith("MMVet"):
        return make_mmvet
    if dataset.startswith("OCRBench"):
        return lambda p: make_ocrbench(p, n=4)
    return lambda p: make_mcq(p, n=4)


def selftest_setup(card: TaskCard, folder: Path) -> SelftestSetup:
    """A few generated rows in the real format; the judge off (the self-test is offline), so samples
    that would need it are counted as ``judge_unavailable``."""
    dataset = str(card.options.get("dataset", card.name))
    path = generator_for(card)(folder / f"{dataset}.tsv")
    options: dict[str, Any] = {"data_md5": file_digest(path, "md5")}
    if not dataset.startswith("OCRBench"):
        options["judge"] = None
    return SelftestSetup(data={path.name: path}, options=options, limit=None)
