"""WISE's judging protocol: the judge prompt, how a reply is read, WiScore and the category weights.

Two versions of the benchmark exist and are never mixed (PKU-YuanGroup/WISE at ``eb51174``):

* **legacy** (``WISE_legacy/gpt_eval.py``, ``Calculate.py``): GPT-4o-2024-05-13 grades Consistency,
  Realism and Aesthetic Quality 0-2; WiScore = (0.7 C + 0.2 R + 0.1 A) / 2; overall = 0.4 Cultural +
  0.167 Time + 0.133 Space + 0.1 Biology + 0.1 Physics + 0.1 Chemistry.
* **verified** (``vllm_eval.py``, ``calculate_verified.py``): Qwen3.5-35B-A3B (vLLM, thinking off)
  gives one binary score; overall = 0.4 Cultural + 0.12 x each of the other five categories, whose
  prompt-id ranges differ from legacy's.

The judge prompt is upstream's text byte for byte. ming-eval does not carry it: the task cards pin
upstream's evaluation script like a data file (URL at the commit, sha256) and :func:`read_judge_prompt`
reads the two message texts out of ``build_evaluation_messages`` with
:class:`~ming_eval.tasks.vlm.protocol_source.PythonSource` (parsed, never run).

Reading a reply follows upstream's ``extract_scores`` (same patterns, same fallbacks, so the same
replies are unreadable), and a reply that gives no complete set of scores is asked again, at most
three times in all, as upstream does. Where upstream then drops the prompt silently, ming-eval records
it as ``judge_unparsed`` with every reply. Upstream's legacy pattern also takes any digit: a grade
outside 0-2 (which upstream would average in) is recorded as ``judge_out_of_scale`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ming_eval.tasks.vlm.protocol_source import PythonSource, Template

#: data-file names (in the task cards) of upstream's evaluation scripts
LEGACY_SOURCE = "gpt_eval.py"  # WISE_legacy/gpt_eval.py
VERIFIED_SOURCE = "vllm_eval.py"  # vllm_eval.py

#: the function of upstream's script that builds the judge's messages
MESSAGES_FUNCTION = "build_evaluation_messages"
#: how upstream attaches the image (the data-URL f-string) and the prompt fields it fills in
IMAGE_URL_PREFIX = "data:image/png;base64,"
PROMPT_FIELDS = ("Prompt", "Explanation")

#: upstream's MAX_EXTRACT_RETRIES: the judge is asked up to this many times for a readable reply
MAX_ATTEMPTS = 3

JUDGE_UNPARSED = "judge_unparsed"
JUDGE_OUT_OF_SCALE = "judge_out_of_scale"


@dataclass(frozen=True)
class JudgePrompt:
    """The judge's system text and the user text template (fields ``Prompt`` and ``Explanation``)."""

    system: str
    user: Template

    def render(self, prompt: str, explanation: str) -> str:
        return self.user.render({"Prompt": prompt, "Explanation": explanation})


def read_judge_prompt(source: PythonSource) -> JudgePrompt:
    """The two texts of upstream's ``build_evaluation_messages``: the one plain sentence of the system
    message and the one f-string with the prompt's fields; the image must go as a PNG data URL."""
    fn = MESSAGES_FUNCTION
    literals = _message_literals(source)
    templates = [lit for lit in literals if isinstance(lit, Template)]
    users = [t for t in templates if sorted(t.fields) == sorted(PROMPT_FIELDS)]
    urls = [t for t in templates if t.parts and t.parts[0] == IMAGE_URL_PREFIX and len(t.fields) == 1]
    texts = [lit for lit in literals if isinstance(lit, str) and " " in lit]
    if len(users) != 1:
        raise source.error(f"{fn}()", f"expected one f-string with fields {', '.join(PROMPT_FIELDS)}")
    if len(urls) != 1 or len(templates) != 2:
        raise source.error(f"{fn}()", f"expected the image as one f-string data URL starting {IMAGE_URL_PREFIX}")
    if len(texts) != 1:
        raise source.error(f"{fn}()", f"expected one system sentence, found {len(texts)} plain texts")
    return JudgePrompt(system=texts[0], user=users[0])


def _message_literals(source: PythonSource) -> list[str | Template]:
    """Every unnamed literal of the function (dict keys and values included), in source order."""
    return source.unnamed(MESSAGES_FUNCTION, None)


