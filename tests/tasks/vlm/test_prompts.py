"""Prompts per style, written out by hand from VLMEvalKit's builders."""

import math

import pytest

from ming_eval.cards.schema import UnderstandProtocol
from ming_eval.core.sample import ImagePart, ImageRef, TextPart
from ming_eval.errors import DataError
from ming_eval.tasks.vlm.prompts import build_content, interleave_images

IMG = [ImageRef("i1", lambda: None), ImageRef("i2", lambda: None)]  # type: ignore[arg-type, return-value]
ROW = {"question": "What is shown?", "hint": "Look closely.", "A": "cat", "B": "dog", "C": math.nan, "D": 3.5}


def text_of(parts):
    assert isinstance(parts[-1], TextPart)
    return parts[-1].text


def test_dataset_default_mcq():
    parts = build_content("mcq", "default", ROW, IMG[:1], "s")
    assert isinstance(parts[0], ImagePart) and len(parts) == 2
    assert text_of(parts) == (
        "Hint: Look closely.\nQuestion: What is shown?\nOptions:\nA. cat\nB. dog\nD. 3.5\n"
        "Please select the correct answer from the options above. \n"
    )


def test_default_mcq_without_hint_or_options():
    row = {"question": "Name it.", "hint": math.nan}
    assert text_of(build_content("mcq", "default", row, IMG[:1], "s")) == "Question: Name it.\n"


def test_qwen2vl_mcq_english_and_chinese():
    assert text_of(build_content("mcq", "qwen2vl", ROW, IMG[:1], "s")) == (
        "Hint: Look closely.\nQuestion: What is shown?\nOptions:\nA. cat\nB. dog\nD. 3.5\n"
        "Please select the correct answer from the options above."
    )
    cn = {"question": "这是什么?", "A": "猫", "B": "狗"}
    assert text_of(build_content("mcq", "qwen2vl", cn, IMG[:1], "s")) == (
        "Question: 这是什么?\nOptions:\nA. 猫\nB. 狗\n请直接回答选项字母。"
    )


def test_llava_mcq():
    assert text_of(build_content("mcq", "llava", ROW, IMG[:1], "s")) == (
        "Look closely.\nWhat is shown?\nA. cat\nB. dog\nD. 3.5\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert text_of(build_content("mcq", "llava", {"question": "Why?"}, IMG[:1], "s")) == (
        "Why?\nAnswer the question directly."
    )


def test_janus_prompts():
    assert text_of(build_content("mcq", "janus", ROW, IMG[:1], "s")) == (
        "\nHint: Look closely.\nWhat is shown?\nA. cat\nB. dog\nD. 3.5\n\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert text_of(build_content("yes_no", "janus", {"question": "Is it red?"}, IMG[:1], "s")) == (
        "\nIs it red?\nAnswer the question using a single word or phrase."
    )
    assert text_of(build_content("mmvet", "janus", {"question": "Describe."}, IMG[:1], "s")) == "\nDescribe."
    assert text_of(build_content("vqa", "janus", {"question": "How many?"}, IMG[:1], "s")) == "How many?"


def test_yes_no_and_short_answer_styles():
    q = {"question": "Is it red?"}
    assert text_of(build_content("yes_no", "default", q, IMG[:1], "s")) == "Is it red?"
    assert text_of(build_content("yes_no", "qwen2vl", q, IMG[:1], "s")) == "Is it red? Please answer yes or no."
    assert text_of(build_content("yes_no", "llava", q, IMG[:1], "s")) == "Is it red?"
    assert text_of(build_content("vqa", "qwen2vl", q, IMG[:1], "s")) == (
        "Is it red?\nPlease try to answer the question with short words or phrases if possible."
    )
    assert text_of(build_content("mmvet", "qwen2vl", q, IMG[:1], "s")) == "Is it red?"  # MM-Vet keeps its prompt


def test_extra_prefix_and_suffix():
    extras = UnderstandProtocol(extra={"prompt_prefix": "<think>", "prompt_suffix": " Be brief.", "top_k": 3})
    parts = build_content("vqa", "default", {"question": "Q"}, IMG[:1], "s", extras.common_extras())
    assert text_of(parts) == "<think>Q Be brief."


def test_mmmu_interleaves_images_at_placeholders():
    row = {"question": "Compare <image 1> with <image 2>.", "A": "same", "B": "different"}
    parts = build_content("mmmu", "default", row, IMG, "s")
    assert [type(p).__name__ for p in parts] == ["TextPart", "ImagePart", "TextPart", "ImagePart", "TextPart"]
    assert parts[0].text == "Question: Compare "
    assert parts[1].image is IMG[0] and parts[3].image is IMG[1]
    assert parts[4].text.startswith(".\nOptions:\nA. same\nB. different\n")
    # Qwen2-VL and LLaVA prompts keep the images first
    parts = build_content("mmmu", "qwen2vl", row, IMG, "s")
    assert [type(p).__name__ for p in parts] == ["ImagePart", "ImagePart", "TextPart"]
    assert parts[-1].text.endswith("from the options above.")


def test_interleave_reuses_and_checks_placeholders():
    parts = interleave_images("<image 2> then <image 2>", IMG, "s")
    assert [p.image for p in parts if isinstance(p, ImagePart)] == [IMG[1], IMG[1]]
    with pytest.raises(DataError, match="refers to <image 3> but the row has 2"):
        interleave_images("see <image 3>", IMG, "row 9")
    with pytest.raises(DataError, match="malformed image placeholder"):
        interleave_images("see <image x>", IMG, "row 9")
    assert len(interleave_images("no placeholder", IMG, "s")) == 3  # images first
