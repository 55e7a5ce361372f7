"""The colour classifier's input crops, and the open_clip path on a tiny random model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ming_eval.tasks.geneval.colour import ClipColorClassifier, _quick_gelu_for, object_crop
from ming_eval.tasks.geneval.constants import COLORS
from ming_eval.tasks.geneval.rules import DetectedObject
from ming_eval.testing.fixtures.geneval import build_tiny_clip


def obj(box: tuple[float, float, float, float], mask: np.ndarray | None = None) -> DetectedObject:
    return DetectedObject(np.asarray([*box, 0.9], np.float32), mask)


def scene() -> Image.Image:
    arr = np.zeros((40, 60, 3), np.uint8)
    arr[:, :] = (0, 0, 255)
    arr[10:20, 10:30] = (255, 0, 0)
    return Image.fromarray(arr)


def test_mask_composited_over_grey_and_cropped():
    mask = np.zeros((40, 60), bool)
    mask[10:20, 10:30] = True
    crop = object_crop(scene(), obj((5, 5, 35, 25), mask))
    assert crop is not None and crop.size == (30, 20)
    arr = np.asarray(crop)
    assert tuple(arr[10, 10]) == (255, 0, 0)  # inside the mask: the image
    assert tuple(arr[0, 0]) == (153, 153, 153)  # outside: #999
    # same pixels as compositing the whole image first and cropping after (upstream's order)
    full = Image.composite(scene(), Image.new("RGB", (60, 40), "#999"), Image.fromarray(mask)).crop((5, 5, 35, 25))
    assert np.array_equal(np.asarray(full), arr)


def test_crop_beyond_the_image_and_float_boxes_round_like_pil():
    mask = np.ones((40, 60), bool)
    box = (50.5, 30.5, 70.4, 45.6)  # PIL rounds half to even: (50, 30, 70, 46)
    crop = object_crop(scene(), obj(box, mask))
    full = Image.composite(scene(), Image.new("RGB", (60, 40), "#999"), Image.fromarray(mask)).crop(box)
    assert crop is not None and crop.size == full.size == (20, 16)
    assert np.array_equal(np.asarray(crop), np.asarray(full))  # black outside the image in both


def test_no_mask_original_background_and_empty_crop():
    crop = object_crop(scene(), obj((10, 10, 30, 20)))
    assert crop is not None and np.all(np.asarray(crop) == (255, 0, 0))
    mask = np.zeros((40, 60), bool)
    kept = object_crop(scene(), obj((0, 0, 60, 40), mask), bgcolor="original")
    assert kept is not None and np.array_equal(np.asarray(kept), np.asarray(scene()))
    assert object_crop(scene(), obj((10.2, 10, 10.4, 20))) is None
    whole = object_crop(scene(), obj((10, 10, 30, 20), mask), crop=False)
    assert whole is not None and whole.size == (60, 40)


def test_mask_of_the_wrong_size_is_an_error():
    with pytest.raises(ValueError, match="does not match the image size"):
        object_crop(scene(), obj((0, 0, 5, 5), np.ones((10, 10), bool)))


def test_openai_weights_get_quickgelu():
    assert _quick_gelu_for("ViT-L-14", "openai")
    assert not _quick_gelu_for("ViT-L-14", "laion2b_s32b_b82k")
    assert not _quick_gelu_for("local-dir:/x", None)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny")


def test_tiny_clip_through_the_real_open_clip_path(tiny_clip):
    clf = ClipColorClassifier(tiny_clip, None, "cpu", batch_size=3)
    crops = [Image.new("RGB", (20 + i, 30), (i * 40, 10, 200)) for i in range(5)]
    names = clf.classify(crops, ["car", "bus", "car", "dog", "car"])
    assert len(names) == 5 and set(names) <= set(COLORS)
    # batching does not change the answer
    classes = ["car", "bus", "car", "dog", "car"]
    again = ClipColorClassifier(tiny_clip, None, "cpu", batch_size=64).classify(crops, classes)
    assert names == again
    weights = clf.class_weights("car")
    assert tuple(weights.shape) == (16, 10)
    assert np.allclose(weights.norm(dim=0).numpy(), 1.0, atol=1e-5)
    assert not clf.amp and "float32" in clf.description
    clf.close()


def test_unknown_model_gives_a_clear_error(tmp_path):
    from ming_eval.errors import MingEvalError

    with pytest.raises(MingEvalError, match="cannot load the colour classifier"):
        ClipColorClassifier(f"local-dir:{tmp_path}", None, "cpu")


def test_crop_first_equals_composite_first_on_random_boxes():
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
    for _ in range(200):
        mask = rng.random((40, 60)) < 0.5
        x1, y1 = rng.uniform(-30, 70), rng.uniform(-30, 50)
        box = (x1, y1, x1 + rng.uniform(0, 50), y1 + rng.uniform(0, 50))
        ours = object_crop(image, obj(box, mask))
        rounded = tuple(round(v) for v in box)
        if rounded[2] <= rounded[0] or rounded[3] <= rounded[1]:
            assert ours is None
            continue
        theirs = Image.composite(image, Image.new("RGB", image.size, "#999"), Image.fromarray(mask)).crop(box)
        assert ours is not None and np.array_equal(np.asarray(ours), np.asarray(theirs)), box
