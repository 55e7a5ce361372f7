"""A first run of the shipped engine with a zero-cost model against a plain-Python loop (issue 13,
item 3: >= 0.5x the plain loop at 50k samples).

    python bench/bench_engine_first_run.py [--samples 50000] [--repeats 3]

Both sides read the same TSV (index, question, answer). The *plain loop* reads it, writes one JSON
line per record and flushes it, counts the correct answers, and fsyncs at the end. The *engine* is
``evaluate()`` of the shipped runner (plan, inference with its batching and records, scoring with
its per-sample scores, merged predictions and scores, aggregate with a bootstrap interval, results)
on the task and model of ``bench_engine.py`` (``_engine_common.py``); neither imports torch, like an endpoint's client.

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
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from _engine_common import PLAIN_LOOP_BODY, workspace  # noqa: E402

PLAIN_LOOP = (
    "import json, os, sys, time\ncpu, wall = time.process_time(), time.perf_counter()\n"
    + PLAIN_LOOP_BODY
    + 'print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}))\n'
)

ENGINE = """
import json, sys, time
from pathlib import Path
import _engine_common
from ming_eval.runner.evaluate import RunConfig, evaluate
aggregate, spent = _engine_common.CountTask.aggregate, [0.0]
def timed(self, *args):
    cpu = time.process_time()
    try:
        return aggregate(self, *args)
    finally:
        spent[0] += time.process_time() - cpu
_engine_common.CountTask.aggregate = timed
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
        tsv, env = workspace(root, args.samples)
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
