"""CPU time of building a VLM task's samples from its stored TSV index (every first run and every
re-score does it), at 50k rows, MMStar and MMBench formats.

Writes two TSVs to a temporary folder with the shipped fixture writers' columns (MMStar: options
A-D, some missing, a category; MMBench: a hint on half the rows, circular copies whose image cell
names the original row), indexes each once (not timed: a later run reuses the stored index), then
reports the best of ``--repeat`` CPU times (``time.process_time``) of reading the stored index alone
(``load_table``) and of ``task.samples`` (the index read plus building every sample) with the
``default`` prompt style, under the cycle collector's settings of ``score RUN`` (paused while samples
are built) and of a first run (fewer passes: ``runner.heap``). Not measured: the first indexing pass,
image decoding, other prompt styles and other tasks. Run by hand:

    PYTHONPATH=$PWD python bench/bench_vlm_samples.py [--rows 50000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd


def write_mmstar(path: Path, rows: int, image: str) -> None:
    data: list[dict[str, Any]] = []
    for i in range(rows):
        data.append(
            {
                "index": i,
                "question": f"Which option describes image {i}?",
                "A": "noise",
                "B": "a cat",
                "C": "a dog" if i % 5 else None,
                "D": "None" if i % 7 == 0 else "a bird",
                "answer": "ABCD"[i % 4],
                "category": ["coarse perception", "math"][i % 2],
                "l2-category": ["image scene", "numeric"][i % 2],
                "image": image,
            }
        )
    pd.DataFrame(data).to_csv(path, sep="\t", index=False)


def write_mmbench(path: Path, rows: int, image: str) -> None:
    questions = rows // 4
    data: list[dict[str, Any]] = []
    for k in range(4):
        for i in range(questions):
            options = ["red", "green", "blue", "yellow"]
            options = options[k:] + options[:k]
            data.append(
                {
                    "index": i + k * 1_000_000,
                    "question": f"Which colour fills image {i}?",
                    "hint": f"Look at image {i}." if i % 2 else None,
                    "A": options[0],
                    "B": options[1],
                    "C": options[2],
                    "D": options[3] if i % 3 else None,
                    "answer": "ABCD"[(4 - k) % 4],
                    "category": "image_color",
                    "source": "synthetic",
                    "l2-category": "coarse_perception",
                    "comment": None,
                    "split": "dev",
                    "image": image if k == 0 else str(i),
                }
            )
    pd.DataFrame(data).to_csv(path, sep="\t", index=False)


def best_cpu(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MING_EVAL_CACHE"] = str(Path(tmp) / "cache")
        from ming_eval.cards.schema import UnderstandProtocol
        from ming_eval.core.task import TaskContext
        from ming_eval.data.files import DataFiles, file_digest
        from ming_eval.registry import get_task_card
        from ming_eval.runner.heap import fewer_collections, no_collections
        from ming_eval.runner.plan import load_task
        from ming_eval.tasks.vlm.base import VlmTask
        from ming_eval.testing.fixtures.vlm import COLORS, png_b64

        image = png_b64(COLORS["red"])
        for name, dataset, write in (
            ("mmstar", "MMStar", write_mmstar),
            ("mmbench_dev_en", "MMBench_DEV_EN", write_mmbench),
        ):
            path = Path(tmp) / f"{dataset}.tsv"
            write(path, args.rows, image)
            task = load_task(get_task_card(name), {"data_md5": file_digest(path, "md5")})
            assert isinstance(task, VlmTask)
            ctx = TaskContext(
                protocol=UnderstandProtocol(), data=DataFiles(task.name, task.data_files(), overrides={path.name: path})
            )
            n = len(task.samples(ctx))  # indexes the file once; later calls read the stored index
            for label, collector in (("score RUN", no_collections), ("first run", fewer_collections)):
                with collector():
                    index = best_cpu(lambda: task.load_table(ctx), args.repeat)  # noqa: B023
                    samples = best_cpu(lambda: task.samples(ctx), args.repeat)  # noqa: B023
                print(
                    f"{name} ({label}'s collector): {n} samples; read the stored index {index:.3f} s CPU, "
                    f"samples() {samples:.3f} s CPU (building: {samples - index:.3f} s), best of {args.repeat}"
                )


if __name__ == "__main__":
    main()
