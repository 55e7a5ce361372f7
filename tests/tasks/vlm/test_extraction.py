"""Answer extraction, case by case (expected values worked out by hand from VLMEvalKit's rules)."""

import pytest

from ming_eval.tasks.vlm.extraction import (
    has_cjk,
    match_option,
    match_option_letter,
    match_option_text,
    strip_punctuation,
    yes_no,
)

ABCD = {"A": "paper kite", "B": "walrus", "C": "cat", "D": "dog"}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("B", "B"),
        ("(B)", "B"),
        ("B. walrus", "B"),
        ("**C**", "C"),
        ("Answer: D", "D"),
        ("The answer is C.", "C"),
        ("A and B", None),  # two letters: ambiguous (then text: neither option text is in it)
        ("I cannot decide. Z", "Z"),
        ("b", None),  # letters are case-sensitive words
        ("Failed to obtain answer via API. B", None),
        ("Cannot determine the answer from the image, A", "Z"),  # refusals beat letters
        ("", None),
    ],
)
def test_letters(answer, expected):
    assert match_option_letter(answer, ABCD) == expected


def test_a_lone_letter_counts_only_among_the_last_four_words():
    early = "A picture shows many things here so the option is clearly the second one"
    assert match_option_letter(early, ABCD, "current") is None  # 'A' is word 1 of 14
    assert match_option_letter(early, ABCD, "v0.2") == "A"  # release v0.2 took any lone letter
    assert match_option_letter("I pick option C", ABCD) == "C"  # word 4 of 4


def test_answer_is_pattern_only_under_current_rules():
    text = "The correct answer is **B**, not A."  # two letters: only the pattern decides
    assert match_option_letter(text, ABCD, "current") == "B"
    assert match_option_letter(text, ABCD, "v0.2") is None
    # the pattern is case-insensitive, so "answer is a ..." reads as A (a VLMEvalKit quirk, kept)
    assert match_option_letter("My answer is a dog for sure, really sure, no doubt", ABCD) == "A"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("It is a cat.", "C"),
        ("a red paper kite", "A"),
        ("cat or dog", None),  # two options' texts
        ("CAT", "C"),  # case-insensitive
        ("a giraffe", None),
    ],
)
def test_text(answer, expected):
    assert match_option_text(answer, ABCD) == expected


def test_text_matching_skips_long_answers_under_current_rules():
    long_answer = "cat " + "x" * 100  # longer than 2 x (10 + 6 + 3 + 3) characters
    assert match_option_text(long_answer, ABCD, "current") is None
    assert match_option_text(long_answer, ABCD, "v0.2") == "C"


def test_match_option_reports_how():
    assert match_option("C", ABCD) == ("C", "option")
    assert match_option("the dog", ABCD) == ("D", "text")
    assert match_option("no idea", ABCD) == (None, "none")


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("Yes", "Yes"),
        ("yes.", "Yes"),
        ("No, it is not.", "No"),
        ("Yes and no", "Unknown"),
        ("The answer is yes!", "Yes"),
        ("nope", "Unknown"),
        ("(No)", "No"),
        ("yes:", "Unknown"),  # ':' is not stripped by the VQA normaliser
        ("I can't say", "Unknown"),
    ],
)
def test_yes_no(output, expected):
    assert yes_no(output) == expected


def test_punctuation_rules():
    # a punctuation mark next to a space is deleted; otherwise it becomes a space
    assert strip_punctuation("yes, it is") == "yes it is"
    assert strip_punctuation("yes,it") == "yes it"
    # a comma between digits anywhere switches every mark to deletion
    assert strip_punctuation("1,000 yes/no") == "1000 yesno"
    # periods not between digits are removed, at most 32 of them (VLMEvalKit passes re.UNICODE as count)
    assert strip_punctuation("3.5 end.") == "3.5 end"
    text = "." * 40 + "yes"
    assert strip_punctuation(text) == "." * 8 + "yes"


def test_cjk():
    assert has_cjk("图中是什么") and not has_cjk("What is it?")
