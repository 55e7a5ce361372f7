"""A first run of the shipped engine with a zero-cost model against a plain-Python loop (issue 13,
item 3: >= 0.5x the plain loop at 50k samples).

    python bench/bench_engine_first_run.py [--samples 50000] [--repeats 3]

Both sides read the same TSV (index, question, answer). The *plain loop* reads it, writes one JSON
line per record and flushes it, counts the correct answers, and fsyncs at the end. The *engine* is
``evaluate()`` of the shipped runner (plan, inference with its batching and records, scoring with
its per-sample scores, merged predictions and scores, aggregate with a bootstrap interval, results)
on the task and model of ``bench_engine.py``; neither imports torch, like an endpoint's client.

Each side runs in a fresh interpreter and times itself from its first line of work (the engine from
the call of ``evaluate()``): interpreter start-up and imports are left out on both sides (the CLI's
start-up is ``bench_engine.py``'s and the re-run's concern). Times are CPU seconds
(``time.process_time``: user + system, steadier than wall time on a shared machine); A and B
alternate (``--repeats``) and the best of each is reported. The task's aggregate (its bootstrap
interval, which the plain loop does not compute) is timed apart and shown.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

PLAIN_LOOP = """
import json, os, sys, time
cpu, wall = time.process_time(), time.perf_counter()
with open(sys.argv[1], encoding="utf-8") as fh, open(sys.argv[2], "w", encoding="utf-8") as out:
    next(fh)
    correct = 0
    for line in fh:
        index, question, answer = line.rstrip("\\n").split("\\t")
        output = "3"
        out.write(json.dumps({"id": index, "status": "ok", "output": output}) + "\\n")
        out.flush()
        correct += output == answer
    out.flush()
    os.fsync(out.fileno())
print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}))
"""

ENGINE = """
import json, sys, time
from pathlib import Path
import bench_engine
from ming_eval.runner.evaluate import RunConfig, evaluate
aggregate, spent = bench_engine.CountTask.aggregate, [0.0]
def timed(self, *args):
    cpu = time.process_time()
    try:
        return aggregate(self, *args)
    finally:
        spent[0] += time.process_time() - cpu
bench_engine.CountTask.aggregate = timed
config = RunConfig(tasks=["count"], model="instant", out=Path(sys.argv[1]), batch_size=int(sys.argv[2]), argv=["b"])
cpu, wall = time.process_time(), time.perf_counter()
evaluate(config)
print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall, "aggregate": spent[0]}))
"""


def _measured(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run ``cmd``; the times it prints about itself."""
    done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    times: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=50000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "cards" / "tasks").mkdir(parents=True)
        (root / "cards" / "model_zoo").mkdir(parents=True)
        (root / "cards" / "tasks" / "count.yaml").write_text(
            yaml.safe_dump({"name": "count", "class": "bench_engine:CountTask", "capability": "understand"})
        )
        (root / "cards" / "model_zoo" / "instant.yaml").write_text(
            yaml.safe_dump({"name": "instant", "class": "bench_engine:InstantModel", "capabilities": ["understand"]})
        )
        tsv = root / "count.tsv"
        with tsv.open("w", encoding="utf-8") as fh:
            fh.write("index\tquestion\tanswer\n")
            fh.writelines(f"{i}\tWhat is {i} mod 7?\t{i % 7}\n" for i in range(args.samples))
        env = dict(
            os.environ,
            MING_EVAL_CARDS_PATH=str(root / "cards"),
            MING_EVAL_CACHE=str(root / "cache"),
            PYTHONPATH=f"{ROOT}:{ROOT / 'bench'}",
            BENCH_TSV=str(tsv),
            OMP_NUM_THREADS="1",
        )
        pin = ["taskset", "-c", "0"] if sys.platform.startswith("linux") else []
        plain: list[dict[str, float]] = []
        engine: list[dict[str, float]] = []
        for k in range(args.repeats):  # interleaved A/B, each a fresh interpreter and a fresh run
            plain.append(_measured([*pin, sys.executable, "-c", PLAIN_LOOP, str(tsv), str(root / "plain.jsonl")], env))
            run = [sys.executable, "-c", ENGINE, str(root / f"run-{k}"), str(args.batch_size)]
            engine.append(_measured([*pin, *run], env))
    p_cpu, e_cpu = min(t["cpu"] for t in plain), min(t["cpu"] for t in engine)
    interval = min(t["aggregate"] for t in engine)
    print(f"samples: {args.samples}, batch size {args.batch_size}, pinned to one core: {bool(pin)}")
    print(
        f"CPU (best of {args.repeats}): engine {e_cpu:.2f}s ({args.samples / e_cpu:,.0f} samples/s), of which "
        f"the bootstrap interval {interval:.2f}s; plain loop {p_cpu:.2f}s ({args.samples / p_cpu:,.0f} samples/s)"
    )
    print(
        f"engine / plain loop = {p_cpu / e_cpu:.2f}x speed ({p_cpu / (e_cpu - interval):.2f}x without the "
        f"interval; goal >= 0.5x); wall: engine {min(t['wall'] for t in engine):.2f}s, plain loop "
        f"{min(t['wall'] for t in plain):.2f}s"
    )


if __name__ == "__main__":
    main()
