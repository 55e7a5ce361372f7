"""GenEval's prompt metadata: parse and check ``evaluation_metadata.jsonl`` and rewritten variants.

One line per prompt: ``{"tag", "include": [{"class", "count"[, "color"][, "position"]}], ["exclude"],
"prompt"}``. Every line is checked here, so the rules never meet a malformed requirement: an unknown
class or colour, a non-positive count, or a position clause that points at an include group that is
not evaluated before it (upstream raises ``IndexError`` on the last one while scoring; we refuse the
file when it is read, naming the line).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ming_eval.errors import DataError
from ming_eval.store.jsonl import read_json_lines
from ming_eval.tasks.geneval.constants import CLASS_INDEX, COLORS, RELATIONS, TAGS


@dataclass(frozen=True)
class Include:
    """``count`` objects of ``cls`` must be found (and be ``color``, and lie ``position`` of a group)."""

    cls: str
    count: int
    color: str | None = None
    #: (relation, index of the include group the objects must lie in that relation to)
    position: tuple[str, int] | None = None


@dataclass(frozen=True)
class Exclude:
    """Fewer than ``count`` objects of ``cls`` may be found."""

    cls: str
    count: int


@dataclass(frozen=True)
class PromptMeta:
    """One line of the metadata file; ``raw`` is the parsed JSON object, key order kept."""

    index: int
    tag: str
    prompt: str
    include: tuple[Include, ...]
    exclude: tuple[Exclude, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def sample_id(self) -> str:
        return f"{self.index:05d}"

    @property
    def needs_color(self) -> bool:
        return any(inc.color is not None for inc in self.include)


_HINT = (
    'GenEval metadata lines look like {"tag": "two_object", "include": [{"class": "bench", "count": 1}, ...], '
    '"prompt": "..."}; fix or regenerate the file'
)


def _fail(where: str, message: str) -> DataError:
    return DataError(f"{where}: {message}", hint=_HINT)


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(where, f"'count' must be a positive integer, got {value!r}")
    return value


def _cls(value: Any, where: str) -> str:
    if not isinstance(value, str) or value not in CLASS_INDEX:
        raise _fail(where, f"'class' {value!r} is not one of GenEval's 80 object names")
    return value


def parse_line(obj: Any, index: int, where: str) -> PromptMeta:
    """Check one parsed metadata object; ``where`` names the file and line in errors."""
    if not isinstance(obj, dict):
        raise _fail(where, f"expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - {"tag", "include", "exclude", "prompt"})
    if unknown:
        raise _fail(where, f"unknown keys {unknown}")
    tag = obj.get("tag")
    if tag not in TAGS:
        raise _fail(where, f"'tag' {tag!r} is not one of {', '.join(TAGS)}")
    prompt = obj.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _fail(where, "'prompt' must be a non-empty string")
    raw_inc = obj.get("include")
    if not isinstance(raw_inc, list) or not raw_inc:
        raise _fail(where, "'include' must be a non-empty list")
    includes: list[Include] = []
    for g, req in enumerate(raw_inc):
        at = f"{where} include[{g}]"
        if not isinstance(req, dict):
            raise _fail(at, "expected an object")
        extra = sorted(set(req) - {"class", "count", "color", "position"})
        if extra:
            raise _fail(at, f"unknown keys {extra}")
        color = req.get("color")
        if "color" in req and color not in COLORS:
            raise _fail(at, f"'color' {color!r} is not one of {', '.join(COLORS)}")
        position: tuple[str, int] | None = None
        if "position" in req:
            pos = req["position"]
            if not (
                isinstance(pos, list)
                and len(pos) == 2
                and pos[0] in RELATIONS
                and isinstance(pos[1], int)
                and not isinstance(pos[1], bool)
            ):
                raise _fail(
                    at, f"'position' must be [relation, group index] with a relation in {RELATIONS}, got {pos!r}"
                )
            if not 0 <= pos[1] < g:
                raise _fail(
                    at,
                    f"'position' refers to include group {pos[1]}, which is not evaluated before "
                    f"group {g} (GenEval's evaluator would raise IndexError or compare with nothing)",
                )
            position = (pos[0], pos[1])
        includes.append(Include(_cls(req.get("class"), at), _count(req.get("count"), at), color, position))
    raw_exc = obj.get("exclude", [])
    if not isinstance(raw_exc, list):
        raise _fail(where, "'exclude' must be a list")
    excludes: list[Exclude] = []
    for g, req in enumerate(raw_exc):
        at = f"{where} exclude[{g}]"
        if not isinstance(req, dict) or sorted(req) != ["class", "count"]:
            raise _fail(at, "expected an object with exactly 'class' and 'count'")
        excludes.append(Exclude(_cls(req["class"], at), _count(req["count"], at)))
    return PromptMeta(index, tag, prompt, tuple(includes), tuple(excludes), raw=obj)


def load_metadata(path: Path) -> list[PromptMeta]:
    """Read and check a metadata file (one JSON object per line)."""
    lines = read_json_lines(path, hint=_HINT, label="GenEval metadata", blank_line="each line must be one prompt")
    if not lines:
        raise DataError(f"GenEval metadata {path} is empty")
    return [parse_line(obj, number - 1, f"{path} line {number}") for number, obj in lines]


def read_folder_metadata(path: Path) -> dict[str, Any]:
    """Read a prompt folder's ``metadata.jsonl``: one JSON object, as GenEval's evaluator reads it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DataError(
            f"{path} is missing", hint="every prompt folder needs the metadata.jsonl its images were made from"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path} is not one JSON object ({exc.msg} at line {exc.lineno})",
            hint="it must hold the single metadata line of its prompt",
        ) from exc
    if not isinstance(obj, dict):
        raise DataError(f"{path} holds a JSON {type(obj).__name__}, not an object")
    return obj


def differing_keys(a: Mapping[str, Any], b: Mapping[str, Any], *, ignore: Sequence[str] = ()) -> list[str]:
    """The top-level keys whose values differ between two metadata objects."""
    keys = (set(a) | set(b)) - set(ignore)
    return sorted(k for k in keys if a.get(k, _MISSING) != b.get(k, _MISSING))


_MISSING = object()


def check_rewritten(original: Sequence[PromptMeta], rewritten: Sequence[PromptMeta], path: Path) -> None:
    """A rewritten-prompt file must equal the original line for line except for ``prompt``."""
    problems: list[str] = []
    if len(original) != len(rewritten):
        problems.append(f"it has {len(rewritten)} lines, the original has {len(original)}")
    for orig, new in zip(original, rewritten, strict=False):
        keys = differing_keys(orig.raw, new.raw, ignore=("prompt",))
        if keys:
            problems.append(f"line {orig.index + 1} differs in {', '.join(keys)}")
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise DataError(
            f"rewritten-prompt metadata {path} does not match GenEval's {len(original)} prompts:\n"
            + "\n".join(f"  - {p}" for p in shown),
            hint="only the 'prompt' field may be rewritten; tag, include and exclude must stay as in the "
            "original evaluation_metadata.jsonl (same order)",
        )
