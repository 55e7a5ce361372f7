"""VLMEvalKit's own judge and extraction files reused as the verdicts of an imported prediction file.

``ming-eval score TASK --predictions FILE --verdicts JUDGE_FILE`` records, per sample, the verdict
VLMEvalKit's ``evaluate`` wrote beside ``FILE`` instead of asking a judge again. VLMEvalKit (pinned
commit e8e78f05) writes these files next to ``{model}_{dataset}.xlsx``, in its ``PRED_FORMAT`` (.xlsx
by default, .tsv with ``PRED_FORMAT=tsv``):

* multiple choice (MMBench, MMStar, AI2D, MMMU): ``{model}_{dataset}_{judge}_result.xlsx``, where
  ``{judge}`` is the judge's name (``openai`` for chatgpt-0125, ``gpt4`` for gpt-4-0125,
  ``exact_matching`` without a judge). Its rows are the prediction file's, sorted by index, column
  names lower-cased (option letters excepted), plus ``hit`` (1 or 0) and ``log``. Under circular
  evaluation (MMBench) there is one row per question, its main row (``g_index`` added), whose ``hit``
  is the question's: every rotation right. A ``log`` saying the ``exact_matching`` policy decided means
  the kit's judge was not asked (none configured, or it was not working); "randomly generate" means
  the judge named no option and the kit picked one at random.
* HallusionBench: ``{model}_{dataset}_auxmatch.xlsx``, plus ``extracted`` (Yes / No / Unknown) and
  ``score`` (True / False). The file does not name the judge that read the answers the words did not.
* MathVista: ``{model}_{dataset}_{judge}.xlsx``, plus ``res`` (the prefetched answer, or the judge's
  extraction) and ``log``. The file holds no hit: VLMEvalKit computes it when it summarises, by its
  ``post_check`` of ``res``, which :func:`mathvista_hit` computes the same way.
* MM-Vet: ``{model}_{dataset}_{judge}.xlsx`` (e.g. ``_gpt-4-turbo``), plus ``score`` (the judge's
  grade, 0 to 1) and ``log``.

A verdict file must belong to the prediction file: every row's index is in it, with the same
prediction (as VLMEvalKit reads both back), else a one-line error names the file and row. Samples the
file does not cover are scored by ming-eval as usual.
"""

from __future__ import annotations

import ast
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ming_eval.core.results import SampleScore
from ming_eval.core.sample import Sample
from ming_eval.errors import DataError
from ming_eval.tasks.vlm.extraction import MatchingRules, match_option, yes_no
from ming_eval.tasks.vlm.imported import PREDICTION, READ_ERRORS, SUFFIXES, PredictionFile, read_frame
from ming_eval.tasks.vlm.prompts import options_of
from ming_eval.tasks.vlm.tsv import clean, is_missing

#: the copy of the verdict file in the task's folder of the run (its suffix added)
IMPORTED_VERDICTS = "imported_verdicts"
#: ``SampleScore.details["how"]`` of a verdict taken from VLMEvalKit's file
HOW = "vlmevalkit_file"
#: the columns VLMEvalKit adds to the prediction file's, per task family
VERDICT_COLUMNS: dict[str, tuple[str, ...]] = {
    "mcq": ("hit", "log"),
    "mmmu": ("hit", "log"),
    "yes_no": ("extracted", "score"),
    "mathvista": ("res", "log"),
    "mmvet": ("score", "log"),
}
#: the name VLMEvalKit gives the file, after ``{model}_{dataset}``
FILE_PATTERN: dict[str, str] = {
    "mcq": "_{judge}_result",
    "mmmu": "_{judge}_result",
    "yes_no": "_auxmatch",
    "mathvista": "_{judge}",
    "mmvet": "_{judge}",
}
#: VLMEvalKit's short names for two judges in MCQ result file names
_MCQ_JUDGE_NAMES = {"openai": "chatgpt-0125", "gpt4": "gpt-4-0125"}
_EXACT_LOG = "under `exact_matching` policy"
_RANDOM_LOG = "randomly generate"
_CIRCULAR_PREFETCH_LOGS = ("Succeed During Pre-fetching", "Failed in Prefetching")
_MATHVISTA_PREFETCH_LOG = "Prefetch succeed"
_RETRIES_FAILED_LOG = "retries failed"
_LOG_KEPT = 300  # characters of VLMEvalKit's log kept with each verdict


@dataclass(frozen=True)
class KitVerdict:
    """VLMEvalKit's verdict on one row: the score, what decided it, and what it read."""

    score: float
    correct: bool
    decided_by: str  # heuristics, judge, exact_matching, random_pick, judge_failed, unresolved
    extracted: Any = None
    log: str = ""


