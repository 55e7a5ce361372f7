"""Answer extraction from free-form model outputs, rule for rule as VLMEvalKit does it.

* :func:`match_option` (VLMEvalKit ``can_infer``): an option letter standing alone as a word, else
  the one option whose text appears in the answer.
* :func:`yes_no` (VLMEvalKit ``YOrN_Extraction``): Yes / No / Unknown from the words of the answer.

``rules`` selects VLMEvalKit's matching as of a version: ``"current"`` is commit e8e78f05 (2026-08):
a lone letter counts only among the last four words, text matching is skipped for answers longer than
twice the option texts, and "answer is X" is recognised; ``"v0.2"`` is the matching of release v0.2
(2025-03) and earlier, under which most published leaderboard numbers were computed. VLMEvalKit's
``VERBOSE`` environment switch (which rejects some answers containing the word "A") is not
reproduced: matching never depends on the environment here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

MatchingRules = Literal["current", "v0.2"]

API_FAILURE = "Failed to obtain answer via API"
REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
_SEPARATORS = ".()[],:;!*#{}"
_ANSWER_IS = re.compile(r"(?i)(?:correct\s+)?answer\s+is\s+\**([ABCD])\**")
_CJK = re.compile("[\u4e00-\u9fff]")


def has_cjk(text: str) -> bool:
    """True if ``text`` has a CJK ideograph (VLMEvalKit ``cn_string``: picks Chinese prompts)."""
    return _CJK.search(text) is not None


def match_option_letter(answer: str, choices: Mapping[str, str], rules: MatchingRules = "current") -> str | None:
    """The option letter the answer names, 'Z' for a refusal, or None.

    The answer is split into words after turning ``.()[],:;!*#{}`` into spaces. Exactly one option
    letter among the words is the answer (under ``"current"`` rules only if it first appears among the
    last four words, so "A dog is ... so B" is not read as A); no letter but a 'Z' word gives 'Z'.
    """
    if API_FAILURE in answer:
        return None
    if any(refusal in answer for refusal in REFUSALS):
        return "Z"
    text = answer
    for ch in _SEPARATORS:
        text = text.replace(ch, " ")
    words = text.split()
    present = [letter for letter in choices if letter in words]
    if len(present) == 1:
        letter = present[0]
        if rules == "v0.2" or words.index(letter) > len(words) - 5:
            return letter
    elif not present and "Z" in words:
        return "Z"
    if rules == "current":
        found = _ANSWER_IS.search(answer)
        if found and found.group(1).upper() in choices:
            return found.group(1).upper()
    return None


def match_option_text(answer: str, choices: Mapping[str, str], rules: MatchingRules = "current") -> str | None:
    """The letter of the only option whose text (lower-cased) is a substring of the answer."""
    lowered = answer.lower()
    if rules == "current" and len(lowered) > 2 * sum(len(str(v)) for v in choices.values()):
        return None
    hits = [letter for letter, text in choices.items() if str(text).lower() in lowered]
    return hits[0] if len(hits) == 1 else None


def match_option(answer: str, choices: Mapping[str, str], rules: MatchingRules = "current") -> tuple[str | None, str]:
    """(letter or None, how): ``how`` is ``"option"`` (a letter), ``"text"`` (an option's text) or ``"none"``."""
    letter = match_option_letter(answer, choices, rules)
    if letter:
        return letter, "option"
    letter = match_option_text(answer, choices, rules)
    if letter:
        return letter, "text"
    return None, "none"


# -- yes / no ------------------------------------------------------------------------------------

_PUNCT = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!")
_COMMA_BETWEEN_DIGITS = re.compile(r"(\d)(,)(\d)")
_LONE_PERIOD = re.compile(r"(?<!\d)\.(?!\d)")
# VLMEvalKit calls ``periodStrip.sub('', text, re.UNICODE)``: the flag lands in ``count``, so at most
# 32 periods are removed. Reproduced, because it changes which words a long answer has.
_PERIODS_REMOVED = 32


def strip_punctuation(text: str) -> str:
    """VLMEvalKit's ``process_punctuation`` (the VQA-eval normaliser)."""
    out = text
    digits_comma = _COMMA_BETWEEN_DIGITS.search(text) is not None
    for p in _PUNCT:
        if p + " " in text or " " + p in text or digits_comma:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _LONE_PERIOD.sub("", out, count=_PERIODS_REMOVED)


def yes_no(output: str) -> str:
    """'Yes' if the words contain "yes" and not "no", 'No' for the reverse, else 'Unknown'."""
    words = strip_punctuation(output.lower()).split()
    has_yes, has_no = "yes" in words, "no" in words
    if has_yes and not has_no:
        return "Yes"
    if has_no and not has_yes:
        return "No"
    return "Unknown"
