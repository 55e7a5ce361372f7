"""VIEScore as GEdit-Bench runs it: the two judge prompts, the reading of a reply, the re-asking rule.

The prompt text is not part of ming-eval. The task cards pin Step1X-Edit's ``viescore/vie_prompts.py``
(a generated module of string constants) as a data file; :class:`VieScorePrompts` reads the constants
out of the verified file with :mod:`ast` (parsed, never run) and joins them as upstream's ``VIEScore``
does for its ``tie`` task: semantic consistency (SC) from the context, the two-image editing rules and
the SC rules with ``<instruction>`` replaced; perceptual quality (PQ) from the context and the PQ rules.

:func:`read_reply` follows upstream's ``mllm_output_to_dict`` branch for branch (the delimiter, the
outermost braces, a bare ``[a, b]`` list, a bare integer, the key-quoting repair), including what it
fails to read. Where upstream, on its re-ask, draws a random score for a reply it cannot read
(``give_up_parsing``), :func:`read_reply` returns :data:`GIVE_UP`: the scorer records the sample as
unparsed with its replies, never a guess.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from ming_eval.tasks.vlm.protocol_source import PythonSource

#: the data-file name (in the task cards) of Step1X-Edit's GEdit-Bench/viescore/vie_prompts.py
PROMPTS_SOURCE = "vie_prompts.py"
DELIMITER = "||V^=^V||"
INSTRUCTION_FIELD = "<instruction>"


@dataclass(frozen=True)
class VieScorePrompts:
    """The SC template (with ``<instruction>``) and the PQ prompt of VIEScore's ``tie`` task."""

    sc_template: str
    pq: str

    @classmethod
    def read(cls, source: PythonSource) -> VieScorePrompts:
        context = source.module_text("_context_no_delimit")
        sc = "\n".join(
            [
                context,
                source.module_text("_prompts_0shot_two_image_edit_rule"),
                source.module_text("_prompts_0shot_tie_rule_SC"),
            ]
        )
        if INSTRUCTION_FIELD not in sc:
            raise source.error("module variable _prompts_0shot_tie_rule_SC", f"no {INSTRUCTION_FIELD} field")
        return cls(sc_template=sc, pq="\n".join([context, source.module_text("_prompts_0shot_rule_PQ")]))

    def sc(self, instruction: str) -> str:
        """The SC prompt for ``instruction`` (every ``<instruction>`` replaced, as ``str.replace`` does)."""
        return self.sc_template.replace(INSTRUCTION_FIELD, instruction)


class _GiveUp:
    def __repr__(self) -> str:
        return "GIVE_UP"


#: what :func:`read_reply` returns where upstream would draw a random score
GIVE_UP = _GiveUp()
Reading = dict[str, Any] | None | _GiveUp


def _int_0_to_10(text: str) -> bool:
    try:
        return 0 <= int(text) <= 10
    except ValueError:
        return False


def _repair(text: str) -> str:
    """Upstream's ``fix_json``: quote bare keys, then wrap numbers in a list and quote other values."""
    fixed = re.sub(r"(\w+):", r'"\1":', text)

    def value(match: re.Match[str]) -> str:
        key, val, comma = match.groups()
        val = val.strip()
        if re.match(r"^-?\d+(\.\d+)?$", val):
            val = f"[{val}]"
        elif not re.match(r"^(true|false|null)$", val, re.IGNORECASE):
            val = f'"{val}"'
        return f"{key}: {val}{comma}"

    return re.sub(r'(".*?"):(.*?)(,|})', value, fixed)


def read_reply(text: str, give_up: bool = False) -> Reading:
    """The judge's reply as upstream reads it: a dict (with ``score`` a list when read directly), None
    where upstream's reader returns False (the question is asked again), :data:`GIVE_UP` where, with
    ``give_up``, upstream would guess."""
    if text == "rate_limit_exceeded":
        return None  # upstream raises, and its caller asks again
    if text.count(DELIMITER) == 2:
        start = text.find(DELIMITER) + len(DELIMITER)
        end = text.rfind(DELIMITER)
    else:
        start = text.find("{")
        end = text.rfind("}") + 1
        if start == -1 or end == 0:
            start = text.find("[")
            end = text.rfind("]") + 1
            if give_up:
                return GIVE_UP
            if re.match(r"^\[\d+, ?\d+\]$", text[start:end]):
                return {"score": json.loads(text[start:end]), "reasoning": "a list of scores"}
            if _int_0_to_10(text):
                return {"score": [int(text)], "reasoning": "a number"}
            return None
    if start == -1 or end == -1 or start == end:
        return None
    body = text[start:end].strip().replace("\n", "")
    try:
        data = json.loads(body)
        if not isinstance(data["score"], list):
            data["score"] = [data["score"]]
    except Exception:
        try:
            repaired = json.loads(_repair(body))
        except ValueError:
            return None
        return repaired if isinstance(repaired, dict) else {"_not_a_dict": repaired}
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Verdict:
    """SC, PQ and O of one edited image, or why there are none (``problem``)."""

    sc: float | None = None
    pq: float | None = None
    problem: str | None = None

    @property
    def overall(self) -> float | None:
        if self.sc is None or self.pq is None:
            return None
        return math.sqrt(self.sc * self.pq)


def lowest_score(reading: dict[str, Any], which: str) -> tuple[float | None, str | None, bool]:
    """``min(reading["score"])`` as upstream takes it: (value, problem, ask_again). Where upstream's
    arithmetic would raise (no ``score`` list, an empty one, something not a number) it evaluates the
    image again, so ``ask_again`` is True; a score outside 0-10 upstream would use, ming-eval does not
    score on it (a problem, not asked again)."""
    scores = reading.get("score")
    if not isinstance(scores, list) or not scores:
        return None, f"{which}: no score list in the reply", True
    if not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scores):
        return None, f"{which}: scores {scores!r} are not all numbers", True
    if not all(0 <= s <= 10 for s in scores):
        return None, f"{which}: scores {scores!r} lie outside the 0-10 scale", False
    return float(min(scores)), None, False


def judge_pair(sc: Reading, pq: Reading) -> Verdict | None:
    """The verdict from one SC and one PQ reading, or None when upstream would ask both again."""
    if sc is None or pq is None:
        return None
    if isinstance(sc, _GiveUp) or isinstance(pq, _GiveUp):
        which = " and ".join(n for n, r in (("SC", sc), ("PQ", pq)) if isinstance(r, _GiveUp))
        return Verdict(problem=f"{which}: no JSON, list or number in the reply after the re-ask")
    sc_value, sc_problem, sc_again = lowest_score(sc, "SC")
    pq_value, pq_problem, pq_again = lowest_score(pq, "PQ")
    if sc_again or pq_again:
        return None
    if sc_problem or pq_problem:
        return Verdict(problem="; ".join(p for p in (sc_problem, pq_problem) if p))
    return Verdict(sc=sc_value, pq=pq_value)