@dataclass
class KitVerdicts:
    """The verdicts of one VLMEvalKit file, by index (by question under circular evaluation)."""

    path: Path
    judge: str | None
    per_question: bool
    verdicts: dict[str, KitVerdict] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How a run shows where its verdicts came from (``TaskResult.judge``)."""
        return f"VLMEvalKit file: {self.judge}" if self.judge else "VLMEvalKit file (judge not named)"

    def decided_by(self) -> dict[str, int]:
        return dict(Counter(v.decided_by for v in self.verdicts.values()))


def judge_in_name(path: Path, family: str, dataset: str) -> str | None:
    """The judge a verdict file is named after (``{model}_{dataset}_{judge}_result``...); None for
    HallusionBench's ``_auxmatch`` files and for names that do not follow VLMEvalKit's pattern."""
    stem = path.stem
    marker = f"_{dataset}_"
    if marker not in stem or FILE_PATTERN[family] == "_auxmatch":
        return None
    rest = stem.rsplit(marker, 1)[1]
    if FILE_PATTERN[family].endswith("_result"):
        if not rest.endswith("_result") or rest == "_result":
            return None
        rest = rest[: -len("_result")]
        return _MCQ_JUDGE_NAMES.get(rest, rest)
    return rest or None


def sibling_verdict_files(predictions: Path, family: str) -> list[Path]:
    """VLMEvalKit's verdict files for ``predictions`` in its folder (what ``--verdicts`` takes)."""
    if family not in FILE_PATTERN or not predictions.parent.is_dir():
        return []
    stem = predictions.stem
    out = []
    for path in sorted(predictions.parent.glob(f"{stem}_*")):
        if path.suffix.lower() not in (".xlsx", ".tsv") or path == predictions:
            continue
        tail = path.stem[len(stem) :]
        if family == "yes_no":
            keep = tail == "_auxmatch"
        elif FILE_PATTERN[family].endswith("_result"):
            keep = tail.endswith("_result") and not tail.endswith("_vanilla_circ0_result") and tail != "_result"
        else:  # MathVista / MM-Vet: _{judge}, the one name without a further suffix
            keep = tail.count("_") == 1 and tail not in ("_auxmatch", "_tmp")
        if keep:
            out.append(path)
    return out


def read_kit_verdicts(
    path: Path,
    family: str,
    dataset: str,
    pf: PredictionFile,
    *,
    circular: bool,
    rules: MatchingRules,
    shown_as: Path | None = None,
) -> KitVerdicts:
    """The verdicts in VLMEvalKit's file ``path`` for the prediction file ``pf``; a one-line error naming
    the file (``shown_as``, default ``path``) and row when it is not VLMEvalKit's verdict file for
    ``pf``."""
    name = (shown_as or path).name
    if family not in VERDICT_COLUMNS:
        raise DataError(
            f"{name}: VLMEvalKit writes no per-sample verdict file for this benchmark ({dataset})",
            hint="import the predictions without --verdicts: ming-eval scores them itself",
        )
    pattern = f"{{model}}_{dataset}{FILE_PATTERN[family]}.xlsx"
    if path.suffix.lower() not in SUFFIXES:
        raise DataError(
            f"{name}: a VLMEvalKit verdict file is .xlsx, .tsv or .csv, not {path.suffix or 'without a suffix'}",
            hint=f"pass the {pattern} file VLMEvalKit wrote beside the predictions",
        )
    if not path.is_file():
        raise DataError(f"verdict file {path} does not exist", hint=f"VLMEvalKit names it {pattern}")
    try:
        frame = read_frame(path, verbatim=False)
    except READ_ERRORS as exc:
        raise DataError(f"cannot read {path} as a VLMEvalKit verdict file: {exc}") from exc
    columns = [str(c) for c in frame.columns]
    missing = [c for c in ("index", PREDICTION, *VERDICT_COLUMNS[family]) if c not in columns]
    if missing:
        raise DataError(
            f"{name} lacks the column(s) {', '.join(missing)} of VLMEvalKit's verdict file for {dataset} "
            f"(it has: {', '.join(columns) or 'none'})",
            hint=f"pass the {pattern} file VLMEvalKit wrote beside the predictions",
        )
    if frame.empty:
        raise DataError(f"{name} has a header but no rows")
    if family in ("mcq", "mmmu") and circular != ("g_index" in columns):
        raise DataError(
            f"{name} holds VLMEvalKit's {'circular' if not circular else 'one-pass'} verdicts (one per "
            f"{'question' if not circular else 'row'}), and this task is scored "
            f"{'circularly' if circular else 'in one pass'}",
            hint=f"pass the {pattern} file of the evaluation as the task runs it (MMBench: circular; its "
            "_vanilla_circ0_result file is VLMEvalKit's internal check)",
        )
    ours = {str(clean(row.get("index"))): i for i, row in enumerate(pf.rows)}
    out = KitVerdicts(path, judge_in_name(shown_as or path, family, dataset), per_question=circular)
    for i, row in enumerate(frame.to_dict(orient="records")):
        key = str(clean(row.get("index")))
        where = f"{name} row {i + 1} (index {key})"
        mine = ours.get(key)
        if mine is None:
            raise DataError(
                f"{where}: no row of {pf.path.name} has this index",
                hint="the verdict file was made for another prediction file; pass the one VLMEvalKit wrote "
                "beside this one",
            )
        theirs, said = _as_read(row.get(PREDICTION)), _as_read(pf.rows[mine].get(PREDICTION))
        if theirs != said and not _same_number(theirs, said):
            raise DataError(
                f"{where}: its prediction {theirs[:60]!r} differs from {said[:60]!r} in {pf.where(mine)}",
                hint="the verdict file was made for other predictions; pass the one VLMEvalKit wrote beside "
                "this prediction file",
            )
        if key in out.verdicts:
            raise DataError(f"{where}: index {key} appears again", hint="pass the file VLMEvalKit wrote, unedited")
        out.verdicts[key] = _verdict(family, row, where, rules, circular=circular)
    return out


