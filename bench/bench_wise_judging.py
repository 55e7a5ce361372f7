"""WISE judged scoring at 32 requests in flight vs 1, against a fake OpenAI-compatible judge with a
realistic latency (goal: at least 20x the prompts/s); then a re-score with the reply cache warm, which
must send no request at all.

    PYTHONPATH=$PWD python bench/bench_wise_judging.py [--n 64] [--latency 2.0] [--size 512]

Each prompt has one PNG of ``size`` x ``size`` on disk and a distinct prompt; the scorer is the task's
own (:class:`~ming_eval.tasks.wise.task.WiseScorer`: judge prompt, image encoding, reply reading, the
grader service's disk cache). The judge runs in a child process on 127.0.0.1 and answers in upstream's
legacy format after ``latency`` seconds (GPT-4o takes a few seconds per image; 2 s keeps the run short).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _fake_judge import judge_in_child
from PIL import Image

from ming_eval.core.results import Prediction, Status
from ming_eval.core.sample import GenerateRequest, Sample
from ming_eval.graders.service import GraderService
from ming_eval.tasks.vlm.protocol_source import PythonSource
from ming_eval.tasks.wise.protocol import LEGACY, read_judge_prompt
from ming_eval.tasks.wise.task import WiseScorer
from tests.tasks.wise.helpers import write_standin_script


def legacy_reply(text: str, body: dict[str, Any]) -> str:
    return "Consistency: 1\nRealism: 2\nAesthetic Quality: 1"


def batch(folder: Path, n: int, size: int, tag: str) -> list[tuple[Sample, Prediction]]:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, size)
    out = []
    for i in range(n):
        name = f"{tag}-{i}.png"
        # smooth colour fields with some texture, as generated pictures are (pure noise would not compress)
        rgb = np.stack([np.add.outer(ramp, ramp * (k + 1) / 4) / 2 + 40 * k + 7 * i for k in range(3)], axis=-1)
        rgb[:: 1 + i % 5] += rng.integers(0, 8, rgb[:: 1 + i % 5].shape)
        Image.fromarray(np.clip(rgb % 256, 0, 255).astype(np.uint8)).save(folder / name)
        target = {"Prompt": f"{tag}: prompt {i}", "Explanation": f"explanation {i}"}
        sample = Sample(str(i + 1), GenerateRequest(target["Prompt"], 1), target=target, meta={"category": "CULTURE"})
        out.append((sample, Prediction(sample.id, Status.OK, output=[name], images_root=folder)))
    return out


def timed(scorer: WiseScorer, items: list[tuple[Sample, Prediction]]) -> tuple[float, float]:
    """(wall seconds, client CPU ms per prompt) of scoring ``items``."""
    start, cpu = time.perf_counter(), time.process_time()
    scores = scorer.score(items)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    bad = [s for s in scores if s.status != "ok"]
    if bad:
        raise SystemExit(f"{len(bad)} prompts not judged: {bad[0].status} {bad[0].reason}")
    return elapsed, 1000 * cpu / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="prompts at 32 in flight (an eighth of it at 1)")
    parser.add_argument("--latency", type=float, default=2.0, help="seconds the judge takes per answer")
    parser.add_argument("--size", type=int, default=512, help="image side in pixels")
    args = parser.parse_args()
    with judge_in_child(args.latency, legacy_reply) as server, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        prompt = read_judge_prompt(PythonSource(write_standin_script(root / "gpt_eval.py"), "stand-in"))
        rates, cpu_ms = {}, {}
        for concurrency, n in ((1, max(args.n // 8, 4)), (32, args.n)):
            service = GraderService(cache_dir=root / "cache")
            judge = {"model": "gpt-4o-2024-05-13", "base_url": server.url, "max_concurrency": concurrency}
            scorer = WiseScorer(LEGACY, prompt, service.get(judge), batch_size=n)
            items = batch(root, n, args.size, f"c{concurrency}")
            elapsed, cpu_ms[concurrency] = timed(scorer, items)
            rates[concurrency] = n / elapsed
            service.close()
        # re-score the 32-in-flight prompts with a fresh service on the same cache
        before, in_flight = server.stats()
        service = GraderService(cache_dir=root / "cache")
        judge = {"model": "gpt-4o-2024-05-13", "base_url": server.url, "max_concurrency": 32}
        warm, _ = timed(WiseScorer(LEGACY, prompt, service.get(judge), batch_size=args.n), items)
        after, _ = server.stats()
        service.close()
    print(f"judge latency {args.latency * 1000:.0f} ms, images {args.size}x{args.size} PNG")
    print(f"1 in flight:  {rates[1]:7.2f} prompts/s (client CPU {cpu_ms[1]:.0f} ms/prompt)")
    print(
        f"32 in flight: {rates[32]:7.2f} prompts/s (client CPU {cpu_ms[32]:.0f} ms/prompt; max in flight {in_flight})"
    )
    print(f"speed-up: {rates[32] / rates[1]:.1f}x (goal >= 20x)")
    print(f"warm-cache re-score of {args.n} prompts: {warm:.2f} s, {after - before} requests (goal 0)")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
