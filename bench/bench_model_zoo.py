"""Batched against batch-1 throughput of every model-zoo adapter on its tiny random checkpoint.

Run by hand from the repository root:

    PYTHONPATH=$PWD python bench/bench_model_zoo.py [--threads 1] [--repeats 3] [--only janus-pro-1b ...]

Tiny models measure the adapters' own overhead and how well they batch (padding, per-row RNGs,
pipeline calls), not real model speed: a real model on a GPU gains far more from batching. The
OpenAI-compatible adapter runs against the tests' fake endpoint answering after a fixed delay, so its
numbers show the effect of request concurrency. MetaQuery has no tiny checkpoint (it needs the user's
own checkout and trained weights) and is not measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MING_EVAL_OFFLINE", "1")

import torch

from ming_eval.cards.schema import ModelCard
from ming_eval.core.sample import Capability, GenerateRequest, TextPart, UnderstandRequest
from ming_eval.runner.plan import load_model_class

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.models.zoo_support import tiny_card, understand_requests

UNDERSTAND_N = 16  # requests per measurement
GENERATE_PROMPTS = 8  # prompts per measurement, 2 images each
CARDS = {
    "janus-pro-1b": [Capability.UNDERSTAND, Capability.GENERATE],
    "qwen2.5-vl-3b": [Capability.UNDERSTAND],
    "sdxl": [Capability.GENERATE],
    "sd3-medium": [Capability.GENERATE],
    "sana-1600m": [Capability.GENERATE],
    "flux.1-dev": [Capability.GENERATE],
    "openai-compatible": [Capability.UNDERSTAND],
}
BATCH = {Capability.UNDERSTAND: 8, Capability.GENERATE: 4}


def understand_workload() -> list[UnderstandRequest]:
    """Distinct requests (the endpoint adapter would otherwise answer repeats from its memory)."""
    base = understand_requests()
    return [
        UnderstandRequest((*base[i % len(base)].content, TextPart(f" (#{i})")), system=base[i % len(base)].system)
        for i in range(UNDERSTAND_N)
    ]


def generate_workload() -> list[GenerateRequest]:
    prompts = ["a photo of a cat", "a red apple on a wooden table", "two dogs", "a blue bench"]
    return [GenerateRequest(prompts[i % 4], 2, (2 * i, 2 * i + 1), (0, 1)) for i in range(GENERATE_PROMPTS)]


def throughput(
    call: Callable[[Sequence], object],
    items: list,
    batch: int,
    samples: int,
    repeats: int,
    reset: Callable[[], None] = lambda: None,
) -> float:
    call(items[:batch])  # warm-up: first-call allocations and lazy imports
    times = []
    for _ in range(repeats):
        reset()
        start = time.perf_counter()
        for i in range(0, len(items), batch):
            call(items[i : i + batch])
        times.append(time.perf_counter() - start)
    return samples / statistics.median(times)


Row = tuple[str, str, int, float, float]


def bench_card(name: str, caps: list[Capability], folder: Path, repeats: int) -> list[Row]:
    rows = []
    endpoint = None
    if name == "openai-compatible":
        from ming_eval.registry import get_model_card
        from tests.fakes.openai_server import KEY, MODEL, FakeOpenAI

        endpoint = FakeOpenAI(key=KEY).__enter__()
        endpoint.delay = 0.02  # a server answering in 20 ms
        os.environ["OPENAI_API_KEY"] = KEY
        os.environ.setdefault("NO_PROXY", "127.0.0.1")
        base = get_model_card(name)
        options = {**base.options, "base_url": endpoint.url}
        card: ModelCard = base.model_copy(update={"checkpoint": MODEL, "options": options})
    else:
        card = tiny_card(name, folder / name)
    try:
        model = load_model_class(card).from_card(card, device="cpu")
        for cap in caps:
            protocol = card.protocol_for("geneval" if cap is Capability.GENERATE else "mmstar", cap)
            if cap is Capability.UNDERSTAND:
                items: list = understand_workload()
                samples = len(items)

                def call(batch: Sequence, protocol=protocol) -> object:
                    return model.understand(batch, protocol)
            else:
                items = generate_workload()
                samples = sum(len(r.seeds) for r in items)

                def call(batch: Sequence, protocol=protocol) -> object:
                    return model.generate(batch, protocol)

            # the endpoint adapter keeps answers it already has: forget them between measurements
            answers = getattr(model, "_answers", None)
            reset = answers.clear if answers is not None else (lambda: None)
            one = throughput(call, items, 1, samples, repeats, reset)
            many = throughput(call, items, BATCH[cap], samples, repeats, reset)
            rows.append((name, cap.value, BATCH[cap], one, many))
        model.close()
    finally:
        if endpoint is not None:
            endpoint.__exit__(None, None, None)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=None, help="card names")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{args.threads} thread(s), median of {args.repeats}; tiny random models on CPU"
    )
    print(
        f"# understand: {UNDERSTAND_N} requests (text / 1 image / 2 images); "
        f"generate: {GENERATE_PROMPTS} prompts x 2 images"
    )
    print(
        f"{'card':20} {'capability':11} {'batch':>5} {'batch-1 samples/s':>18} {'batched samples/s':>18} "
        f"{'speed-up':>8}"
    )
    with tempfile.TemporaryDirectory(prefix="ming-eval-bench-") as tmp:
        for name, caps in CARDS.items():
            if args.only and name not in args.only:
                continue
            for card, cap, batch, one, many in bench_card(name, caps, Path(tmp), args.repeats):
                print(f"{card:20} {cap:11} {batch:>5} {one:>18.1f} {many:>18.1f} {many / one:>7.2f}x", flush=True)


if __name__ == "__main__":
    main()
