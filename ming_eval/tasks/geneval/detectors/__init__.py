"""GenEval's detector backends behind :class:`~ming_eval.tasks.geneval.detection.Detector`.

``build_detector(options, device)`` gives:

- ``backend="mask2former"`` (default): Mask2Former Swin-S in plain PyTorch (:mod:`.mask2former`), no
  compiled ops, batched, with GenEval's exact preprocessing and mmdet's post-processing;
- ``backend="mmdet"``: the reference, mmdetection 3.x with mmcv (:mod:`.mmdet_backend`), fed the same
  GenEval (mmdet 2.x) preprocessing.

``weights=None`` means GenEval's own checkpoint, downloaded into ming-eval's cache and verified (and, for
the default backend, converted once to safetensors). Converted weights carry their architecture, so
the tiny random detector of the tests (:mod:`ming_eval.testing.fixtures.geneval`) loads the same way.
"""

from __future__ import annotations

from pathlib import Path

from ming_eval.tasks.geneval.detection import Detector, DetectorOptions
from ming_eval.tasks.geneval.detectors.config import SWIN_S

__all__ = ["build_detector"]


def build_detector(options: DetectorOptions, device: str) -> Detector:
    """The detector ``options`` describe, on ``device`` ("cuda", "cuda:1", "cpu")."""
    if options.backend == "mmdet":
        from ming_eval.tasks.geneval.detectors.mmdet_backend import MMDetDetector

        return MMDetDetector.build(options, device)
    from ming_eval.tasks.geneval.detectors.convert import load_any
    from ming_eval.tasks.geneval.detectors.mask2former import Mask2FormerDetector
    from ming_eval.tasks.geneval.detectors.weights import default_converted_weights

    path = Path(options.weights).expanduser() if options.weights else default_converted_weights()
    cfg, state = load_any(path, SWIN_S)
    return Mask2FormerDetector.from_state_dict(cfg, state, device, options.batch_size)
