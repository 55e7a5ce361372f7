"""The reference detector backend: mmdetection 3.x's Mask2Former (needs mmcv with its compiled ops).

The network is built from the 3.x config that ships inside the mmdet package
(``mask2former_swin-s-p4-w7-224_8xb2-lsj-50e_coco.py``). Its preprocessing is *not* the 3.x config's
test pipeline but GenEval's (mmdet 2.x), done with the very mmcv functions the 2.x pipeline calls:
``mmcv.imrescale`` on the uint8 BGR image, ``mmcv.impad_to_multiple(32, pad_val=128)``,
``mmcv.imnormalize(to_rgb=True)``. The 3.x pipeline differs in two ways that change the numbers: it
loads images as float32 before resizing (``LoadImageFromFile(to_float32=True)``, so OpenCV resizes in
floating point instead of 8-bit fixed point) and pads after normalisation with 0 instead of padding
the raw image with 128 (``DetDataPreprocessor(pad_size_divisor=32)``).

Weights are loaded by ming-eval, not by mmengine's ``load_checkpoint`` (whose plain ``torch.load``
fails on mmdet's checkpoints under torch >= 2.6's ``weights_only`` default).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ming_eval.errors import CheckpointError, MingEvalError
from ming_eval.tasks.geneval.detection import Detections, DetectorOptions
from ming_eval.tasks.geneval.detectors.config import (
    PAD_DIVISOR,
    PAD_VALUE,
    PIXEL_MEAN,
    PIXEL_STD,
    SWIN_S,
    Mask2FormerConfig,
)
from ming_eval.tasks.geneval.detectors.mask2former import RawOutput, same_size_batches
from ming_eval.tasks.geneval.detectors.preprocess import ImageMeta, image_meta, pil_to_bgr

CONFIG_NAME = "mask2former_swin-s-p4-w7-224_8xb2-lsj-50e_coco.py"
INSTALL_HINT = (
    "the mmdet backend needs mmdet 3.3 and mmcv 2.1 built with its ops: install torch, then build mmcv "
    "2.1.0 from source (with torch >= 2.9 patch its setup.py to -std=c++20; see docs/geneval_detector.md), then "
    "`pip install 'ming-eval[mmdet]'`; or use the default backend (detector.backend: mask2former), "
    "which needs no mmcv"
)


class MissingDependencyError(MingEvalError):
    """An optional package a chosen backend needs is not installed."""


def _import_mmdet() -> Any:
    try:
        import mmcv
        import mmdet
        from mmcv.ops import MultiScaleDeformableAttention  # noqa: F401  (needs mmcv's compiled ops)
    except ImportError as exc:
        raise MissingDependencyError(f"cannot import mmdet/mmcv ({exc})", hint=INSTALL_HINT) from exc
    return mmcv, mmdet


def find_config(mmdet_module: Any) -> Path:
    root = Path(mmdet_module.__file__).parent
    for base in (root / ".mim" / "configs", root.parent / "configs"):
        candidate = base / "mask2former" / CONFIG_NAME
        if candidate.is_file():
            return candidate
    raise MissingDependencyError(
        f"mmdet {mmdet_module.__version__} at {root} ships no configs/mask2former/{CONFIG_NAME}",
        hint="install mmdet 3.x from a wheel (which bundles its configs) or from a full source checkout",
    )


def mmdet_model_config(cfg: Mask2FormerConfig, config_path: Path) -> Any:
    """mmdet's model config for our architecture: GenEval's file, with ``cfg``'s sizes written in."""
    from mmengine.config import Config

    full = Config.fromfile(str(config_path))
    model = full.model
    model.backbone.init_cfg = None
    model.backbone.update(
        embed_dims=cfg.embed_dims,
        depths=list(cfg.depths),
        num_heads=list(cfg.num_heads),
        window_size=cfg.window_size,
        mlp_ratio=cfg.mlp_ratio,
        patch_size=cfg.patch_size,
    )
    head = model.panoptic_head
    head.update(
        in_channels=list(cfg.stage_channels),
        feat_channels=cfg.feat_channels,
        out_channels=cfg.out_channels,
        num_queries=cfg.num_queries,
        num_things_classes=cfg.num_classes,
    )
    pix = head.pixel_decoder
    pix.norm_cfg.num_groups = cfg.norm_groups
    pix.encoder.num_layers = cfg.encoder_layers
    pix.encoder.layer_cfg.self_attn_cfg.update(
        embed_dims=cfg.feat_channels, num_heads=cfg.encoder_heads, num_points=cfg.encoder_points
    )
    pix.encoder.layer_cfg.ffn_cfg.update(embed_dims=cfg.feat_channels, feedforward_channels=cfg.encoder_ffn_channels)
    pix.positional_encoding.num_feats = cfg.feat_channels // 2
    head.positional_encoding.num_feats = cfg.feat_channels // 2
    dec = head.transformer_decoder
    dec.num_layers = cfg.decoder_layers
    for key in ("self_attn_cfg", "cross_attn_cfg"):
        dec.layer_cfg[key].update(embed_dims=cfg.feat_channels, num_heads=cfg.decoder_heads)
    dec.layer_cfg.ffn_cfg.update(embed_dims=cfg.feat_channels, feedforward_channels=cfg.decoder_ffn_channels)
    head.loss_cls.class_weight = [1.0] * cfg.num_classes + [0.1]
    model.panoptic_fusion_head.num_things_classes = cfg.num_classes
    model.test_cfg.max_per_image = cfg.max_per_image
    model.test_cfg.panoptic_on = False
    model.test_cfg.instance_on = True
    return full


