"""Engine overhead: samples/s end to end with a model that answers instantly, and the time to re-run
and to re-score a finished run (which must load no model), each against a plain-Python baseline.

    python bench/bench_engine.py [--samples 10000] [--repeats 3] [--resume-only]

The task reads its questions from a TSV file. Baselines, each a fresh interpreter like the CLI:
the *plain loop* reads the TSV, writes one flushed JSON line per record and scores; the *plain
check* reads the TSV and the records and confirms every sample has one. A and B runs alternate
(``--repeats``) and the best of each is reported, so that other load on the machine affects both;
each is timed by wall clock and by CPU time (user + system of the child, steadier under load).
Re-run and ``score RUN`` are also timed in process (``time.process_time``, no start-up) against the
plain check's code run in the same process, and so is ``score RUN`` after one sample's record changed
(a record appended that turns a wrong answer right: one sample scored, the interval computed again).

Targets (issue 13): re-run <= 2x and ``score RUN`` <= 3x the plain check; a first run in process
>= 0.5x the plain loop.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _engine_common import PLAIN_LOOP_BODY, workspace  # noqa: E402

PLAIN_LOOP = "import json, os, sys\n" + PLAIN_LOOP_BODY

PLAIN_CHECK = """
import json, sys
with open(sys.argv[1], encoding="utf-8") as fh:
    next(fh)
    ids = [line.split("\\t", 1)[0] for line in fh]
done = set()
for path in sys.argv[2:]:
    with open(path, encoding="utf-8") as fh:
        done.update(json.loads(line)["id"] for line in fh)