def _as_read(value: Any) -> str:
    """A prediction cell as VLMEvalKit's scorers see it: pandas' value, as a string (NaN -> 'nan')."""
    return "nan" if is_missing(value) else str(clean(value))


def _same_number(a: str, b: str) -> bool:
    """Two readings of one cell: pandas reads a column of numbers alone ("03") as numbers (3), and the
    same text among words as text; both files are written by one run, so equal numbers are one cell."""
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def _log(row: Mapping[str, Any]) -> str:
    value = row.get("log")
    return "" if is_missing(value) else str(value)[:_LOG_KEPT]


def _verdict(family: str, row: Mapping[str, Any], where: str, rules: MatchingRules, *, circular: bool) -> KitVerdict:
    log = _log(row)
    if family in ("mcq", "mmmu"):
        hit = _number(row.get("hit"), where, "hit", allowed=(0.0, 1.0))
        if _EXACT_LOG in log:
            decided = "exact_matching"
        elif _RANDOM_LOG in log:
            decided = "random_pick"
        elif circular:  # the question's log: decided before any judge call, or rotation by rotation
            decided = "heuristics" if log.startswith(_CIRCULAR_PREFETCH_LOGS) else "judge"
        else:
            choices = {k: str(v) for k, v in options_of(row).items()}
            decided = "heuristics" if match_option(_as_read(row.get(PREDICTION)), choices, rules)[0] else "judge"
        return KitVerdict(hit, hit == 1.0, decided, log=log)
    if family == "yes_no":
        ok = _number(row.get("score"), where, "score", allowed=(0.0, 1.0))
        extracted = str(clean(row.get("extracted")))
        words = yes_no(_as_read(row.get(PREDICTION)))
        if extracted == "Unknown":
            decided = "unresolved"
        else:
            decided = "heuristics" if words == extracted else "judge"
        return KitVerdict(ok, ok == 1.0, decided, extracted=extracted)
    if family == "mathvista":
        ok, extracted = mathvista_hit(row, where, rules)
        if log == _MATHVISTA_PREFETCH_LOG:
            decided = "heuristics"
        else:
            decided = "judge_failed" if _RETRIES_FAILED_LOG in log else "judge"
        return KitVerdict(float(ok), ok, decided, extracted=extracted, log=log)
    grade = _number(row.get("score"), where, "score")
    if not 0.0 <= grade <= 1.0:
        raise DataError(f"{where}: the score {grade:g} is not a grade between 0 and 1")
    decided = "judge_failed" if _RETRIES_FAILED_LOG in log else "judge"
    return KitVerdict(grade, grade >= 1.0, decided, log=log)


def _number(value: Any, where: str, column: str, allowed: tuple[float, ...] = ()) -> float:
    value = clean(value)
    try:
        number = float(value) if not isinstance(value, str) else float({"True": 1, "False": 0}.get(value, value))
    except (TypeError, ValueError):
        number = math.nan
    if math.isnan(number) or (allowed and number not in allowed):
        expected = " or ".join(f"{a:g}" for a in allowed) if allowed else "a number"
        raise DataError(
            f"{where}: the {column} cell {value!r} is not {expected}",
            hint="pass the verdict file VLMEvalKit wrote, unedited",
        )
    return number


