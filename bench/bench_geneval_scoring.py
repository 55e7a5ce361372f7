"""GenEval scoring throughput: batched against one image at a time, same backends, same images.

    PYTHONPATH=. python bench/bench_geneval_scoring.py --device cuda          # the shipped path
    PYTHONPATH=. python bench/bench_geneval_scoring.py --detector painted      # the scorer minus the detector

Backends (nothing is downloaded):
  --detector full      (default) the shipped Mask2Former backend at GenEval's full size (Swin-S config,
                       1333x800 input) with random weights: the real detector's compute (85-90 % of
                       scoring time), but its random detections make the rest of the work differ from
                       a trained detector's (how many boxes reach CLIP and the rules)
  --detector real      DetectorOptions() (needs the trained Mask2Former weights in the cache)
  --detector tiny      the tiny random detector of ming_eval.testing.fixtures.geneval
  --detector painted   reads the test generator's rectangles (CPU numpy): leaves the detector out
  --clip tiny          a tiny random open_clip model (custom config)
  --clip vit-l-14      open_clip ViT-L-14 with random weights: the real model's compute, no download

Images are painted GenEval scenes at --size pixels, the same for both modes; scoring decisions are
compared too (they must not depend on batching). Run by hand; numbers go in reports, not in tests.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from ming_eval.core.results import Prediction, Status
from ming_eval.core.sample import GenerateRequest, Sample
from ming_eval.tasks.geneval.colour import ClipColorClassifier
from ming_eval.tasks.geneval.detection import DetectorOptions
from ming_eval.tasks.geneval.rules import RuleOptions
from ming_eval.tasks.geneval.scorer import GenEvalScorer, ScorerSettings, make_detector
from ming_eval.testing.fixtures.geneval import SELFTEST_PROMPTS, build_tiny_clip, write_tiny_detector
from tests.tasks.geneval.plugins import PaintedDetector, faulty, paint


def make_items(root: Path, n_prompts: int, per_prompt: int, size: int) -> list[tuple[Sample, Prediction]]:
    items = []
    for i in range(n_prompts):
        row = SELFTEST_PROMPTS[i % len(SELFTEST_PROMPTS)]
        sid = f"{i:05d}"
        rels = []
        for k in range(per_prompt):
            rel = f"{sid}/samples/{k:04d}.png"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            paint(row, faulty(i * 31 + k), size).save(root / rel)
            rels.append(rel)
        sample = Sample(
            sid, GenerateRequest(row["prompt"], per_prompt), target=row, meta={"tag": row["tag"], "index": i}
        )
        items.append((sample, Prediction(sid, Status.OK, output=rels, images_root=root)))
    return items


def build(args: argparse.Namespace, folder: Path) -> tuple[Any, Any, str]:
    if args.detector == "painted":
        detector: Any = PaintedDetector()
    else:
        weights = None  # real: the trained weights from the cache
        if args.detector == "tiny":
            weights = str(write_tiny_detector(folder / "detector.safetensors"))
        elif args.detector == "full":
            from ming_eval.tasks.geneval.detectors.config import SWIN_S
            from ming_eval.tasks.geneval.detectors.convert import save_converted
            from ming_eval.testing.fixtures.geneval import random_state_dict

            weights = str(folder / "detector-swin-s-random.safetensors")
            save_converted(
                random_state_dict(SWIN_S), SWIN_S, Path(weights), source="random", source_sha256=None, layout="mmdet3"
            )
        detector = make_detector(DetectorOptions(weights=weights, batch_size=args.batch), args.device)
    if args.clip == "tiny":
        clip_name, pretrained = build_tiny_clip(folder / "clip"), None
    else:
        clip_name, pretrained = "ViT-L-14-quickgelu", None
    colors = ClipColorClassifier(clip_name, pretrained, args.device, batch_size=args.clip_batch)
    return detector, colors, colors.description


def run(items: list[tuple[Sample, Prediction]], scorer: GenEvalScorer, prompts_per_call: int) -> tuple[float, list]:
    start = time.perf_counter()
    out = []
    for i in range(0, len(items), prompts_per_call):
        out.extend(scorer.score(items[i : i + prompts_per_call]))
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector", choices=["full", "real", "tiny", "painted"], default="full")
    parser.add_argument("--clip", choices=["tiny", "vit-l-14"], default="vit-l-14")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--prompts", type=int, default=12)
    parser.add_argument("--images-per-prompt", type=int, default=4)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch", type=int, default=8, help="detector images per forward (batched mode)")
    parser.add_argument("--clip-batch", type=int, default=64, help="CLIP crops per forward (batched mode)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        items = make_items(root / "images", args.prompts, args.images_per_prompt, args.size)
        n_images = args.prompts * args.images_per_prompt
        detector, colors, clip_desc = build(args, root)
        # warm-up: text classifiers for every class, first forward passes
        warm = GenEvalScorer(
            ScorerSettings(RuleOptions(), DetectorOptions(batch_size=args.batch)),
            args.device,
            detector=detector,
            colors=colors,
        )
        run(items[: len(SELFTEST_PROMPTS)], warm, len(SELFTEST_PROMPTS))

        results = {}
        for mode, det_batch, clip_batch, prompts_per_call in (
            ("batched", args.batch, args.clip_batch, max(1, args.batch // args.images_per_prompt) * 2),
            ("one at a time", 1, 1, 1),
        ):
            colors.batch_size = clip_batch
            settings = ScorerSettings(
                RuleOptions(), DetectorOptions(batch_size=det_batch), prompts_per_batch=prompts_per_call
            )
            scorer = GenEvalScorer(settings, args.device, detector=detector, colors=colors)
            elapsed, scores = run(items, scorer, prompts_per_call)
            results[mode] = {
                "seconds": round(elapsed, 3),
                "images_per_s": round(n_images / elapsed, 2),
                "verdicts": [img["correct"] for s in scores for img in s.details["images"]],
            }
        same = results["batched"]["verdicts"] == results["one at a time"]["verdicts"]
        report = {
            "detector": args.detector,
            "clip": clip_desc,
            "device": args.device,
            "images": n_images,
            "size": args.size,
            "detector_batch": args.batch,
            "clip_batch": args.clip_batch,
            **{m: {k: v for k, v in r.items() if k != "verdicts"} for m, r in results.items()},
            "speedup": round(results["one at a time"]["seconds"] / results["batched"]["seconds"], 2),
            "same_verdicts": same,
        }
        if args.device.startswith("cuda"):
            import torch

            report["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
