"""The endpoint grader with 16 requests in flight vs 1, against a fake OpenAI-compatible server that
takes 50 ms per answer (goal: at least 10x the samples/s).

    PYTHONPATH=$PWD python bench/bench_grader_endpoint.py [--n 128] [--latency 0.05] [--rounds 3]

Every request carries one small image (a PNG data URL) and a distinct prompt; no reply cache, so
every request reaches the server. The server runs in a child process on 127.0.0.1 (in this one, it
would share the GIL with the client and measure the server's CPU time too).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from multiprocessing.connection import Connection

from PIL import Image

from ming_eval.core.sample import ImagePart, ImageRef, TextPart, UnderstandRequest
from ming_eval.graders.base import EndpointSpec
from ming_eval.graders.endpoint import EndpointGrader
from tests.fakes.openai_server import MODEL, FakeOpenAI


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


def serve(latency: float, conn: Connection) -> None:
    with FakeOpenAI(lifetime_s=600) as fake:
        fake.delay = latency
        conn.send(fake.url)
        conn.recv()  # until the parent is done
        conn.send(fake.max_in_flight)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=128, help="requests at 16 in flight (a quarter of it at 1)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the server takes per answer")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds")
    args = parser.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1")
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    parent, child = mp.Pipe()
    server = mp.get_context("spawn").Process(target=serve, args=(args.latency, child), daemon=True)
    server.start()
    try:
        url = parent.recv()
        (one, one_cpu) = samples_per_s(url, 1, max(args.n // 4, 8), args.rounds)
        (sixteen, sixteen_cpu) = samples_per_s(url, 16, args.n, args.rounds)
        parent.send("done")
        in_flight = parent.recv()
    finally:
        server.join(timeout=10)
    print(f"server latency {args.latency * 1000:.0f} ms")
    print(f"1 in flight:  {one:7.1f} samples/s (client CPU {one_cpu:.1f} ms/sample)")
    print(f"16 in flight: {sixteen:7.1f} samples/s (client CPU {sixteen_cpu:.1f} ms/sample; max in flight {in_flight})")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"speed-up: {sixteen / one:.1f}x (goal >= 10x)")


if __name__ == "__main__":
    main()
