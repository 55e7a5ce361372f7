"""The default detector backend: Mask2Former in plain PyTorch (no mmcv), batched, on GPU or CPU.

Images go through GenEval's preprocessing one by one (on the device), are grouped by padded input
size, and each group runs through the network in batches of ``batch_size``. Only images of the same
padded size share a batch, so padding never differs from a batch of one and batched results equal
one-at-a-time results (mmdet's pixel decoder and Swin do not mask padding: a larger pad would change
the output).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from PIL import Image
from torch import Tensor

from ming_eval.errors import DataError
from ming_eval.tasks.geneval.detection import Detections
from ming_eval.tasks.geneval.detectors.config import Mask2FormerConfig
from ming_eval.tasks.geneval.detectors.head import Mask2Former
from ming_eval.tasks.geneval.detectors.postprocess import InstanceOutput, instance_postprocess
from ming_eval.tasks.geneval.detectors.preprocess import ImageMeta, image_meta, preprocess_one


@dataclass
class RawOutput:
    """Network outputs for one image, before post-processing (for equivalence checks)."""

    cls_logits: Tensor  # (Q, classes + 1)
    mask_logits: Tensor  # (Q, H_pad / 4, W_pad / 4)
    meta: ImageMeta


def check_image(image: object, index: int) -> Image.Image:
    if not isinstance(image, Image.Image):
        raise DataError(f"detector input {index} is a {type(image).__name__}, not a PIL image")
    if image.width < 1 or image.height < 1:
        raise DataError(f"detector input {index} is empty ({image.width}x{image.height})")
    return image


def same_size_batches(images: Sequence[Image.Image], scale: tuple[int, int], batch_size: int) -> Iterator[list[int]]:
    """Indices of ``images`` in batches of at most ``batch_size`` that share one padded input size.

    Every image is checked (:func:`check_image`) before the first batch is yielded.
    """
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, image in enumerate(images):
        image = check_image(image, i)
        groups[image_meta(image.height, image.width, scale).padded].append(i)
    for indices in groups.values():
        for start in range(0, len(indices), batch_size):
            yield indices[start : start + batch_size]


class Mask2FormerDetector:
    """:class:`~ming_eval.tasks.geneval.detection.Detector` backed by :class:`Mask2Former`."""

    def __init__(self, model: Mask2Former, device: str | torch.device, batch_size: int = 8) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.cfg: Mask2FormerConfig = model.cfg
        self.batch_size = batch_size

    @classmethod
    def from_state_dict(
        cls, cfg: Mask2FormerConfig, state: dict[str, Tensor], device: str | torch.device, batch_size: int = 8
    ) -> Mask2FormerDetector:
        model = Mask2Former(cfg)
        model.load_state_dict(state, strict=True)
        return cls(model, device, batch_size)

    @torch.inference_mode()
    def raw(self, images: Sequence[Image.Image]) -> list[RawOutput]:
        """Class and mask logits of the last decoder layer for each image, batched like :meth:`detect`."""
        out: list[RawOutput | None] = [None] * len(images)
        for i, cls_logits, mask_logits, meta in self._forward(images):
            out[i] = RawOutput(cls_logits, mask_logits, meta)
        return [o for o in out if o is not None]

    @torch.inference_mode()
    def detect_tensors(self, images: Sequence[Image.Image]) -> list[InstanceOutput]:
        out: list[InstanceOutput | None] = [None] * len(images)
        for i, cls_logits, mask_logits, meta in self._forward(images):
            out[i] = instance_postprocess(cls_logits, mask_logits, meta, self.cfg.max_per_image)
        return [o for o in out if o is not None]

    def detect(self, images: Sequence[Image.Image]) -> list[Detections]:
        return [o.to_detections() for o in self.detect_tensors(images)]

    def _forward(self, images: Sequence[Image.Image]) -> Iterator[tuple[int, Tensor, Tensor, ImageMeta]]:
        """(image index, class logits, mask logits, sizes) per image, batch by batch; each batch is
        preprocessed when reached, so only one batch's outputs are alive at a time."""
        for chunk in same_size_batches(images, self.cfg.test_scale, self.batch_size):
            done = [preprocess_one(images[i], self.device, self.cfg.test_scale) for i in chunk]
            cls_logits, mask_logits = self.model(torch.stack([d[0] for d in done]))
            for j, i in enumerate(chunk):
                yield i, cls_logits[j], mask_logits[j], done[j][1]

    def close(self) -> None:
        self.model.to("cpu")
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
