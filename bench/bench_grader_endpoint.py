"""The endpoint grader with 16 requests in flight vs 1, against a fake OpenAI-compatible server that
takes 50 ms per answer (goal: at least 10x the samples/s).

    PYTHONPATH=$PWD python bench/bench_grader_endpoint.py [--n 128] [--latency 0.05] [--rounds 3]

Every request carries one small image (a PNG data URL) and a distinct prompt; no reply cache, so
every request reaches the server. The server runs in a child process on 127.0.0.1 (in this one, it
would share the GIL with the client and measure the server's CPU time too).
"""

from __future__ import annotations

import argparse
import os
import time

from _fake_judge import judge_in_child
from PIL import Image

from ming_eval.core.sample import ImagePart, ImageRef, TextPart, UnderstandRequest
from ming_eval.graders.base import EndpointSpec
from ming_eval.graders.endpoint import EndpointGrader
from tests.fakes.openai_server import MODEL


def requests(n: int, tag: str) -> list[UnderstandRequest]:
    out = []
    for i in range(n):
        image = ImageRef.from_pil(Image.new("RGB", (64, 64), (i % 256, 40, 200)), f"<{i}>")
        out.append(UnderstandRequest((ImagePart(image), TextPart(f"{tag} {i}: is the square blue?"))))
    return out


def samples_per_s(url: str, concurrency: int, n: int, rounds: int) -> tuple[float, float]:
    """(samples/s, client CPU ms per sample) of the best of ``rounds`` (the machine may be shared)."""
    grader = EndpointGrader(EndpointSpec(model=MODEL, base_url=url, max_concurrency=concurrency))
    grader.grade(requests(concurrency, f"warm-up {concurrency}"))  # connections open, threads started
    best = (0.0, 0.0)
    for r in range(rounds):
        batch = requests(n, f"c{concurrency} round {r}")
        start, cpu = time.perf_counter(), time.process_time()
        replies = grader.grade(batch)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        failed = [reply.error for reply in replies if not reply.ok]
        if failed:
            raise SystemExit(f"{len(failed)} requests failed: {failed[0]}")
        best = max(best, (n / elapsed, 1000 * cpu / n))
    grader.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=128, help="requests at 16 in flight (a quarter of it at 1)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the server takes per answer")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds")
    args = parser.parse_args()
    with judge_in_child(args.latency) as judge:
        (one, one_cpu) = samples_per_s(judge.url, 1, max(args.n // 4, 8), args.rounds)
        (sixteen, sixteen_cpu) = samples_per_s(judge.url, 16, args.n, args.rounds)
        _, in_flight = judge.stats()
    print(f"server latency {args.latency * 1000:.0f} ms")
    print(f"1 in flight:  {one:7.1f} samples/s (client CPU {one_cpu:.1f} ms/sample)")
    print(f"16 in flight: {sixteen:7.1f} samples/s (client CPU {sixteen_cpu:.1f} ms/sample; max in flight {in_flight})")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"speed-up: {sixteen / one:.1f}x (goal >= 10x)")


if __name__ == "__main__":
    main()
