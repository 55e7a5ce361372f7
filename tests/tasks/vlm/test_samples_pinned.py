"""The samples every understanding task builds from its TSV stay exactly as they were.

For each VLM task card, fixture TSVs (the card's self-test file, larger, and files with missing
cells, numeric-looking strings, hints, multi-image and shared-image cells) are turned into samples
under every prompt style, from a fresh index and again from the stored one. The digest of the repr
of all of them (ids, prompts, options, targets, metadata with their Python types: 1, 1.0 and '1'
differ) is pinned per card: the values below were computed with the sample-building code as it was
before it was made faster (ming_eval/tasks/vlm at commit 2c06de0), so any change in what a task
builds fails here. If a change to the samples is intended, recompute them and say why in the commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ming_eval.cards.schema import TaskCard, UnderstandProtocol
from ming_eval.core.sample import Sample
from ming_eval.core.task import TaskContext
from ming_eval.data.files import DataFiles, file_digest
from ming_eval.registry import list_task_cards
from ming_eval.runner.plan import load_task
from ming_eval.tasks.vlm.base import VlmTask
from ming_eval.tasks.vlm.prompts import PROMPT_STYLES
from ming_eval.testing.fixtures.vlm import (
    COLORS,
    generator_for,
    make_hallusionbench,
    make_mathvista,
    make_mcq,
    make_mmbench,
    make_mmmu,
    make_mmvet,
    make_ocrbench,
    png_b64,
    write_tsv,
)

RED, BLUE = png_b64(COLORS["red"]), png_b64(COLORS["blue"])


def _tricky_mcq(path: Path) -> Path:
    """Missing cells of every kind, numeric option columns (int, and float once a cell is missing),
    numeric-looking strings in text columns, hints pandas reads as missing, list and shared images."""
    base: dict[str, Any] = {"category": "cat", "l2-category": "coarse_perception", "split": "dev"}
    rows: list[dict[str, Any]] = [
        {"index": 0, "question": "42", "hint": "None", "A": "1", "B": 10, "C": "x", "D": None, "answer": "A"},
        {"index": 1, "question": "q1", "hint": "", "A": "2", "B": 20, "C": "N/A", "D": None, "answer": "B"},
        {"index": 2, "question": "q2 <image 1>", "hint": "0", "A": None, "B": 30, "C": "3.50", "answer": None},
        {"index": 3, "question": "问题?", "hint": "提示", "A": "4", "B": 40, "C": "null", "D": None, "answer": "C"},
        {"index": 4, "question": "q4", "hint": "a hint", "A": "5", "B": 50, "C": "y", "answer": "NA"},
        {"index": 1_000_000, "question": "42", "hint": "None", "A": "6", "B": 60, "C": "z", "answer": "B"},
        {"index": 5, "question": "no image", "A": "7", "B": 70, "C": "w", "answer": "A"},
    ]
    images = [RED, str([RED, BLUE]), "1", BLUE, "", "0", None]
    for row, image in zip(rows, images, strict=True):
        row.update(base, image=image)
    rows[3]["category"] = None
    rows[4]["l2-category"] = "7"
    rows[2]["split"] = "validation"
    return write_tsv(path, rows)


def _tricky_hallusionbench(path: Path) -> Path:
    make_hallusionbench(path, n_sets=3)
    extra = [
        {"index": "VS_chart_1_9_0_0", "category": None, "l2-category": "1", "question": "1", "answer": "No"},
        {"index": "VS_chart_1_9_0_1", "category": "VS", "l2-category": None, "question": "None", "answer": "Yes"},
    ]
    return _append(path, [{**r, "image": RED} for r in extra])


def _tricky_mathvista(path: Path) -> Path:
    make_mathvista(path, n=8)
    return _append(
        path,
        [
            {"index": 100, "image": RED, "question": "0", "answer": "0", "question_type": "free_form",
             "answer_type": "integer", "task": None, "skills": None, "precision": None, "unit": "cm"},
            {"index": 101, "image": "100", "question": "q", "answer": "1.0", "question_type": "free_form",
             "answer_type": "float", "task": "t", "skills": "not a list", "precision": 2.0, "unit": None},
        ],
    )  # fmt: skip


def _tricky_mmvet(path: Path) -> Path:
    make_mmvet(path, n=6)
    return _append(
        path,
        [
            {"index": "v1_90", "image": RED, "question": "12", "answer": "12", "category": "ocr"},
            {"index": "v1_91", "image": str([RED, BLUE]), "question": "q", "answer": "N/A ok", "category": "rec"},
        ],
    )


def _tricky_ocrbench(path: Path) -> Path:
    make_ocrbench(path, n=6)
    return _append(
        path,
        [
            {"index": 90, "image": "0", "question": "7", "answer": str(["7"]), "category": "7", "dataset": "d"},
            {"index": 91, "image": RED, "question": "q", "answer": str(["nan", "x"]), "category": "Digit"},
        ],
    )


def _tricky_mmmu(path: Path) -> Path:
    make_mmmu(path, n=6)
    return _append(
        path,
        [
            {"index": "validation_Art_90", "question": "<image 2> then <image 1>", "A": "1", "B": "2",
             "answer": "A", "question_type": "multiple-choice", "category": None, "split": "validation",
             "image": str([RED, BLUE])},
            {"index": "dev_Art_91", "question": "open 3", "answer": "3", "question_type": "open",
             "category": "Art", "split": "dev", "image": RED},
        ],
    )  # fmt: skip


def _append(path: Path, rows: list[dict[str, Any]]) -> Path:
    import pandas as pd

    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return write_tsv(path, frame.to_dict(orient="records") + rows)


def _files(card: TaskCard) -> list[Callable[[Path], Path]]:
    dataset = str(card.options["dataset"])
    if dataset.startswith("MMBench"):
        answers = "TEST" not in dataset or "V11" in dataset
        return [
            lambda p: make_mmbench(p, n_questions=7, cn="_CN" in dataset, with_answers=answers),
            _tricky_mcq,
        ]
    if dataset.startswith("MMMU"):
        return [_tricky_mmmu]
    if dataset.startswith("MathVista"):
        return [_tricky_mathvista]
    if dataset.startswith("HallusionBench"):
        return [_tricky_hallusionbench]
    if dataset.startswith("MMVet"):
        return [_tricky_mmvet]
    if dataset.startswith("OCRBench"):
        return [_tricky_ocrbench]
    return [generator_for(card), lambda p: make_mcq(p, n=9, with_hint=True), _tricky_mcq]


VLM_CARDS = [c for c in list_task_cards() if c.class_.startswith("ming_eval.tasks.vlm.")]

# sha256 of the repr of every sample each card builds from its files, computed on the code before the
# sample building was made faster (commit 2c06de0); see the module docstring
PINNED: dict[str, str] = {
    "ai2d_test": "305590ccbac46e78627e1a09f165680ad3b7b11ec757e55a6811600aba21c9c5",
    "hallusionbench": "69894e5b2b0112c4259dc2016d117271f6515ae8ee15e8e7dbcc1e3a35732160",
    "mathvista_mini": "12e89c7038755daa8d2738250cb0978018fd0d2d93672454b80339a8eabcace8",
    "mmbench_dev_cn": "743af40332c3604e98ceef95e4dbe80aef3780e2a6d12cff1759df9f3c8868bc",
    "mmbench_dev_cn_v11": "12da068e33ac53ed9eae769317266fe013c4b453681aca8470e4f51725e261e7",
    "mmbench_dev_en": "c73f71b42e4f49fa25eb8f2c4487e06076dca37b5b9b0a31111ef39579acd9e0",
    "mmbench_dev_en_v11": "001a95aedc78008c4e5b600283ad8c3abae0e8951aaab8dd032215eeabd3f073",
    "mmbench_test_cn": "c29b183d293c2923488ced190db6200f0b704dc055738e35204420df893bc329",
    "mmbench_test_cn_v11": "3f6da7dcd7fbf0feddc941988f868ef97aa6a0722fd36c69d71a590d87e6ac3f",
    "mmbench_test_en": "53b3c1fe072d7813812e50867fa0ed9237af66806668c2effa26bf331982ea79",
    "mmbench_test_en_v11": "cc7eeeebf5f06ae713c22659e1ca778e7d70d87883ac130bcfba33fd886e2824",
    "mmmu_dev_val": "12b9295cf018b6626583c35997b524dbad2f722008a5d97691f9df01c14400c3",
    "mmstar": "e4799c0e522ae99dd30afed79f3bc745a24d991c4952602e9584dd102e94d658",
    "mmvet": "1242e4b91dfceaee0a107991699a87b72ef994780bfb79671d2bdb5b4c0cfdc3",
    "ocrbench": "ca47a9727d89c25f4f0f1d34ac79b4c566a92e9db690964856c33e6c2a79c4ad",
}


def _samples(card: TaskCard, folder: Path, make: Callable[[Path], Path], style: str) -> list[Sample]:
    path = make(folder / f"{card.options['dataset']}.tsv")
    task = load_task(card, {"data_md5": file_digest(path, "md5")})
    assert isinstance(task, VlmTask)
    files = DataFiles(task.name, task.data_files(), overrides={path.name: path})
    ctx = TaskContext(protocol=UnderstandProtocol(prompt_style=style), data=files, work_dir=folder)
    return list(task.samples(ctx))


def test_every_vlm_card_is_covered() -> None:
    names = {c.name for c in VLM_CARDS}
    assert {"mmstar", "mmbench_dev_en", "mmbench_test_cn_v11", "ai2d_test", "hallusionbench"} <= names
    assert {"mmmu_dev_val", "mathvista_mini", "mmvet", "ocrbench"} <= names


@pytest.mark.parametrize("card", VLM_CARDS, ids=lambda c: c.name)
def test_samples_are_as_before(card: TaskCard, tmp_path: Path) -> None:
    lines: list[str] = []
    for f, make in enumerate(_files(card)):
        folder = tmp_path / str(f)
        for style in PROMPT_STYLES:
            first = _samples(card, folder, make, style)  # the first style indexes the file, the others reuse it
            lines += [repr(s).replace(str(tmp_path), "<tmp>") for s in first]
        assert repr(_samples(card, folder, make, "default")) == repr(
            _samples(card, tmp_path / f"{f}-again", make, "default")
        ).replace(str(tmp_path / f"{f}-again"), str(folder))
    digest = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
    assert digest == PINNED.get(card.name), f"{card.name}: {len(lines)} samples, digest {digest}"
