"""lmms-eval ``--log_samples`` files (``{date}_samples_{task}.jsonl``) matched with VLMEvalKit's TSV rows.

What lmms-eval writes (EvolvingLMMs-Lab/lmms-eval, ``evaluator.py`` and ``loggers/evaluation_tracker.py``,
read at v0.3.5, v0.4 to v0.7.2 and 75571cfe): one JSON object per doc with ``doc_id`` (the doc's position
in the task's Hugging Face split), ``target`` (``str`` of the task's ``doc_to_target``), ``filtered_resps``,
``doc_hash``, ``input`` (the prompt text) and the entries the task's ``process_results`` returned (metric
name -> value; many are dicts of the doc's fields). Before 0.4 the line also kept ``doc`` (the row without
its images), ``arguments`` and ``resps`` (``[[text]]``); from 0.4 on ``doc`` and ``arguments`` are dropped
and ``resps`` only stays when it differs from ``filtered_resps``; from 0.7 a single response is unwrapped
(``"filtered_resps": "text"``) and ``token_counts`` is added.

The model's raw output is ``resps`` where the line kept it (a task filter such as AI2D's letter regex, or
reasoning-tag stripping, changed ``filtered_resps``), else ``filtered_resps`` (then equal to it): that text
is scored here, by this project's scorer, as VLMEvalKit would score it.

No lmms-eval log carries VLMEvalKit's row index, so each benchmark has a key found on both sides (see
:data:`MATCHERS`); every match is checked against what the line says of the doc (answer, question), and
a line matching no row, several rows, or a row another line already matched is refused with its file
and line. The benchmark TSV is therefore needed.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ming_eval.errors import DataError
from ming_eval.store.jsonl import read_json_lines
from ming_eval.tasks.vlm.tsv import clean

#: lmms-eval writes ``{date}_samples_{task}.jsonl``
_LMMS_NAME = re.compile(r"_samples_(?P<task>[A-Za-z0-9_.-]+)\.jsonl$")
#: the line's own keys; every other dict value is an entry of the task's ``process_results``
_RECORD_KEYS = frozenset(
    [
        "doc_id",
        "doc",
        "target",
        "arguments",
        "resps",
        "filtered_resps",
        "doc_hash",
        "prompt_hash",
        "target_hash",
        "input",
        "token_counts",
        "input_media",
    ]
)


def lmms_task_of(path: Path) -> str | None:
    """The lmms-eval task a ``--log_samples`` file is named after."""
    m = _LMMS_NAME.search(path.name)
    return m.group("task") if m else None


@dataclass(frozen=True)
class Logged:
    """One line of a ``--log_samples`` file."""

    path: Path
    line: int
    doc_id: Any
    record: dict[str, Any]
    text: str

    @property
    def where(self) -> str:
        return f"{self.path} line {self.line} (doc_id {self.doc_id})"

    def field(self, *names: str) -> Any:
        """The first of ``names`` in the doc (logs before lmms-eval 0.4), else in the line's metric
        entries (which copy doc fields); None when none has it."""
        doc = self.record.get("doc")
        sources = [doc] if isinstance(doc, dict) else []
        sources += [v for k, v in self.record.items() if k not in _RECORD_KEYS and isinstance(v, dict)]
        for name in names:
            for source in sources:
                if name in source and source[name] is not None:
                    return source[name]
        return None

    @property
    def target(self) -> str | None:
        value = self.record.get("target")
        return None if value is None else str(value)


def _raw_response(record: dict[str, Any], where: str) -> str:
    value = record["resps"] if "resps" in record else record["filtered_resps"]
    while isinstance(value, list):
        if len(value) != 1:
            raise DataError(
                f"{where}: {len(value)} responses logged for one doc; only logs with one response per doc "
                "(generate_until, no repeats) can be imported"
            )
        value = value[0]
    return "" if value is None else str(value)


def read_lmms_log(path: Path) -> list[Logged]:
    """The lines of an lmms-eval ``--log_samples`` file, one per doc; a clear error naming the line
    for a line that is not JSON (e.g. a truncated file) or not a logged sample, and for a repeated doc."""
    out: list[Logged] = []
    seen: dict[str, int] = {}
    lines = read_json_lines(path, hint="pass the whole samples_<task>.jsonl file lmms-eval --log_samples wrote")
    for number, record in lines:
        if not isinstance(record, dict) or "doc_id" not in record or "filtered_resps" not in record:
            raise DataError(
                f"{path} line {number} is not an lmms-eval sample (no doc_id/filtered_resps)",
                hint="pass the samples_<task>.jsonl file lmms-eval --log_samples wrote",
            )
        doc_id = record["doc_id"]
        first = seen.setdefault(json.dumps(doc_id), number)
        if first != number:
            raise DataError(
                f"{path} line {number}: doc_id {doc_id} appears again (first at line {first})",
                hint="the log was concatenated from several runs; keep one line per doc",
            )
        where = f"{path} line {number} (doc_id {doc_id})"
        out.append(Logged(path, number, doc_id, record, _raw_response(record, where)))
    if not out:
        raise DataError(f"{path} has no samples")
    return out


# -- the key of each benchmark on both sides ----------------------------------------------------------
Key = tuple[str, ...]


def _text(value: Any) -> str | None:
    value = clean(value)
    return None if value is None else str(value)


def _words(value: Any) -> str:
    """Whitespace-normalised text, for comparing a question as two tools stored it."""
    return " ".join(str(value).split())


def _index(row: dict[str, Any]) -> str:
    return str(clean(row["index"]))


def _options(row: dict[str, Any]) -> list[str]:
    """The option texts of a TSV row, A, B, ... up to the first missing one."""
    out: list[str] = []
    for letter in "ABCDEFGHIJ":
        value = _text(row.get(letter))
        if value is None:
            break
        out.append(value)
    return out


def _answers(value: Any) -> tuple[str, ...] | None:
    """OCRBench answers: a list, or its ``str`` as a TSV cell or lmms-eval ``target`` holds it."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return None if value is None else (str(value),)


