"""How long `ming-eval compare` and `ming-eval report` take on full-size runs (run by hand).

    PYTHONPATH=. python bench/bench_compare.py

Writes two synthetic runs the size of the real benchmarks (MMBench-DEV-EN 4329 rotations in circular
groups of about 4, MMStar 1500, GenEval 553 prompts over its six tags) in the real on-disk format,
then times the comparison and the report. The scores are random: only the timings mean anything.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from ming_eval.report.baselines import load_catalog
from ming_eval.report.compare import compare_runs
from ming_eval.report.render_html import HtmlOptions, render
from ming_eval.report.runs import open_runs
from ming_eval.report.tables import build_report_tables
from tests.report.helpers import GENEVAL_TAGS, TaskData, understanding_scores, write_run

GENEVAL_SIZES = dict(zip(GENEVAL_TAGS, (80, 99, 80, 94, 100, 100), strict=True))


def geneval(seed: int) -> TaskData:
    rng = np.random.default_rng(seed)
    scores, tags = [], []
    for tag, n in GENEVAL_SIZES.items():
        scores += (rng.binomial(4, 0.6, n) / 4.0).tolist()
        tags += [{"tag": tag}] * n
    return TaskData(scores, breakdown=tags)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clusters = [f"q{i // 4}" for i in range(4329)]
        runs = []
        for seed in (0, 1):
            mmb = TaskData(understanding_scores(4329, 0.8, seed), clusters=clusters)
            data = {
                "mmbench_dev_en": mmb,
                "mmstar": TaskData(understanding_scores(1500, 0.6, seed)),
                "geneval": geneval(seed),
            }
            t0 = time.perf_counter()
            runs.append(write_run(root / f"run{seed}", data))
            print(f"write run {seed}: {time.perf_counter() - t0:.2f} s")
        t0 = time.perf_counter()
        comp = compare_runs(runs[0], runs[1])
        print(f"compare (3 tasks, 1000 bootstrap resamples, categories): {time.perf_counter() - t0:.2f} s")
        for t in comp.tasks:
            print(f"  {t.task}: n={t.overall.n} clusters={t.overall.n_clusters} test={t.overall.test}")
        t0 = time.perf_counter()
        loaded = open_runs(runs)
        tables = build_report_tables(loaded, load_catalog().select("all"))
        render(tables, loaded, HtmlOptions(with_ci=True))
        print(f"report (load, tables, HTML): {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
