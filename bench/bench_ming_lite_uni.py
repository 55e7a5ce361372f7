"""Ming-Lite-Uni adapter throughput on the tiny random checkpoint: batched vs one request at a time.

Run by hand (not a test):  PYTHONPATH=. python bench/bench_ming_lite_uni.py [--device cpu] [--repeat 3]

Measures understanding (one image + question per request, greedy, ``--tokens`` new tokens) and
generation (``--images`` images per prompt, 2 SANA steps, 64x64 output). The tiny model's numbers say
how much batching the adapter's own work saves, nothing about the real 7B + 1.6B model.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ming_eval.cards.schema import GenerateProtocol, UnderstandProtocol
from ming_eval.core.sample import GenerateRequest, ImagePart, ImageRef, TextPart, UnderstandRequest
from ming_eval.models.ming_lite_uni import MingLiteUni
from tests.models.ming_lite_uni_support import make_image
from tests.models.zoo_support import tiny_card


def _timed(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--images", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        adapter = MingLiteUni.from_card(tiny_card("ming-lite-uni", Path(tmp)), device=args.device)
        assert isinstance(adapter, MingLiteUni)
        adapter.model  # noqa: B018 - load before timing

        images = [make_image("gradient" if i % 2 else "checker") for i in range(args.requests)]
        und = [UnderstandRequest((ImagePart(ImageRef.from_pil(img)), TextPart(f"Question {i}: what is shown?")))
               for i, img in enumerate(images)]  # fmt: skip
        up = UnderstandProtocol(max_new_tokens=args.tokens)
        one = _timed(lambda: [adapter.understand([r], up) for r in und], args.repeat)
        many = _timed(lambda: adapter.understand(und, up), args.repeat)
        print(
            f"understand  {len(und)} requests, {args.tokens} tokens:  batch 1 {len(und) / one:6.2f} samples/s"
            f"   batch {len(und)} {len(und) / many:6.2f} samples/s   x{one / many:.2f}"
        )

        gp = GenerateProtocol(steps=2, cfg=5.0, height=64, width=64)
        gen = [GenerateRequest(f"a photo of object {i}", args.images, seeds=tuple(range(10 * i, 10 * i + args.images)))
               for i in range(args.prompts)]  # fmt: skip
        singles = [GenerateRequest(r.prompt, 1, seeds=(s,)) for r in gen for s in r.seeds]
        total = len(singles)
        one = _timed(lambda: [adapter.generate([r], gp) for r in singles], args.repeat)
        many = _timed(lambda: adapter.generate(gen, gp), args.repeat)
        print(
            f"generate    {args.prompts} prompts x {args.images} images:      batch 1 {total / one:6.2f} images/s"
            f"    batched {total / many:6.2f} images/s    x{one / many:.2f}"
        )
        print(f"(device {args.device}, torch threads {torch.get_num_threads()}, median of {args.repeat})")


if __name__ == "__main__":
    main()