def mathvista_hit(row: Mapping[str, Any], where: str, rules: MatchingRules) -> tuple[bool, Any]:
    """VLMEvalKit's MathVista hit for a row of its ``_{judge}`` file: ``res`` (as pandas read it) read
    against the row's answer as its ``post_check`` does. Multiple choice: the option ``res`` names
    equals ``answer_option``; integer / float: ``int(res)`` / ``float(res)`` equals the answer cast
    alike (a value that does not cast is wrong); other answer types are compared as the text
    ``'None'``, as VLMEvalKit compares them (so never credited in practice)."""
    res = row.get("res")
    question_type, answer_type = str(row.get("question_type")), str(row.get("answer_type"))
    if question_type == "multi_choice":
        try:
            options = ast.literal_eval(str(row.get("choices")))
        except (ValueError, SyntaxError) as exc:
            raise DataError(f"{where}: cannot parse the 'choices' cell: {exc}") from exc
        choices = {chr(65 + i): str(v) for i, v in enumerate(options)}
        letter, _ = match_option(_as_read(res), choices, rules)
        return bool(letter) and letter == str(clean(row.get("answer_option"))), letter
    cast = {"integer": int, "float": float}.get(answer_type)
    if cast is None:
        return str(None) == str(clean(row.get("answer"))), None
    try:
        said, gold = cast(clean(res)), cast(clean(row.get("answer")))
    except (TypeError, ValueError):
        return False, None
    return said == gold, said


def score_of(sample: Sample, verdict: KitVerdict, verdicts: KitVerdicts) -> SampleScore:
    """``verdict`` as the sample's score, labelled with the file and the judge it names."""
    unit = f"question {sample.meta.get('group')}" if verdicts.per_question else "this row"
    outcome = "right" if verdict.correct else "wrong"
    if verdict.score not in (0.0, 1.0):
        outcome = f"graded {verdict.score:g}"
    details: dict[str, Any] = {
        "how": HOW,
        "decided_by": verdict.decided_by,
        "verdict_file": verdicts.path.name,
        "judge": verdicts.label,
        "answer": sample.target,
    }
    if verdict.extracted is not None:
        details["extracted"] = verdict.extracted
    if verdict.log:
        details["kit_log"] = verdict.log
    return SampleScore(
        sample.id,
        verdict.score,
        correct=verdict.correct,
        reason=f"VLMEvalKit's verdict on {unit}: {outcome} ({verdict.decided_by})",
        details=details,
    )


def imported_scores(verdicts: KitVerdicts, samples: Mapping[str, Sample]) -> dict[str, SampleScore]:
    """The scores of the samples the file covers (every rotation of a question it covers)."""
    out = {}
    for sid, sample in samples.items():
        key = str(sample.meta.get("group")) if verdicts.per_question else sid
        verdict = verdicts.verdicts.get(key)
        if verdict is not None:
            out[sid] = score_of(sample, verdict, verdicts)
    return out


def comparability(judge: str | None, decided_by: Mapping[str, int], file: str, protocol_judge: str | None) -> list[str]:
    """Why verdicts taken from VLMEvalKit's ``file`` are not the protocol's (empty when they are): its
    judge is not the protocol's, it does not name the judge that decided some rows, or some rows were
    decided without the judge the file names (VLMEvalKit's silent fall-back to exact matching)."""
    judged = sum(decided_by.get(k, 0) for k in ("judge", "judge_failed", "random_pick"))
    exact = decided_by.get("exact_matching", 0)
    reasons = []
    if judge is None:
        if judged:
            reasons.append(f"{judged} verdicts of VLMEvalKit's {file} come from a judge the file does not name")
        if decided_by.get("unresolved"):
            reasons.append(
                f"{decided_by['unresolved']} answers are unread (Unknown) in VLMEvalKit's {file}, which does not "
                "say whether a judge was asked"
            )
    elif judge != protocol_judge and (judge != "exact_matching" or exact):
        reasons.append(f"verdicts of VLMEvalKit's {file} judged by {judge}, not the protocol's {protocol_judge}")
    if exact and judge not in (None, "exact_matching"):
        reasons.append(
            f"{exact} rows of VLMEvalKit's {file} were decided by exact matching (its judge {judge} was not asked)"
        )
    return reasons


def kit_notes(state: Mapping[str, Any], rows: int) -> str:
    """The note on a result whose verdicts come from VLMEvalKit's file (``state``: what the import
    recorded of it), out of ``rows`` imported predictions."""
    judge = state.get("judge")
    decided = dict(state.get("decided_by") or {})
    counts = ", ".join(f"{n} {how.replace('_', ' ')}" for how, n in sorted(decided.items()) if n)
    note = (
        f"verdicts of {state.get('rows')} rows taken from VLMEvalKit's file {state.get('source')} "
        f"({'judge ' + str(judge) if judge else 'the file names no judge'}; decided by: {counts or 'none'}), "
        f"not judged again"
    )
    if decided.get("random_pick"):
        note += f"; {decided['random_pick']} of them are VLMEvalKit's random picks (its judge named no option)"
    covered = int(state.get("rows") or 0)
    if covered < rows:
        note += "; the samples the file does not cover were scored by ming-eval"
    return note
