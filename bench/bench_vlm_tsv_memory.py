"""Peak memory and indexing time of a VLMEvalKit TSV of ~500 MB, read the ming-eval way.

Writes a TSV in the MMStar format (base64 PNG noise images, ~360 kB each) to /tmp, then, in a fresh
process, verifies its MD5 as a first run does, builds the mmstar task's samples from it and decodes
every image once, reporting the peak resident memory (ru_maxrss) and the time of each phase; then
indexes it again (a later run: the stored index is reused) and, in another fresh process, times
``pandas.read_csv(sep="\t")`` on the same file (the target: indexing at least as fast). Run by hand:

    PYTHONPATH=$PWD python bench/bench_vlm_tsv_memory.py [--mb 500] [--keep]
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image


def write_big_tsv(path: Path, megabytes: int) -> int:
    rng = np.random.default_rng(0)
    images = []
    for _ in range(16):  # distinct incompressible images, reused across rows (the reader cannot tell)
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, size=(300, 300, 3), dtype=np.uint8)).save(buf, format="PNG")
        images.append(base64.b64encode(buf.getvalue()).decode())
    columns = ["index", "question", "A", "B", "C", "D", "answer", "category", "l2-category", "image"]
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(columns)
        while fh.tell() < megabytes * 1_000_000:
            writer.writerow(
                [
                    rows,
                    f"Which option describes image {rows}?",
                    "noise",
                    "a cat",
                    "a dog",
                    "None",
                    "A",
                    "coarse perception",
                    "image scene",
                    images[rows % len(images)],
                ]
            )
            rows += 1
    return rows


def measure(path: Path) -> dict[str, float]:
    from ming_eval.cards.schema import UnderstandProtocol
    from ming_eval.core.task import TaskContext
    from ming_eval.data.files import DataFiles, file_digest
    from ming_eval.registry import get_task_card
    from ming_eval.runner.plan import load_task

    t0 = time.perf_counter()
    digest = file_digest(path, "md5")  # what the card would pin
    md5_s = time.perf_counter() - t0
    task = load_task(get_task_card("mmstar"), {"data_md5": digest})
    files = DataFiles(task.name, task.data_files(), overrides={"MMStar.tsv": path})
    ctx = TaskContext(protocol=UnderstandProtocol(), data=files)
    t1 = time.perf_counter()
    files.path("MMStar.tsv")  # a first run's checksum check: hashes the file and leaves a stamp
    t2 = time.perf_counter()
    samples = task.samples(ctx)  # the stamp answers the check here: this is the indexing alone
    t3 = time.perf_counter()
    rss_index = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pixels = 0
    for s in samples:
        for ref in s.request.images:  # type: ignore[union-attr]
            pixels += ref.load().size[0]
    t4 = time.perf_counter()
    task.samples(ctx)  # a later run: the index stored by the first is reused
    t5 = time.perf_counter()
    return {
        "rows": len(samples),
        "md5_s": md5_s,
        "verify_s": t2 - t1,
        "index_s": t3 - t2,
        "decode_all_s": t4 - t3,
        "index_again_s": t5 - t4,
        "peak_rss_after_index_mb": rss_index,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pandas", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    if args.pandas:
        import pandas as pd

        t0 = time.perf_counter()
        frame = pd.read_csv(args.pandas, sep="\t")
        print(json.dumps({"rows": len(frame), "pandas_read_csv_s": time.perf_counter() - t0}))
        print(json.dumps({"pandas_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
        return
    path = Path("/tmp/ming_eval_bench_MMStar.tsv")
    t0 = time.perf_counter()
    rows = write_big_tsv(path, args.mb)
    print(f"wrote {path}: {path.stat().st_size / 1e6:.0f} MB, {rows} rows in {time.perf_counter() - t0:.1f}s")
    env = dict(os.environ, MING_EVAL_OFFLINE="1")
    result: dict[str, float] = {}
    for mode in ("--measure", "--pandas"):
        out = subprocess.run(
            [sys.executable, __file__, mode, str(path)], env=env, capture_output=True, text=True, check=True
        )
        for line in out.stdout.strip().splitlines()[-2:]:
            result.update(json.loads(line))
    result["index_vs_pandas"] = result["pandas_read_csv_s"] / result["index_s"]
    for k, v in result.items():
        print(f"{k:>24}: {v:.2f}" if isinstance(v, float) else f"{k:>24}: {v}")
    if not args.keep:
        path.unlink()
        for stamp in path.parent.glob(f".{path.name}.verified.json"):
            stamp.unlink()


if __name__ == "__main__":
    main()
