"""GenEval's detector backends behind :class:`~ming_eval.tasks.geneval.detection.Detector`.

``build_detector(options, device)`` gives:

- ``backend="mask2former"`` (default): Mask2Former Swin-S in plain PyTorch (:mod:`.mask2former`), no
  compiled ops, batched, with GenEval's exact preprocessing and mmdet's post-processing;
- ``backend="mmdet"``: the reference, mmdetection 3.x with mmcv (:mod:`.mmdet_backend`), fed the same
  GenEval (mmdet 2.x) preprocessing.

``weights=None`` means GenEval's own checkpoint, downloaded into ming-eval's cache and verified (and, for
the default backend, converted once to safetensors). ``tiny_random=True`` builds a tiny randomly
initialised network of the same architecture instead (tests and the self-test; its output means
nothing).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ming_eval.tasks.geneval.detection import Detector, DetectorOptions
from ming_eval.tasks.geneval.detectors.config import SWIN_S, TINY, Mask2FormerConfig

__all__ = ["TINY_SEED", "build_detector", "random_state_dict"]

#: seed of the tiny random detector, so every run (and both backends) get the same weights
TINY_SEED = 20240504


def random_state_dict(cfg: Mask2FormerConfig = TINY, seed: int = TINY_SEED) -> dict[str, Tensor]:
    """Randomly initialised weights (mmdet 3.x names) in which no parameter keeps a trivial value.

    PyTorch's default init leaves norms at 1/0 and Swin's bias tables at 0; those are perturbed too so
    a comparison between implementations exercises every parameter.
    """
    from ming_eval.tasks.geneval.detectors.head import Mask2Former

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Mask2Former(cfg)
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name.endswith("relative_position_bias_table"):
                    param.normal_(0.0, 0.5)
                elif param.dim() == 1:
                    param.add_(torch.randn_like(param) * 0.1)
        return {k: v.clone() for k, v in model.state_dict().items()}


def build_detector(options: DetectorOptions, device: str) -> Detector:
    """The detector ``options`` describe, on ``device`` ("cuda", "cuda:1", "cpu")."""
    if options.backend == "mmdet":
        from ming_eval.tasks.geneval.detectors.mmdet_backend import MMDetDetector

        return MMDetDetector.build(options, device)
    from ming_eval.tasks.geneval.detectors.convert import load_any
    from ming_eval.tasks.geneval.detectors.mask2former import Mask2FormerDetector
    from ming_eval.tasks.geneval.detectors.weights import default_converted_weights

    if options.tiny_random:
        return Mask2FormerDetector.from_state_dict(TINY, random_state_dict(), device, options.batch_size)
    path = Path(options.weights).expanduser() if options.weights else default_converted_weights()
    cfg, state = load_any(path, SWIN_S)
    return Mask2FormerDetector.from_state_dict(cfg, state, device, options.batch_size)