Check = tuple[str, Any, Any]


@dataclass(frozen=True)
class Matcher:
    """How the lines of one benchmark's lmms-eval log find their VLMEvalKit rows."""

    tasks: tuple[str, ...]  # the lmms-eval tasks whose logs hold this benchmark
    key_name: str  # what the key is, for messages
    log_key: Callable[[Logged], Key | None]
    row_key: Callable[[dict[str, Any]], Key | None]
    checks: Callable[[Logged, dict[str, Any]], list[Check]] = field(default=lambda logged, row: [])
    split: str | None = None  # only these TSV rows are in the lmms-eval task


def _one(*names: str) -> Callable[[Logged], Key | None]:
    def key(logged: Logged) -> Key | None:
        value = logged.field(*names)
        return None if value is None else (str(value),)

    return key


def _target_is_answer(logged: Logged, row: dict[str, Any]) -> list[Check]:
    return [("target", logged.target, _text(row.get("answer")))] if logged.target is not None else []


# MMStar, MMBench: the doc's ``index`` is VLMEvalKit's (both were made from the same files); the metric
# entries carry it as ``question_id`` (mmstar) or ``index`` (mmbench)
_BY_INDEX = Matcher(
    tasks=(),
    key_name="index",
    log_key=_one("index", "question_id"),
    row_key=lambda row: (_index(row),),
    checks=_target_is_answer,
)

# HallusionBench: VLMEvalKit's index is ``{category}_{subcategory}_{visual_input}_{set_id}_{figure_id}_
# {question_id}``; lmms-eval's doc (and every metric entry, aAcc/fAcc/qAcc) has those fields
_HB_FIELDS = ("category", "subcategory", "set_id", "figure_id", "question_id")


def _hb_log_key(logged: Logged) -> Key | None:
    values = [logged.field(name) for name in _HB_FIELDS]
    return None if any(v is None for v in values) else tuple(str(v) for v in values)


def _hb_row_key(row: dict[str, Any]) -> Key | None:
    parts = _index(row).split("_")
    return (parts[0], parts[1], parts[3], parts[4], parts[5]) if len(parts) == 6 else None