# -- reading replies (upstream's extract_scores) ---------------------------------------------------
_LEGACY_NAMED = re.compile(r"\*{0,2}(Consistency|Realism|Aesthetic Quality)\*{0,2}\s*[:]?\s*(\d)", re.IGNORECASE)
_LEGACY_BARE = re.compile(r"(?m)^\s*([0-2])\s*$")
_VERIFIED_NAMED = re.compile(r"\*{0,2}Score\*{0,2}\s*[:]?\s*([01])\b", re.IGNORECASE)
_VERIFIED_BARE = re.compile(r"(?m)^\s*([01])\s*$")
_THINK_BLOCK = re.compile(r"<think>.*?</think>\s*", re.DOTALL)
_THINK_END = re.compile(r"</think>\s*")

LEGACY_KEYS = ("consistency", "realism", "aesthetic_quality")
VERIFIED_KEYS = ("score",)


def read_legacy(text: str) -> dict[str, float]:
    """The grades a legacy reply gives, as upstream reads them: each named grade (the last one wins),
    else, when no grade is named, the first three lines holding only 0, 1 or 2."""
    out: dict[str, float] = {}
    for name, digit in _LEGACY_NAMED.findall(text):
        out[name.lower().replace(" ", "_")] = float(digit)
    if out:
        return out
    bare = _LEGACY_BARE.findall(text)
    if len(bare) >= 3:
        return dict(zip(LEGACY_KEYS, (float(d) for d in bare[:3]), strict=True))
    return out


def clean_verified(text: str) -> str:
    """The reply as upstream's vLLM client keeps it: thinking blocks removed, whitespace stripped."""
    return _THINK_END.sub("", _THINK_BLOCK.sub("", text)).strip()


def read_verified(text: str) -> dict[str, float]:
    """The binary score of a (cleaned) verified reply: ``Score: 0|1``, else a single line of 0 or 1."""
    match = _VERIFIED_NAMED.search(text)
    if match:
        return {"score": float(match.group(1))}
    bare = _VERIFIED_BARE.findall(text)
    return {"score": float(bare[0])} if len(bare) == 1 else {}


# -- the two versions ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Version:
    """One version of WISE: its judge script, reply reading, WiScore, categories and weights."""

    name: str
    label: str
    source: str
    keys: tuple[str, ...]
    #: (category, first prompt id, last prompt id), in upstream's order
    ranges: tuple[tuple[str, int, int], ...]
    weights: dict[str, float]
    max_tokens: int
    scale_max: float
    #: the judge of the published numbers (served model name)
    judge_model: str
    extra_body: tuple[tuple[str, Any], ...] = field(default=())

    def category(self, prompt_id: int) -> str | None:
        for name, first, last in self.ranges:
            if first <= prompt_id <= last:
                return name
        return None

    def read(self, text: str) -> dict[str, float]:
        return read_legacy(text) if self.name == "legacy" else read_verified(clean_verified(text))

    def wiscore(self, grades: Mapping[str, float]) -> float:
        """The sample's WiScore (0-1) from complete, in-scale grades."""
        if self.name == "legacy":
            return (0.7 * grades["consistency"] + 0.2 * grades["realism"] + 0.1 * grades["aesthetic_quality"]) / 2
        return float(grades["score"])


LEGACY = Version(
    name="legacy",
    label="WISE",
    source=LEGACY_SOURCE,
    keys=LEGACY_KEYS,
    ranges=(
        ("CULTURE", 1, 400),
        ("TIME", 401, 567),
        ("SPACE", 568, 700),
        ("BIOLOGY", 701, 800),
        ("PHYSICS", 801, 900),
        ("CHEMISTRY", 901, 1000),
    ),
    weights={"CULTURE": 0.4, "TIME": 0.167, "SPACE": 0.133, "BIOLOGY": 0.1, "PHYSICS": 0.1, "CHEMISTRY": 0.1},
    max_tokens=2000,
    scale_max=2.0,
    judge_model="gpt-4o-2024-05-13",
)

VERIFIED = Version(
    name="verified",
    label="WISE-Verified",
    source=VERIFIED_SOURCE,
    keys=VERIFIED_KEYS,
    ranges=(
        ("CULTURE", 1, 400),
        ("TIME", 401, 520),
        ("SPACE", 521, 640),
        ("BIOLOGY", 641, 760),
        ("PHYSICS", 761, 880),
        ("CHEMISTRY", 881, 1000),
    ),
    weights={"CULTURE": 0.4, "TIME": 0.12, "SPACE": 0.12, "BIOLOGY": 0.12, "PHYSICS": 0.12, "CHEMISTRY": 0.12},
    max_tokens=500,
    scale_max=1.0,
    judge_model="Qwen3.5-35B-A3B",
    extra_body=(("chat_template_kwargs", {"enable_thinking": False}),),
)

VERSIONS: dict[str, Version] = {v.name: v for v in (LEGACY, VERIFIED)}
