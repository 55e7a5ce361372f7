"""Default weights: download into the cache, verify the sha256 prefix, convert once."""

from __future__ import annotations

from pathlib import Path

import pytest

from ming_eval.data import files
from ming_eval.data.files import file_digest
from ming_eval.errors import ChecksumError, DataError
from ming_eval.tasks.geneval.detection import DetectorOptions
from ming_eval.tasks.geneval.detectors import build_detector, convert, weights
from ming_eval.tasks.geneval.detectors.config import TINY
from ming_eval.tasks.geneval.detectors.convert import read_metadata
from ming_eval.tasks.geneval.detectors.weights import (
    GENEVAL_MMDET2,
    GENEVAL_MMDET3,
    PublishedCheckpoint,
    default_converted_weights,
    detector_cache,
    fetch_checkpoint,
    verify_prefix,
)


def test_published_urls_carry_their_sha256_prefix() -> None:
    assert GENEVAL_MMDET2.filename.endswith("_20220504_001756-743b7d99.pth")
    assert GENEVAL_MMDET2.url.startswith("https://download.openmmlab.com/mmdetection/v2.0/mask2former/")
    assert GENEVAL_MMDET3.filename == "mask2former_swin-s-p4-w7-224_8xb2-lsj-50e_coco_20220504_001756-c9d0c4f2.pth"
    for ckpt in (GENEVAL_MMDET2, GENEVAL_MMDET3):
        assert ckpt.filename.endswith(f"-{ckpt.sha256_prefix}.pth")


def test_cache_is_under_ming_eval_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MING_EVAL_CACHE", str(tmp_path))
    assert detector_cache() == tmp_path / "models" / "geneval_detector"


def test_offline_and_missing_says_how_to_prefetch(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="offline mode is on") as info:
        fetch_checkpoint(GENEVAL_MMDET2, tmp_path)
    assert "ming-eval geneval download-detector" in str(info.value)


def test_prefix_mismatch_is_a_checksum_error(tmp_path: Path) -> None:
    path = tmp_path / GENEVAL_MMDET2.filename
    path.write_bytes(b"an html error page, not a checkpoint")
    with pytest.raises(ChecksumError, match="743b7d99") as info:
        fetch_checkpoint(GENEVAL_MMDET2, tmp_path)
    assert str(path) in str(info.value) and "download it again" in str(info.value)


def test_prefix_match_is_remembered(tmp_path: Path) -> None:
    path = tmp_path / "x.pth"
    path.write_bytes(b"abc")
    digest = file_digest(path, "sha256")
    ckpt = PublishedCheckpoint("https://example.invalid/x.pth", digest[:8])
    assert verify_prefix(path, ckpt) == digest
    assert digest in (tmp_path / ".x.pth.verified.json").read_text()  # remembered by size and mtime
    path.write_bytes(b"abd")  # changed file: the remembered digest no longer applies
    with pytest.raises(ChecksumError):
        verify_prefix(path, ckpt)


@pytest.fixture
def published(mmdet2_ckpt: Path, monkeypatch: pytest.MonkeyPatch) -> PublishedCheckpoint:
    """GenEval's checkpoint, played by a tiny one served from a file:// URL (online)."""
    fake = PublishedCheckpoint(mmdet2_ckpt.as_uri(), file_digest(mmdet2_ckpt, "sha256")[:8])
    monkeypatch.setattr(weights, "GENEVAL_MMDET2", fake)
    monkeypatch.setattr(weights, "SWIN_S", TINY)
    monkeypatch.delenv("MING_EVAL_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return fake


def test_default_weights_download_verify_convert_once(
    published: PublishedCheckpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cache"
    out = default_converted_weights(folder)
    assert out == folder / weights.CONVERTED_NAME
    assert (folder / published.filename).is_file()
    meta = read_metadata(out)
    assert meta["source"] == published.filename and meta["source_layout"] == "mmdet2"
    mtime = out.stat().st_mtime_ns
    assert default_converted_weights(folder) == out and out.stat().st_mtime_ns == mtime  # reused
    # a damaged conversion is redone, offline, from the cached checkpoint
    monkeypatch.setenv("MING_EVAL_OFFLINE", "1")
    out.write_bytes(out.read_bytes()[:-1] + b"\x00")
    assert default_converted_weights(folder) == out and out.stat().st_mtime_ns != mtime


@pytest.mark.usefixtures("published")
def test_build_detector_without_weights_uses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MING_EVAL_CACHE", str(tmp_path))
    detector = build_detector(DetectorOptions(), "cpu")
    assert (tmp_path / "models" / "geneval_detector" / weights.CONVERTED_NAME).is_file()
    detector.close()
    # later runs do not hash the converted weights again (their digest is remembered by size and mtime)
    hashed: list[Path] = []

    def spy(path: Path, algorithm: str) -> str:
        hashed.append(path)
        return file_digest(path, algorithm)

    for module in (files, convert):
        monkeypatch.setattr(module, "file_digest", spy)
    build_detector(DetectorOptions(), "cpu").close()
    assert hashed == []
