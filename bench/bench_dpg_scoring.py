"""DPG-Bench scoring: grader answers/s, all of a batch's questions at once vs one at a time (run by hand).

    PYTHONPATH=$PWD python bench/bench_dpg_scoring.py [--prompts 2] [--questions 6] [--batches 1 16]
                                                      [--csv dpg_bench.csv]

The scorer is the task's own (:class:`~ming_eval.tasks.dpg_bench.scorer.DpgScorer`: grid -> 4 tiles ->
every (tile, question) pair in one ``grade`` call) over generated prompts in DPG-Bench's CSV format
and random-noise grids (so no two questions are alike and none is answered from the dedup). The
grader is a zoo card through the shipped path (GraderService -> ZooGrader -> BatchRunner -> adapter),
with no reply cache, on the CPU, at grader ``batch_size`` 1 (one question at a time) and larger: the
same backend, only the batching differs. By default the backend is the zoo's ``qwen2.5-vl-3b`` card
on a tiny random checkpoint (2 layers, real processor and chat template), so the numbers measure the
harness and batching overhead of a small VLM, not mPLUG-large (``--grader CARD`` measures any zoo
card, e.g. ``mplug-large`` with its checkpoint). The grader's load is done before timing.

Then the full protocol's cost: 1,065 prompts x 4 tiles x questions per prompt (read from ``--csv``,
the real dpg_bench.csv, when given; otherwise ``--questions``, an assumption the output names), at the
measured rates.

Measured (2026-12-03, 2 shared CPU cores at load average ~10, tiny random Qwen2.5-VL, 4 prompts x 4
tiles x 6 questions = 96 answers, 64 px tiles): batch 1 0.9 answers/s, batch 16 5.3 answers/s (5.6x).
Not measured: mPLUG-large (its card is another change), any GPU (the >= 8x goal is for a GPU).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

PROMPTS_IN_BENCHMARK = 1065
TILES = 4


def _tiny_grader_card(cards: Path, folder: Path) -> str:
    """A card ``tiny-qwen-grader``: the zoo's qwen2.5-vl-3b card on a tiny random checkpoint."""
    from ming_eval.registry import get_model_card
    from ming_eval.testing.tiny.qwen_vl import card_overrides

    card = get_model_card("qwen2.5-vl-3b").model_dump(mode="json", by_alias=True, exclude_none=True)
    overrides = card_overrides(folder)
    card.update({k: v for k, v in overrides.items() if k not in ("protocol", "tasks")})
    card.update({"protocol": overrides["protocol"], "tasks": {}, "name": "tiny-qwen-grader"})
    card.pop("source", None)
    (cards / "model_zoo").mkdir(parents=True, exist_ok=True)
    (cards / "model_zoo" / "tiny-qwen-grader.yaml").write_text(yaml.safe_dump(card))
    return "tiny-qwen-grader"


def _fixture(root: Path, n_prompts: int, n_questions: int, side: int) -> tuple[Path, list[Any]]:
    """A CSV of ``n_prompts`` prompts x ``n_questions`` questions and a noise grid per prompt."""
    from ming_eval.core.results import Prediction, Status
    from ming_eval.core.sample import GenerateRequest, Sample
    from tests.tasks.dpg_bench.fixtures import FixturePrompt, write_csv

    prompts = [
        FixturePrompt(
            f"p{i}",
            f"Prompt {i}: a scene with {n_questions} things.",
            [
                (q + 1, "0" if q == 0 else "1", f"entity - whole (thing {q})", f"Is there thing {q} of prompt {i}?")
                for q in range(n_questions)
            ],
        )
        for i in range(n_prompts)
    ]
    csv_path = write_csv(prompts, root / "dpg_bench.csv")
    rng = np.random.default_rng(0)
    items = []
    for p in prompts:
        grid = root / f"{p.item_id}.png"
        Image.fromarray(rng.integers(0, 256, (2 * side, 2 * side, 3), dtype=np.uint8)).save(grid)
        sample = Sample(p.item_id, GenerateRequest(p.text, num_images=TILES))
        items.append((sample, Prediction(p.item_id, Status.OK, output=[str(grid)], images_root=root)))
    return csv_path, items


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--questions", type=int, default=6, help="questions per generated prompt")
    parser.add_argument("--side", type=int, default=64, help="tile side in pixels")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--grader", default=None, help="a zoo card (default: a tiny random Qwen2.5-VL)")
    parser.add_argument("--csv", type=Path, default=None, help="the real dpg_bench.csv, for the question count")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["MING_EVAL_CACHE"] = str(root / "cache")
        os.environ["MING_EVAL_OFFLINE"] = os.environ["HF_HUB_OFFLINE"] = "1"
        from ming_eval.cards import loader
        from ming_eval.graders.base import DecodeSettings
        from ming_eval.graders.service import GraderService
        from ming_eval.tasks.dpg_bench.questions import read_dpg_questions
        from ming_eval.tasks.dpg_bench.scorer import DpgScorer, DpgScorerSettings

        grader_name = args.grader
        if grader_name is None:
            os.environ["MING_EVAL_CARDS_PATH"] = str(root / "cards")
            loader._INDEX = None
            grader_name = _tiny_grader_card(root / "cards", root / "tiny-qwen")
            loader._INDEX = None
        csv_path, items = _fixture(root, args.prompts, args.questions, args.side)
        questions = read_dpg_questions(csv_path)
        n_answers = len(items) * TILES * args.questions
        settings = DpgScorerSettings(
            mode="upstream", tiles=TILES, resolution=args.side, decode=DecodeSettings(max_tokens=4)
        )
        print(f"grader {grader_name} on cpu; {len(items)} prompts x {TILES} tiles x {args.questions} questions")
        rates: dict[int, float] = {}
        for batch in args.batches:
            service = GraderService("cpu", use_cache=False)
            grader = service.get({"card": grader_name, "batch_size": batch})
            warm = DpgScorer(grader, questions, settings)
            warm.score(items[:1])  # loads the weights
            scorer = DpgScorer(grader, questions, settings)
            t0 = time.perf_counter()
            scores = scorer.score(items)
            wall = time.perf_counter() - t0
            service.close()
            bad = [s.reason for s in scores if s.status != "ok"]
            if bad:
                raise SystemExit(f"grading failed: {bad[0]}")
            rates[batch] = n_answers / wall
            print(f"grader batch {batch:>3}: {wall:6.2f} s, {rates[batch]:7.1f} answers/s")
        if 1 in rates:
            for batch, rate in rates.items():
                if batch != 1:
                    print(f"batch {batch} vs one question at a time: {rate / rates[1]:.2f}x")
        if args.csv is not None:
            real = read_dpg_questions(args.csv)
            per_prompt, how = real.n_questions / len(real.prompts), f"from {args.csv}"
        else:
            per_prompt, how = float(args.questions), "ASSUMED (pass --csv for the real count)"
        total = PROMPTS_IN_BENCHMARK * TILES * per_prompt
        print(f"full protocol: {PROMPTS_IN_BENCHMARK} x {TILES} x {per_prompt:.2f} questions ({how})")
        print(f"  = {total:,.0f} answers")
        for batch, rate in rates.items():
            print(f"  at grader batch {batch}: {total / rate / 3600:.2f} h on this CPU with this grader")


if __name__ == "__main__":
    main()
