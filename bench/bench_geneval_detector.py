"""GenEval detector throughput: images/s with batching against one image at a time, same backend.

Uses the real Mask2Former Swin-S architecture with random weights (speed does not depend on the
weights; outputs mean nothing). Images are random 512x512 RGB (GenEval-sized generations), which the
pipeline resizes to 800x800.

    PYTHONPATH=. python bench/bench_geneval_detector.py --device cpu --images 4 --batch-size 4
    PYTHONPATH=. python bench/bench_geneval_detector.py --device cuda --images 64 --batch-size 16
    PYTHONPATH=. python bench/bench_geneval_detector.py --backend mmdet --device cuda   # needs mmdet
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from PIL import Image

from ming_eval.tasks.geneval.detectors.config import SWIN_S, TINY
from ming_eval.testing.fixtures.geneval import random_state_dict


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--backend", choices=["mask2former", "mmdet"], default="mask2former")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--tiny", action="store_true", help="the tiny architecture (plumbing check only)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per setting; the fastest counts")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    cfg = TINY if args.tiny else SWIN_S
    state = random_state_dict(cfg, seed=0)
    if args.backend == "mmdet":
        from ming_eval.tasks.geneval.detectors.mmdet_backend import MMDetDetector

        detector = MMDetDetector(cfg, state, args.device, args.batch_size, source="random weights")
    else:
        from ming_eval.tasks.geneval.detectors.mask2former import Mask2FormerDetector

        detector = Mask2FormerDetector.from_state_dict(cfg, state, args.device, args.batch_size)
    rng = np.random.default_rng(0)
    images = [
        Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)) for _ in range(args.images)
    ]

    detector.detect(images[:1])  # warm-up (allocator, kernels)
    _sync(args.device)
    results = {}
    for label, batch in (("batch_1", 1), (f"batch_{args.batch_size}", args.batch_size)):
        detector.batch_size = batch
        if batch > 1:
            detector.detect(images[:batch])  # warm-up at this batch size
        times = []
        for _ in range(args.repeat):
            _sync(args.device)
            start = time.perf_counter()
            if batch == 1:
                for image in images:
                    detector.detect([image])
            else:
                detector.detect(images)
            _sync(args.device)
            times.append(time.perf_counter() - start)
        elapsed = min(times)
        results[label] = {"seconds": round(elapsed, 3), "images_per_s": round(len(images) / elapsed, 3)}
    speedup = results[f"batch_{args.batch_size}"]["images_per_s"] / results["batch_1"]["images_per_s"]
    device_name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    print(
        json.dumps(
            {
                "backend": args.backend,
                "device": device_name,
                "threads": torch.get_num_threads(),
                "arch": "tiny" if args.tiny else "swin-s",
                "image_size": args.size,
                "images": args.images,
                **results,
                "speedup": round(speedup, 2),
            },
            indent=2,
        )
    )
    detector.close()


if __name__ == "__main__":
    main()