def _hb_checks(logged: Logged, row: dict[str, Any]) -> list[Check]:
    gt = logged.field("gt_answer")  # HallusionBench's "1" (yes) / "0" (no)
    if gt is None:
        return []
    return [("gt_answer", {"1": "Yes", "0": "No"}.get(str(gt), str(gt)), _text(row.get("answer")))]


# AI2D: no id is logged; the question and options (the doc before 0.4, else lmms-eval's default prompt,
# ``{question}\nA. {option}\nB. ...`` plus its post-prompt) and the answer letter
_AI2D_POST = "\nAnswer with the option's letter from the given choices directly."


def _ai2d_prompt(question: str, options: Sequence[str]) -> str:
    return question + "\n" + "\n".join(f"{chr(65 + i)}. {o}" for i, o in enumerate(options))


def _ai2d_log_key(logged: Logged) -> Key | None:
    question, options = logged.field("question"), logged.field("options")
    if logged.target is None:
        return None
    if isinstance(question, str) and isinstance(options, list):
        return (_ai2d_prompt(question, [str(o) for o in options]), logged.target)
    prompt = logged.record.get("input")
    if not isinstance(prompt, str):
        return None
    return (prompt.removesuffix(_AI2D_POST), logged.target)


def _ai2d_row_key(row: dict[str, Any]) -> Key | None:
    answer = _text(row.get("answer"))
    return None if answer is None else (_ai2d_prompt(str(row["question"]), _options(row)), answer)


# MMMU: the MMMU id (``validation_Accounting_1``), the doc's ``id`` and ``mmmu_acc.id``; on VLMEvalKit's
# side the ``id`` column where the TSV has one, else the index
def _mmmu_row_key(row: dict[str, Any]) -> Key | None:
    value = _text(row.get("id")) or _index(row)
    return (value,)


def _mmmu_checks(logged: Logged, row: dict[str, Any]) -> list[Check]:
    answer = logged.field("answer")
    return [] if answer is None else [("answer", str(answer), _text(row.get("answer")))]