assert all(i in done for i in ids)
"""


def _time(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _cpu(fn: object, *args: object) -> float:
    t0 = time.process_time()
    fn(*args)  # type: ignore[operator]
    return time.process_time() - t0


def _plain_check(args: list[str]) -> None:
    """PLAIN_CHECK in this process, with ``args`` as its command line."""
    saved = sys.argv
    sys.argv = ["plain-check", *args]
    try:
        exec(PLAIN_CHECK, {"__name__": "plain_check"})
    finally:
        sys.argv = saved


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--resume-only", action="store_true", help="time only re-run and score RUN (not the first run in process)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tsv, env = workspace(root, args.samples)
        env.update(
            COLUMNS="120",
            # bytecode cached (in the bench's folder), as for an installed package: with
            # PYTHONDONTWRITEBYTECODE every start would compile ming-eval's modules from source
            PYTHONPYCACHEPREFIX=str(root / "pycache"),
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        out = root / "run"
        cli = [sys.executable, "-m", "ming_eval"]
        run = [*cli, "run", "count", "--model", "instant", "--out", str(out), "--batch-size", str(args.batch_size)]
        # taskset pins to one core where available, as the targets are "on one core"
        pin = ["taskset", "-c", "0"] if sys.platform.startswith("linux") else []
        first = _time([*pin, *run], env)
        records = sorted(str(p) for p in (out / "count" / "records").glob("rank-*.jsonl"))
        loop = [sys.executable, "-c", PLAIN_LOOP, str(tsv), str(root / "plain.jsonl")]
        check = [sys.executable, "-c", PLAIN_CHECK, str(tsv), *records]
        times: dict[str, list[tuple[float, float]]] = {"rerun": [], "score": [], "check": [], "loop": []}
        for _ in range(args.repeats):  # interleaved A/B
            times["check"].append(_time([*pin, *check], env))
            times["rerun"].append(_time([*pin, *run], env))
            times["check"].append(_time([*pin, *check], env))
            times["score"].append(_time([*pin, *cli, "score", str(out)], env))
            if not args.resume_only:
                times["loop"].append(_time([*pin, *loop], env))
        manifest = json.loads((out / "manifest.json").read_text())
        n_records = sum(1 for _ in (out / "count" / "records" / "rank-00000.jsonl").open())
        # in-process throughput excluding interpreter start-up and imports
        os.environ.update({k: env[k] for k in ("MING_EVAL_CARDS_PATH", "MING_EVAL_CACHE", "BENCH_TSV")})
        from ming_eval.runner.evaluate import RunConfig, evaluate
        from ming_eval.runner.rescore import rescore

        in_process = float("nan")
        if not args.resume_only:
            t0 = time.perf_counter()
            evaluate(RunConfig(tasks=["count"], model="instant", out=root / "run2", batch_size=args.batch_size))
            in_process = time.perf_counter() - t0
        # re-run and re-score in process, interleaved with the plain check's code in this process
        config = RunConfig(tasks=["count"], model="instant", out=out, batch_size=args.batch_size, argv=["bench"])
        warm: dict[str, list[float]] = {"check": [], "rerun": [], "score": []}
        for _ in range(args.repeats):
            warm["check"].append(_cpu(_plain_check, [str(tsv), *records]))
            warm["rerun"].append(_cpu(evaluate, config))
            warm["check"].append(_cpu(_plain_check, [str(tsv), *records]))
            warm["score"].append(_cpu(lambda: rescore(out, argv=["bench"])))
        # one sample's record changed (a record appended, as a re-run appends it, with the right
        # answer in place of a wrong one): that sample alone is scored again, its score changes,
        # and the task's interval is computed again; interleaved with the plain check
        import _engine_common

        aggregate, spent = _engine_common.CountTask.aggregate, [0.0]

        def timed(task: _engine_common.CountTask, *rest: Any) -> Any:
            cpu = time.process_time()
            try:
                return aggregate(task, *rest)
            finally:
                spent[0] += time.process_time() - cpu

        _engine_common.CountTask.aggregate = timed  # type: ignore[method-assign]
        changed: list[tuple[float, float]] = []  # (CPU seconds, of which the task's aggregate)
        for k in range(args.repeats):
            with open(records[0], "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"id": str(k), "status": "ok", "output": str(k % 7)}) + "\n")
            spent[0] = 0.0
            changed.append((_cpu(lambda: rescore(out, argv=["bench"])), spent[0]))
            warm["check"].append(_cpu(_plain_check, [str(tsv), *records]))
    best = {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in times.items() if v}
    best_warm = {k: min(v) for k, v in warm.items()}

    def ratio(name: str) -> str:
        (wall, cpu), (check_wall, check_cpu) = best[name], best["check"]
        return (
            f"{wall:.2f}s wall = {wall / check_wall:.2f}x, {cpu:.2f}s CPU = {cpu / check_cpu:.2f}x the plain check "
            f"({check_wall:.2f}s wall, {check_cpu:.2f}s CPU)"
        )

    print(f"samples: {args.samples}, batch size {args.batch_size}, pinned to one core: {bool(pin)}")
    print(f"first run (CLI, incl. start-up): {first[0]:.2f}s -> {args.samples / first[0]:,.0f} samples/s")
    if not args.resume_only:
        print(
            f"first run (in process, inference+scoring+aggregate): {in_process:.2f}s -> "
            f"{args.samples / in_process:,.0f} samples/s; plain loop (CLI) {best['loop'][0]:.2f}s "
            f"-> engine in process / plain loop = {best['loop'][0] / in_process:.2f}x speed"
        )
    print(
        f"re-run of the finished run (CLI): {ratio('rerun')}; records after all runs: {n_records}; "
        f"invocations: {len(manifest['invocations'])}"
    )
    print(f"score RUN (CLI): {ratio('score')}")
    check_cpu = best_warm["check"]
    print(
        f"in process (CPU): plain check {check_cpu:.3f}s; re-run {best_warm['rerun']:.3f}s = "
        f"{best_warm['rerun'] / check_cpu:.2f}x; score RUN {best_warm['score']:.3f}s = "
        f"{best_warm['score'] / check_cpu:.2f}x"
    )
    cpu, interval = min(changed)
    print(
        f"in process (CPU): score RUN after one record changed {cpu:.3f}s = {cpu / check_cpu:.2f}x the plain "
        f"check (best of {len(changed)}), of which the aggregate (bootstrap interval) {interval:.3f}s: "
        f"{(cpu - interval) / check_cpu:.2f}x without it"
    )


if __name__ == "__main__":
    main()
