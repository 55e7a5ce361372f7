"""GenEval's published detector checkpoints: download once into ming-eval's cache, verify, convert once.

mmdetection names a published checkpoint ``<name>-<first 8 hex digits of its sha256>.pth`` (its
``tools/model_converters/publish_model.py``), so the URL itself pins those 32 bits and we verify them.
The full digest of the first verified download is remembered next to the file and the converted
safetensors record the digest of the checkpoint they came from. 32 bits and a cached digest prove no
origin, so the file is read with torch's weights-only loader (``convert.load_torch_checkpoint``), never
fully unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ming_eval.data.files import CACHE_ENV, cache_root, cached_digest, download, offline
from ming_eval.errors import ChecksumError, DataError, MingEvalError
from ming_eval.tasks.geneval.detectors.config import SWIN_S


@dataclass(frozen=True)
class PublishedCheckpoint:
    url: str
    sha256_prefix: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


_BASE = "https://download.openmmlab.com/mmdetection"
#: the checkpoint GenEval's evaluate_images.py loads (mmdet 2.x layout)
GENEVAL_MMDET2 = PublishedCheckpoint(
    f"{_BASE}/v2.0/mask2former/mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco/"
    "mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco_20220504_001756-743b7d99.pth",
    "743b7d99",
)
#: the same training run re-published for mmdet 3.x (mmdet's configs/mask2former/metafile.yml)
GENEVAL_MMDET3 = PublishedCheckpoint(
    f"{_BASE}/v3.0/mask2former/mask2former_swin-s-p4-w7-224_8xb2-lsj-50e_coco/"
    "mask2former_swin-s-p4-w7-224_8xb2-lsj-50e_coco_20220504_001756-c9d0c4f2.pth",
    "c9d0c4f2",
)
CONVERTED_NAME = "mask2former_swin-s_coco_geneval.safetensors"


def detector_cache() -> Path:
    return cache_root() / "models" / "geneval_detector"


def fetch_checkpoint(ckpt: PublishedCheckpoint, folder: Path | None = None) -> Path:
    """The verified local copy of a published checkpoint, downloaded into the cache if missing."""
    folder = folder or detector_cache()
    path = folder / ckpt.filename
    if not path.is_file():
        if offline():
            raise DataError(
                f"GenEval's detector checkpoint is not cached at {path}, and offline mode is on",
                hint=_offline_ways(ckpt, folder),
            )
        try:
            download(ckpt.url, path)
        except DataError as exc:
            raise DataError(exc.message, hint=_offline_ways(ckpt, folder)) from exc
    verify_prefix(path, ckpt)
    return path


def _offline_ways(ckpt: PublishedCheckpoint, folder: Path) -> str:
    return (
        f"on a machine with internet run `ming-eval data download geneval` (or `ming-eval geneval download-detector`) "
        f"and copy {folder} here (or download {ckpt.url} into that folder), or set {CACHE_ENV} to a shared cache; "
        "or pass converted weights with -o geneval.detector.weights=PATH"
        + ("" if offline() else "; set MING_EVAL_OFFLINE=1 to stop at once instead of trying the network")
    )


def verify_prefix(path: Path, ckpt: PublishedCheckpoint) -> str:
    """Check the sha256 prefix mmdet put in the file name; returns the full digest."""
    digest = cached_digest(path, "sha256")
    if not digest.startswith(ckpt.sha256_prefix):
        raise ChecksumError(
            str(path),
            "sha256 prefix",
            ckpt.sha256_prefix,
            digest[:8],
            fix=f"delete {path} and download it again from {ckpt.url}",
        )
    return digest


def default_converted_weights(folder: Path | None = None) -> Path:
    """GenEval's checkpoint converted to our safetensors, made once (download, verify, convert)."""
    from ming_eval.tasks.geneval.detectors.convert import convert_checkpoint, read_metadata, verify_sha256_sidecar

    folder = folder or detector_cache()
    out = folder / CONVERTED_NAME
    if out.is_file():
        try:
            verify_sha256_sidecar(out)
            source_ok = read_metadata(out).get("source") == GENEVAL_MMDET2.filename
        except MingEvalError:
            source_ok = False  # stale or damaged: convert again
        if source_ok:
            return out
    src = fetch_checkpoint(GENEVAL_MMDET2, folder)
    # the digest prefix in the name is no proof of origin: the weights-only loader reads it, never a full unpickle
    convert_checkpoint(src, out, cfg=SWIN_S)
    return out
