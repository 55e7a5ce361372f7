"""GEdit-Bench judged scoring throughput: 1 vs 32 concurrent judge requests (run by hand).

    PYTHONPATH=. python bench/bench_gedit_judging.py [--samples 64] [--latency 0.25]

Scores ``--samples`` edits (two judge questions each, SC and PQ) with GEditScorer against the fake
OpenAI-compatible server of tests/fakes, which answers every request after ``--latency`` seconds (a
hosted judge answers in about 1-5 s; the ratio is what matters). The endpoint grader's
``max_concurrency`` is 1, then 32; then the same scoring again with the warm reply cache, which must
ask nothing. Prompts come from a stand-in of the pinned source (the request count and size are the
same as with the real one).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from PIL import Image

from ming_eval.core.results import Prediction, Status
from ming_eval.core.sample import EditRequest, ImageRef, Sample
from ming_eval.graders.base import DecodeSettings, EndpointSpec
from ming_eval.graders.cache import DiskReplyStore
from ming_eval.graders.endpoint import EndpointGrader
from ming_eval.tasks.gedit.task import GEditScorer
from ming_eval.tasks.gedit.viescore import VieScorePrompts
from ming_eval.tasks.vlm.protocol_source import PythonSource
from tests.fakes.openai_server import FakeOpenAI
from tests.tasks.gedit.helpers import png, write_standin


def reply(text: str, body: dict) -> tuple[str, float, str]:
    return ("sleep", LATENCY, '{"score": [7, 8], "reasoning": "ok"}' if "Instruction" in text else "[6, 9]")


LATENCY = 0.25


def batch(root: Path, n: int) -> list[tuple[Sample, Prediction]]:
    out = []
    for i in range(n):
        src = ImageRef.from_bytes(png((i % 256, 40, 90), (96, 64)), f"row {i}")
        Image.new("RGB", (96, 64), (200, i % 256, 0)).save(root / f"{i}.png")
        sample = Sample(f"{i:04d}", EditRequest(src, f"make it red {i}"), meta={"task_type": "color_alter"})
        out.append((sample, Prediction(sample.id, Status.OK, output=[f"{i}.png"], images_root=root)))
    return out


def run(fake: FakeOpenAI, prompts: VieScorePrompts, items: list, concurrency: int, cache_dir: Path) -> float:
    spec = EndpointSpec(model="gpt-4.1", base_url=fake.url, max_concurrency=concurrency)
    grader = EndpointGrader(spec, DiskReplyStore(cache_dir))
    scorer = GEditScorer(prompts, grader, DecodeSettings(max_tokens=1400, temperature=1.0), "text_first", 3)
    start = time.perf_counter()
    scores = scorer.score(items)
    elapsed = time.perf_counter() - start
    assert all(s.status == "ok" for s in scores), {s.status for s in scores}
    grader.close()
    return elapsed


def main() -> None:
    global LATENCY
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.25)
    args = parser.parse_args()
    LATENCY = args.latency
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(reply, lifetime_s=600) as fake:
        root = Path(tmp)
        write_standin(root / "vie_prompts.py")
        prompts = VieScorePrompts.read(PythonSource(root / "vie_prompts.py", "stand-in"))
        items = batch(root, args.samples)
        serial = run(fake, prompts, items, 1, root / "cache-1")
        posts = fake.posts
        parallel = run(fake, prompts, items, 32, root / "cache-32")
        asked = fake.posts - posts
        before = fake.posts
        warm = run(fake, prompts, items, 32, root / "cache-32")
        print(f"{args.samples} edits, {2 * args.samples} judge requests, {args.latency:.2f} s latency each")
        print(f"  1 in flight : {serial:7.2f} s")
        print(
            f"  32 in flight: {parallel:7.2f} s  ({serial / parallel:.1f}x; {asked} requests, "
            f"max in flight {fake.max_in_flight})"
        )
        print(f"  warm cache  : {warm:7.2f} s  ({fake.posts - before} requests)")


if __name__ == "__main__":
    main()