def mmcv_preprocess(image: Image.Image, scale: tuple[int, int]) -> tuple[Tensor, ImageMeta]:
    """GenEval's (mmdet 2.x) preprocessing with mmcv's own functions: (3, H_pad, W_pad) float32 RGB."""
    mmcv, _ = _import_mmdet()
    bgr = pil_to_bgr(image)
    meta = image_meta(bgr.shape[0], bgr.shape[1], scale)
    resized = mmcv.imrescale(bgr, scale, interpolation="bilinear", backend="cv2")
    # a tuple, as in the 2.x config: cv2 reads a bare number as (v, 0, 0), padding only channel 0
    padded = mmcv.impad_to_multiple(resized, PAD_DIVISOR, pad_val=(PAD_VALUE,) * 3)
    normed = mmcv.imnormalize(padded, np.array(PIXEL_MEAN), np.array(PIXEL_STD), to_rgb=True)
    if resized.shape[:2] != meta.resized or normed.shape[:2] != meta.padded:
        raise AssertionError(f"mmcv sizes {resized.shape[:2]}/{normed.shape[:2]} differ from {meta}")
    return torch.from_numpy(np.ascontiguousarray(normed.transpose(2, 0, 1))), meta


class MMDetDetector:
    """:class:`~ming_eval.tasks.geneval.detection.Detector` running mmdetection's own Mask2Former."""

    def __init__(
        self,
        cfg: Mask2FormerConfig,
        state: dict[str, Tensor],
        device: str | torch.device,
        batch_size: int = 8,
        source: str = "weights",
    ) -> None:
        _, mmdet = _import_mmdet()
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules

        register_all_modules(init_default_scope=True)
        self.cfg = cfg
        self.device = torch.device(device)
        self.batch_size = batch_size
        full = mmdet_model_config(cfg, find_config(mmdet))
        model = MODELS.build(full.model)
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.endswith("relative_position_index")]
        if missing or unexpected:
            raise CheckpointError(
                f"{source} does not fit mmdet's Mask2Former: missing {missing[:8]}, unexpected {unexpected[:8]}"
            )
        model.cfg = full
        self.model = model.to(self.device).eval()

    @classmethod
    def build(cls, options: DetectorOptions, device: str) -> MMDetDetector:
        from ming_eval.tasks.geneval.detectors.convert import (
            check_state_dict,
            detect_layout,
            load_any,
            load_torch_checkpoint,
            to_mmdet3_names,
        )
        from ming_eval.tasks.geneval.detectors.weights import GENEVAL_MMDET3, fetch_checkpoint

        _import_mmdet()  # fail before any download
        if options.weights:
            path = Path(options.weights).expanduser()
            cfg, state = load_any(path, SWIN_S)
            return cls(cfg, state, device, options.batch_size, source=str(path))
        path = fetch_checkpoint(GENEVAL_MMDET3)
        raw = load_torch_checkpoint(path)  # weights-only: the name's digest prefix proves no origin
        state = check_state_dict(to_mmdet3_names(raw, detect_layout(raw, str(path))), SWIN_S, str(path))
        return cls(SWIN_S, state, device, options.batch_size, source=str(path))

    def _batches(self, images: Sequence[Image.Image]) -> Iterator[tuple[list[int], Tensor, list[Any]]]:
        from mmdet.structures import DetDataSample

        for chunk in same_size_batches(images, self.cfg.test_scale, self.batch_size):
            tensors, samples = [], []
            for i in chunk:
                tensor, meta = mmcv_preprocess(images[i], self.cfg.test_scale)
                tensors.append(tensor)
                scale = (meta.resized[1] / meta.original[1], meta.resized[0] / meta.original[0])
                samples.append(
                    DetDataSample(
                        metainfo={
                            "ori_shape": meta.original,
                            "img_shape": meta.resized,
                            "pad_shape": meta.padded,
                            "batch_input_shape": meta.padded,
                            "scale_factor": scale,
                        }
                    )
                )
            yield chunk, torch.stack(tensors).to(self.device), samples

    @torch.no_grad()
    def raw(self, images: Sequence[Image.Image]) -> list[RawOutput]:
        out: list[RawOutput | None] = [None] * len(images)
        for indices, batch, samples in self._batches(images):
            feats = self.model.extract_feat(batch)
            cls_list, mask_list = self.model.panoptic_head(feats, samples)
            for j, i in enumerate(indices):
                meta = samples[j].metainfo
                out[i] = RawOutput(
                    cls_list[-1][j],
                    mask_list[-1][j],
                    ImageMeta(tuple(meta["ori_shape"]), tuple(meta["img_shape"]), tuple(meta["pad_shape"])),
                )
        return [o for o in out if o is not None]

    @torch.no_grad()
    def detect(self, images: Sequence[Image.Image]) -> list[Detections]:
        out: list[Detections | None] = [None] * len(images)
        for indices, batch, samples in self._batches(images):
            results = self.model.predict(batch, samples, rescale=True)
            for j, i in enumerate(indices):
                pred = results[j].pred_instances
                # mmdet's top-k is unsorted: order by score (stable) like the default backend
                order = torch.sort(pred.scores, descending=True, stable=True).indices
                out[i] = Detections(
                    boxes=pred.bboxes[order].cpu().numpy().astype(np.float32),
                    scores=pred.scores[order].cpu().numpy().astype(np.float32),
                    labels=pred.labels[order].cpu().numpy().astype(np.int64),
                    masks=pred.masks[order].cpu().numpy().astype(bool),
                )
        return [o for o in out if o is not None]

    def close(self) -> None:
        self.model.to("cpu")
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
