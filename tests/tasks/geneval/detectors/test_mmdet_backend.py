"""The mmdet backend where mmdet is absent (CI): a clear error, and nothing downloaded first."""

from __future__ import annotations

import importlib.util

import pytest

from ming_eval.tasks.geneval.detection import DetectorOptions
from ming_eval.tasks.geneval.detectors import build_detector
from ming_eval.tasks.geneval.detectors.mmdet_backend import MissingDependencyError


@pytest.mark.skipif(importlib.util.find_spec("mmdet") is not None, reason="mmdet is installed")
@pytest.mark.parametrize(
    "options", [DetectorOptions(backend="mmdet", weights="tiny.safetensors"), DetectorOptions(backend="mmdet")]
)
def test_missing_mmdet_says_how_to_install(options: DetectorOptions) -> None:
    with pytest.raises(MissingDependencyError) as info:
        build_detector(options, "cpu")
    text = str(info.value)
    assert "mmdet" in text and "-std=c++20" in text and "ming-eval[mmdet]" in text
    assert "backend: mask2former" in text
