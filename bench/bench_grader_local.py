"""A grader-scored task with a tiny local grader, grader batch 8 vs batch 1 (run by hand).

    PYTHONPATH=$PWD python bench/bench_grader_local.py [--n 48] [--batches 1 8]

The task is the engine tests' ``graded_paint`` (tests/engine_plugins.py): the test painter draws two
images per prompt, and the scorer asks a grader from its context which colour dominates each image.
The grader is the zoo's ``qwen2.5-vl-3b`` card on a tiny random Qwen2.5-VL checkpoint built offline
(``QwenVLAdapter.build_tiny``: real classes, processor and chat template; 2 layers), on the CPU, with
``batch_size`` from the grader spec. Each measurement is a ``ming-eval score`` of the same run
(``rescore``, the shipped path: GraderService -> ZooGrader -> BatchRunner -> adapter) with the reply
cache emptied first, so every request reaches the model; the grader's load is timed apart and taken
out. Prompts carry their index so that questions about different samples are never alike (the two
images of one sample, when painted the same colour, are one question: asked once).

Left out: a real-size grader (a 7B VLM's batching gain on a GPU is larger and memory-bound), GPUs
and several ranks, long replies (the scorer asks for 4 tokens), image decoding at real sizes, and
the endpoint grader (benchmarked on its own). The grader is random: its replies mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml


def _grader_card(cards: Path, folder: Path) -> str:
    """A card ``tiny-qwen-grader``: the zoo's qwen2.5-vl-3b card on a tiny checkpoint."""
    from ming_eval.models.qwen_vl import QwenVLAdapter
    from ming_eval.registry import get_model_card

    card = get_model_card("qwen2.5-vl-3b").model_dump(mode="json", by_alias=True, exclude_none=True)
    overrides = QwenVLAdapter.build_tiny(folder)
    card.update({k: v for k, v in overrides.items() if k not in ("protocol", "tasks")})
    card["protocol"] = overrides["protocol"]
    card["tasks"] = {}
    card["name"] = "tiny-qwen-grader"
    card.pop("source", None)
    (cards / "model_zoo" / "tiny-qwen-grader.yaml").write_text(yaml.safe_dump(card))
    return "tiny-qwen-grader"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=48, help="prompts (two images each)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cache = root / "cache"
        os.environ["MING_EVAL_CACHE"] = str(cache)
        os.environ["MING_EVAL_OFFLINE"] = os.environ["HF_HUB_OFFLINE"] = "1"
        from ming_eval.cards import loader
        from tests.engine_plugins import COLORS, write_cards, write_graded_cards

        cards = write_cards(root / "cards", cache)
        names = list(COLORS)
        rows = [
            {"index": i, "prompt": f"a {names[i % 3]} square, number {i}", "color": names[i % 3]} for i in range(args.n)
        ]
        (cache / "data" / "paint" / "paint.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        write_graded_cards(cards, cache)
        os.environ["MING_EVAL_CARDS_PATH"] = str(cards)
        loader._INDEX = None
        grader = _grader_card(cards, root / "tiny-qwen")
        loader._INDEX = None

        from ming_eval.graders.base import ZooSpec
        from ming_eval.graders.local import ZooGrader
        from ming_eval.runner.evaluate import RunConfig, evaluate
        from ming_eval.runner.rescore import rescore

        run = root / "run"  # painted and first scored with the test grader (pixel-grader), quickly
        evaluate(RunConfig(tasks=["graded_paint"], model="pixel", out=run, device="cpu"))
        t0 = time.perf_counter()
        ZooGrader(ZooSpec(card=grader), "cpu")._load()
        load_s = time.perf_counter() - t0
        print(f"grader load: {load_s:.2f} s; {args.n} samples (at most {2 * args.n} grader questions) per measurement")
        rates: dict[int, float] = {}
        for batch in args.batches:
            shutil.rmtree(cache / "graders", ignore_errors=True)
            spec: dict[str, Any] = {"card": grader, "batch_size": batch}
            t0 = time.perf_counter()
            results = rescore(run, task_options={"graded_paint": {"grader": spec}}, batch_size=32, device="cpu")
            wall = time.perf_counter() - t0
            assert results["graded_paint"].counts.get("ok") == args.n, results["graded_paint"].counts
            rates[batch] = args.n / max(wall - load_s, 1e-9)
            print(f"grader batch {batch}: {wall:.2f} s wall, {rates[batch]:.1f} samples/s without the load")
        if 1 in rates:
            for batch, rate in rates.items():
                if batch != 1:
                    print(f"batch {batch} vs 1: {rate / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
