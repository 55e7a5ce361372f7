"""GenEval's colour check: zero-shot CLIP over 10 colours, on the object's masked crop.

As upstream (``evaluate_images.py`` with open_clip 2.20 and clip_benchmark 1.4.0):

* model: open_clip ``ViT-L-14`` with OpenAI weights. Those weights were trained with QuickGELU;
  open_clip 2.20 built them that way, open_clip >= 2.24 builds ``ViT-L-14`` with plain GELU unless
  asked, so we force QuickGELU whenever the pretrained tag says so (else the colours change);
* crop: the image composited with the instance mask over a solid ``#999`` background, then cropped to
  the box (PIL rounds the float box), then CLIP's eval transform;
* classifier per object class: for each colour, the three templates are encoded, each embedding is
  L2-normalised, the three are averaged and the mean normalised again; logits are
  ``100 * normalised image features @ classifier``; the colour is the argmax (first on ties);
* precision: clip_benchmark runs both encoders under CUDA fp16 autocast (``amp=True``); we do the
  same on CUDA and run in float32 elsewhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from ming_eval.errors import MingEvalError
from ming_eval.tasks.geneval.constants import COLOR_TEMPLATES, COLORS
from ming_eval.tasks.geneval.rules import DetectedObject


@runtime_checkable
class ColorClassifier(Protocol):
    """Names the colour of each prepared crop; ``classes[i]`` is the object class of ``crops[i]``."""

    def classify(self, crops: Sequence[Image.Image], classes: Sequence[str]) -> list[str]: ...

    def close(self) -> None: ...


def _rounded_box(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    # PIL's Image.crop rounds each coordinate with Python's round() (half to even)
    x0, y0, x1, y1 = (round(v) for v in box)
    return x0, y0, x1, y1


def object_crop(
    image: Image.Image, obj: DetectedObject, *, bgcolor: str = "#999", crop: bool = True
) -> Image.Image | None:
    """The classifier's input for one object; None when the box rounds to an empty crop.

    Upstream composites the whole image and then crops; cropping image, background and mask first
    gives the same pixels (outside the image both are black) at a fraction of the cost.
    """
    if obj.mask is not None and tuple(obj.mask.shape) != (image.height, image.width):
        raise ValueError(
            f"mask of shape {tuple(obj.mask.shape)} does not match the image size {image.width}x{image.height}"
        )
    box = _rounded_box(obj.box) if crop else (0, 0, image.width, image.height)
    if crop and (box[2] <= box[0] or box[3] <= box[1]):
        return None
    region = image.crop(box)
    if obj.mask is None or bgcolor == "original":
        return region
    mask = Image.fromarray(np.ascontiguousarray(obj.mask)).crop(box)
    # the background is bgcolor inside the image and black where the box leaves it (PIL's crop padding)
    background = Image.new("RGB", region.size, color=(0, 0, 0))
    inside = (max(box[0], 0), max(box[1], 0), min(box[2], image.width), min(box[3], image.height))
    if inside[2] > inside[0] and inside[3] > inside[1]:
        background.paste(bgcolor, (inside[0] - box[0], inside[1] - box[1], inside[2] - box[0], inside[3] - box[1]))
    return Image.composite(region, background, mask)


def _quick_gelu_for(model_name: str, pretrained: str | None) -> bool:
    if not pretrained or ":" in model_name:
        return False
    from open_clip.pretrained import get_pretrained_cfg

    return bool(get_pretrained_cfg(model_name, pretrained).get("quick_gelu", False))


class ClipColorClassifier:
    """open_clip zero-shot colour classification, batched over crops of many images.

    ``model_name`` is an open_clip model name (``ViT-L-14``) or ``local-dir:PATH`` (a folder with
    ``open_clip_config.json`` and weights: the tiny random model of the tests and self-test).
    """

    def __init__(
        self, model_name: str, pretrained: str | None, device: str, *, precision: str = "amp", batch_size: int = 64
    ) -> None:
        try:
            import open_clip
            import torch
        except ImportError as exc:
            raise MingEvalError(
                "GenEval's colour check needs open_clip", hint="pip install 'ming-eval[geneval]'"
            ) from exc
        self._torch = torch
        self.device = device
        self.batch_size = max(1, batch_size)
        self.amp = precision == "amp" and device.startswith("cuda")
        from ming_eval.tasks.geneval.clip_weights import open_clip_kwargs

        weights = open_clip_kwargs(model_name, pretrained)  # the cached copy, or an error saying how to get one
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name,
                device=device,
                force_quick_gelu=_quick_gelu_for(model_name, pretrained),
                **weights,
            )
        except Exception as exc:
            raise MingEvalError(
                f"cannot load the colour classifier {model_name} ({pretrained or 'no pretrained tag'}): "
                f"{type(exc).__name__}: {exc}",
                hint="for an offline machine, run `ming-eval data download geneval` where the hub is reachable and "
                "copy the cache (MING_EVAL_CACHE), or pass -o geneval.clip_model=local-dir:/path/to/open_clip_folder",
            ) from exc
        model.eval()
        self.model: Any = model
        self.preprocess: Any = preprocess
        self.tokenizer: Any = open_clip.get_tokenizer(model_name)
        self._classifiers: dict[str, Any] = {}
        self.description = f"{model_name} ({pretrained or 'local'}), {'fp16 autocast' if self.amp else 'float32'}"

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp:
            return self._torch.autocast("cuda", dtype=self._torch.float16)
        return contextlib.nullcontext()

    def class_weights(self, cls: str) -> Any:
        """The (embed_dim, 10) zero-shot weights of object class ``cls`` (cached)."""
        if cls not in self._classifiers:
            torch = self._torch
            import torch.nn.functional as F

            texts = [t.format(c=c, cls=cls) for c in COLORS for t in COLOR_TEMPLATES]
            with torch.no_grad(), self._autocast():
                emb = self.model.encode_text(self.tokenizer(texts).to(self.device))
                emb = F.normalize(emb, dim=-1).reshape(len(COLORS), len(COLOR_TEMPLATES), -1).mean(dim=1)
                emb = emb / emb.norm(dim=-1, keepdim=True)
                self._classifiers[cls] = emb.T.contiguous()
        return self._classifiers[cls]

    def _features(self, crops: Sequence[Image.Image]) -> Iterator[Any]:
        torch = self._torch
        import torch.nn.functional as F

        for start in range(0, len(crops), self.batch_size):
            batch = torch.stack([self.preprocess(c) for c in crops[start : start + self.batch_size]]).to(self.device)
            with torch.no_grad(), self._autocast():
                yield F.normalize(self.model.encode_image(batch), dim=-1)

    def classify(self, crops: Sequence[Image.Image], classes: Sequence[str]) -> list[str]:
        if len(crops) != len(classes):
            raise ValueError("one class per crop is needed")
        out: list[str] = []
        position = 0
        for feats in self._features(crops):
            with self._torch.no_grad(), self._autocast():
                for row in range(feats.shape[0]):
                    logits = 100.0 * feats[row : row + 1] @ self.class_weights(classes[position])
                    out.append(COLORS[int(logits.float().cpu().argmax(dim=1)[0])])
                    position += 1
        return out

    def close(self) -> None:
        self.model = None
        self._classifiers.clear()
