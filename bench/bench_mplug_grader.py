"""mPLUG VQA grader throughput: answers/s batched against one question at a time, same (native) backend.

Questions are DPG-Bench-like yes/no questions about random RGB tiles. Weights: a real checkpoint
(``--checkpoint``: a ModelScope folder or a converted .safetensors), else ``--arch tiny`` (the tiny
random checkpoint: plumbing only) or ``--arch large`` (random weights in mPLUG-large's shape as the
ModelScope card describes it: ViT-L/14 at 504 px, BERT-base text stacks; speed does not depend on the
weights, the answers mean nothing). The full DPG-Bench protocol costs 4 x (questions in
dpg_bench.csv) answers: multiply by ``seconds_per_1000_answers_batched``.

It times the native backend's ``MPlugRunner.answer``, the call ``MPlugAdapter.understand`` makes
(image loading from requests, the grader service and the batch runner are left out, as is the
``modelscope`` backend); ``bench_dpg_scoring.py --grader mplug-large`` times the whole scoring path.

    PYTHONPATH=. python bench/bench_mplug_grader.py --arch tiny --questions 16 --batch-size 16
    PYTHONPATH=. python bench/bench_mplug_grader.py --arch large --device cuda --dtype float32 \\
        --questions 256 --batch-size 64
    PYTHONPATH=. python bench/bench_mplug_grader.py --checkpoint mplug-large.safetensors --device cuda
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ming_eval.models.mplug.config import BertSizes, MPlugConfig
from ming_eval.models.mplug.modeling import MPlugVQA
from ming_eval.models.mplug.runtime import MPlugRunner
from ming_eval.models.mplug.weights import load_any
from ming_eval.testing.tiny.mplug import build_tiny_mplug

QUESTIONS = (
    "is there a cat?",
    "is the cat black?",
    "is the cat on the sofa?",
    "are there two apples?",
    "is the umbrella to the left of the bench?",
    "is the sky blue?",
)

#: mPLUG-large's shape for --arch large (ViT-L/14 at 504 px; BERT-base text, fusion and decoder stacks)
LARGE = MPlugConfig(
    bert=BertSizes(
        vocab_size=30522,
        hidden_size=768,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
        pad_token_id=0,
        encoder_width=768,
        num_hidden_layers=12,
        text_encoder_layers=6,
        fusion_layers=6,
        text_decode_layers=12,
        stride_layer=2,
    )
)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def load(args: argparse.Namespace, scratch: Path) -> MPlugRunner:
    dtype = getattr(torch, args.dtype)
    if args.checkpoint:
        cfg, state, vocab = load_any(Path(args.checkpoint))
    elif args.arch == "tiny":
        cfg, state, vocab = load_any(build_tiny_mplug(scratch / "tiny"))
    else:
        cfg = LARGE
        state = MPlugVQA(cfg).state_dict()
        # ids stay below the tiny vocabulary's size: fine for timing
        vocab = build_tiny_mplug(scratch / "tiny") / "vocab.txt"
    if args.max_length:
        cfg = dataclasses.replace(cfg, max_length=args.max_length)
    return MPlugRunner(cfg, state, vocab, args.device, dtype)


def timed(runner: MPlugRunner, images: list[Image.Image], questions: list[str], batch: int, device: str) -> float:
    _sync(device)
    start = time.perf_counter()
    for i in range(0, len(images), batch):
        runner.answer(images[i : i + batch], questions[i : i + batch])
    _sync(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32")
    parser.add_argument("--arch", choices=["tiny", "large"], default="tiny")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=0, help="cap the answer length (0: the config's)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)) for _ in range(args.questions)]
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.questions)]
    with tempfile.TemporaryDirectory() as scratch:
        runner = load(args, Path(scratch))
        runner.answer(images[:2], questions[:2])  # warm-up
        one = timed(runner, images, questions, 1, args.device)
        batched = timed(runner, images, questions, args.batch_size, args.device)
    result = {
        "device": args.device,
        "dtype": args.dtype,
        "weights": args.checkpoint or args.arch,
        "questions": args.questions,
        "batch_size": args.batch_size,
        "one_at_a_time_answers_per_s": round(args.questions / one, 2),
        "batched_answers_per_s": round(args.questions / batched, 2),
        "speedup": round(one / batched, 2),
        # DPG-Bench's full protocol asks every question of dpg_bench.csv once per tile (4 tiles)
        "seconds_per_1000_answers_batched": round(1000 * batched / args.questions, 2),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
