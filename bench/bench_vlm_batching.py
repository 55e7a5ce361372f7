"""Batched understanding vs a batch-1 loop, through the shipped Qwen2.5-VL adapter and card.

Builds the tiny random Qwen2.5-VL checkpoint of :mod:`ming_eval.testing.tiny.qwen_vl` (the real
classes, processor and chat template) and an MMStar-format TSV at a real image size (default 512 px,
as MMStar's images), then runs ``mmstar`` through ``evaluate()`` with the ``qwen2.5-vl-7b`` card
(its adapter, its protocol and pixel limits; only the checkpoint and dtype are swapped) at batch
size 1 and at ``--batch``, and reports samples/s end to end and inside the adapter.

What it leaves out: the model is tiny and random (2 layers of width 64), so the share of time spent
outside the transformer (image decoding, the processor, padding, the runner) is far larger than with
the 7B model, and no GPU is used; ``bench/gpu_suite.sh`` measures the full-size model on a GPU.

    PYTHONPATH=$PWD python bench/bench_vlm_batching.py [--n 64] [--new-tokens 16] [--image-size 512]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: on a shared machine, thread sync dominates a tiny model)",
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)

    from ming_eval.data.files import file_digest
    from ming_eval.models.qwen_vl import QwenVLAdapter as Adapter
    from ming_eval.registry import get_model_card, get_task_card
    from ming_eval.runner.evaluate import RunConfig, evaluate
    from ming_eval.testing.fixtures.vlm import make_mcq
    from ming_eval.testing.tiny.qwen_vl import build_tiny_qwen2_5_vl

    busy = [0.0]  # time inside the adapter's understand(): image decoding, processor, generate
    shipped = Adapter.understand

    def timed(self: Any, requests: Any, protocol: Any) -> list[str]:
        t0 = time.perf_counter()
        try:
            return shipped(self, requests, protocol)
        finally:
            busy[0] += time.perf_counter() - t0

    Adapter.understand = timed  # type: ignore[method-assign]

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ckpt = build_tiny_qwen2_5_vl(tmp / "qwen2.5-vl")
        data = make_mcq(tmp / "MMStar.tsv", n=args.n, image_size=args.image_size, noise=True, with_hint=True)
        base = get_model_card("qwen2.5-vl-7b")
        protocol = base.protocol.model_dump(mode="json", by_alias=True, exclude_none=True)
        protocol.setdefault("understand", {})["max_new_tokens"] = args.new_tokens
        card = base.model_validate(
            {
                **base.model_dump(mode="json", by_alias=True, exclude_none=True),
                "checkpoint": str(ckpt),
                "dtype": "float32",
                "protocol": protocol,
            }
        )
        task = get_task_card("mmstar")
        options = {"mmstar": {"data_md5": file_digest(data, "md5"), "judge": None}}

        def run(batch: int, limit: int | None, out: str) -> tuple[float, float]:
            config = RunConfig(
                tasks=[task],
                model=card,
                out=tmp / out,
                batch_size=batch,
                limit=limit,
                device="cpu",
                task_options=options,
                data_overrides={"MMStar.tsv": data},
            )
            busy[0] = 0.0
            t0 = time.perf_counter()
            evaluate(config, None)
            return time.perf_counter() - t0, busy[0]

        run(args.batch, 8, "warmup")
        (t1, m1), (tb, mb) = run(1, None, "bs1"), run(args.batch, None, f"bs{args.batch}")
        n = args.n
        print(
            f"{n} MMStar-format samples at {args.image_size} px, {args.new_tokens} new tokens each, the shipped "
            f"Qwen2.5-VL adapter and card on a tiny random checkpoint, CPU, {args.threads} torch thread(s)"
        )
        print(
            f"batch 1: end to end {t1:.2f}s = {n / t1:.1f} samples/s; in the model {m1:.2f}s = {n / m1:.1f} samples/s"
        )
        print(
            f"batch {args.batch}: end to end {tb:.2f}s = {n / tb:.1f} samples/s; in the model {mb:.2f}s = "
            f"{n / mb:.1f} samples/s"
        )
        print(f"speed-up: end to end {t1 / tb:.2f}x, in the model {m1 / mb:.2f}x")


if __name__ == "__main__":
    main()
