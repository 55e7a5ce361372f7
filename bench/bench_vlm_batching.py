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
    PYTHONPATH=$PWD python bench/bench_vlm_batching.py --full-size --device cuda   # bench/gpu_suite.sh

``--full-size`` keeps the tiny checkpoint's tokenizer and processor but gives the model Qwen2.5-VL-7B's
dimensions (written here from the published architecture) with random bf16 weights: the real
model's compute, no download. ``--batch 0`` (the default) is the card's batch size.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from _checkpoints import save_random_bf16

# Qwen2.5-VL-7B-Instruct's architecture (its config.json's sizes)
QWEN25_VL_7B_TEXT = {
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "vocab_size": 152064,
    "max_position_embeddings": 128000,
}
QWEN25_VL_7B_VISION = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "out_hidden_size": 3584,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
}


def make_full_size(folder: Path, device: str) -> None:
    """Replace the tiny model in ``folder`` by one of Qwen2.5-VL-7B's size with random bf16 weights."""
    from transformers import AutoConfig, Qwen2_5_VLForConditionalGeneration

    config = AutoConfig.from_pretrained(folder)
    for key, value in QWEN25_VL_7B_TEXT.items():
        setattr(config.text_config, key, value)
    head_dim = QWEN25_VL_7B_TEXT["hidden_size"] // QWEN25_VL_7B_TEXT["num_attention_heads"]
    config.text_config.head_dim = head_dim
    config.text_config.layer_types = ["full_attention"] * QWEN25_VL_7B_TEXT["num_hidden_layers"]
    rope = dict(getattr(config.text_config, "rope_parameters", None) or {})
    rope.update({"rope_type": "default", "mrope_section": [16, 24, 24], "rope_theta": 1e6})
    config.text_config.rope_parameters = rope
    for key, value in QWEN25_VL_7B_VISION.items():
        setattr(config.vision_config, key, value)
    config.vocab_size = QWEN25_VL_7B_TEXT["vocab_size"]
    save_random_bf16(folder, Qwen2_5_VLForConditionalGeneration, config, device)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--batch", type=int, default=0, help="0: the card's batch size")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--full-size", action="store_true", help="Qwen2.5-VL-7B's size, random bf16 weights")
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

    from ming_eval.core.sample import Capability
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
        if args.full_size:
            make_full_size(ckpt, args.device)
        data = make_mcq(tmp / "MMStar.tsv", n=args.n, image_size=args.image_size, noise=True, with_hint=True)
        base = get_model_card("qwen2.5-vl-7b")
        protocol = base.protocol.model_dump(mode="json", by_alias=True, exclude_none=True)
        protocol.setdefault("understand", {})["max_new_tokens"] = args.new_tokens
        card = base.model_validate(
            {
                **base.model_dump(mode="json", by_alias=True, exclude_none=True),
                "checkpoint": str(ckpt),
                "dtype": "bfloat16" if args.full_size else "float32",
                "protocol": protocol,
            }
        )
        if args.batch == 0:
            args.batch = card.default_batch_size(Capability.UNDERSTAND)
        task = get_task_card("mmstar")
        options = {"mmstar": {"data_md5": file_digest(data, "md5"), "judge": None}}

        def run(batch: int, limit: int | None, out: str) -> tuple[float, float]:
            config = RunConfig(
                tasks=[task],
                model=card,
                out=tmp / out,
                batch_size=batch,
                limit=limit,
                device=args.device,
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
            f"Qwen2.5-VL adapter and card on a {'full-size (7B)' if args.full_size else 'tiny'} random checkpoint, "
            f"{args.device}, {args.threads} torch thread(s)"
        )
        print(
            f"batch 1: end to end {t1:.2f}s = {n / t1:.1f} samples/s; in the model {m1:.2f}s = {n / m1:.1f} samples/s"
        )
        print(
            f"batch {args.batch}: end to end {tb:.2f}s = {n / tb:.1f} samples/s; in the model {mb:.2f}s = "
            f"{n / mb:.1f} samples/s"
        )
        print(f"speed-up: end to end {t1 / tb:.2f}x, in the model {m1 / mb:.2f}x")
        if args.device.startswith("cuda"):
            print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