# MathVista testmini: the problem id (``pid``; ``question_id`` in the metric entries) is VLMEvalKit's index;
# the answer, the question types and the query (VLMEvalKit's question) must agree
def _mathvista_checks(logged: Logged, row: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    for logged_name, column in (
        ("answer", "answer"),
        ("question_type", "question_type"),
        ("answer_type", "answer_type"),
    ):
        value = logged.field(logged_name)
        if value is not None:
            out.append((logged_name, str(value), _text(row.get(column))))
    query = logged.field("query")
    if query is not None:
        out.append(("query", _words(query), _words(row.get("question"))))
    return out


# MM-Vet: ``question_id`` (``v1_N``) is the index; a TSV indexed by the bare number N names it ``v1_N``;
# the question and answer must agree
def _mmvet_row_key(row: dict[str, Any]) -> Key | None:
    index = _index(row)
    return (f"v1_{index}" if index.isdigit() else index,)


def _mmvet_checks(logged: Logged, row: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    question = logged.field("question")
    if question is not None:
        out.append(("question", _words(question), _words(row.get("question"))))
    answer = logged.field("gt_answer", "answer")
    if answer is not None:
        out.append(("answer", str(answer), _text(row.get("answer"))))
    return out


# OCRBench: no id is logged; the question (the doc before 0.4, else lmms-eval's default prompt, the
# stripped question), the answers (``ocrbench_accuracy.ground_truth`` or the target) and the type
def _ocr_log_key(logged: Logged) -> Key | None:
    question = logged.field("question")
    if not isinstance(question, str):
        question = logged.record.get("input")
    answers = _answers(logged.field("ground_truth", "answer"))
    if answers is None and logged.target is not None:
        answers = _answers(logged.target)
    kind = logged.field("question_type")
    if not isinstance(question, str) or answers is None or kind is None:
        return None
    return (question.strip(), repr(answers), str(kind))


def _ocr_row_key(row: dict[str, Any]) -> Key | None:
    answers = _answers(_text(row.get("answer")))
    kind = _text(row.get("category"))
    return None if answers is None or kind is None else (str(row["question"]).strip(), repr(answers), kind)


#: per VLMEvalKit dataset: the lmms-eval tasks whose logs import into it, and how lines find rows
MATCHERS: dict[str, Matcher] = {
    "MMStar": replace(_BY_INDEX, tasks=("mmstar",)),
    "MMBench_DEV_EN": replace(_BY_INDEX, tasks=("mmbench_en_dev",)),
    "MMBench_DEV_CN": replace(_BY_INDEX, tasks=("mmbench_cn_dev",)),
    "HallusionBench": Matcher(
        tasks=("hallusion_bench_image",),
        key_name="(category, subcategory, set_id, figure_id, question_id)",
        log_key=_hb_log_key,
        row_key=_hb_row_key,
        checks=_hb_checks,
    ),
    "AI2D_TEST": Matcher(
        tasks=("ai2d",),
        key_name="question, options and answer",
        log_key=_ai2d_log_key,
        row_key=_ai2d_row_key,
    ),
    "MMMU_DEV_VAL": Matcher(
        tasks=("mmmu_val",),
        key_name="MMMU id",
        log_key=_one("id"),
        row_key=_mmmu_row_key,
        checks=_mmmu_checks,
        split="validation",
    ),
    "MathVista_MINI": Matcher(
        tasks=tuple(f"mathvista_testmini{v}" for v in ("", "_cot", "_format", "_solution")),
        key_name="pid",
        log_key=_one("pid", "question_id"),
        row_key=lambda row: (_index(row),),
        checks=_mathvista_checks,
    ),
    "MMVet": Matcher(
        tasks=("mmvet",),
        key_name="question_id",
        log_key=_one("question_id"),
        row_key=_mmvet_row_key,
        checks=_mmvet_checks,
    ),
    "OCRBench": Matcher(
        tasks=("ocrbench",),
        key_name="question, answers and question type",
        log_key=_ocr_log_key,
        row_key=_ocr_row_key,
    ),
}


def _shown(key: Key) -> str:
    text = key[0] if len(key) == 1 else ", ".join(key)
    return repr(text if len(text) <= 80 else text[:77] + "...")


def match_log(matcher: Matcher, logged: Sequence[Logged], rows: Sequence[dict[str, Any]], tsv: str) -> list[str]:
    """The index of the TSV row each line answers, in the lines' order; a one-line error naming the file
    and line for a line with no key, no row, several rows, a row already taken, or a differing answer."""
    by_key: dict[Key, list[int]] = {}
    for i, row in enumerate(rows):
        key = matcher.row_key(row)
        if key is not None:
            by_key.setdefault(key, []).append(i)
    taken: dict[int, int] = {}
    out: list[str] = []
    for item in logged:
        key = matcher.log_key(item)
        if key is None:
            raise DataError(
                f"{item.where}: the sample carries no {matcher.key_name} to find its row of {tsv}",
                hint=f"pass a log of lmms-eval task {' or '.join(matcher.tasks)}",
            )
        hits = by_key.get(key, [])
        if not hits:
            raise DataError(
                f"{item.where}: no row of {tsv} has the {matcher.key_name} {_shown(key)}",
                hint="the log was made for another benchmark or version, or with a non-default lmms-eval prompt",
            )
        if len(hits) > 1:
            shown = ", ".join(_index(rows[i]) for i in hits[:5])
            raise DataError(
                f"{item.where}: {len(hits)} rows of {tsv} (index {shown}) have the same {matcher.key_name}; "
                "the log cannot tell which one it answered",
                hint="score the VLMEvalKit prediction file of this run instead, if there is one",
            )
        i = hits[0]
        if i in taken:
            raise DataError(f"{item.where}: answers the same row of {tsv} (index {_index(rows[i])}) as line {taken[i]}")
        for what, got, want in matcher.checks(item, rows[i]):
            if got != want:
                raise DataError(
                    f"{item.where}: the logged {what} {got!r} differs from {want!r} in {tsv} (index {_index(rows[i])})",
                    hint="the log was made from another version of the benchmark",
                )
        taken[i] = item.line
        out.append(_index(rows[i]))
    return out
