"""DPG-Bench's question file, ``dpg_bench.csv``, read into one question graph per prompt.

The file (ELLA, ``dpg_bench/dpg_bench.csv`` at commit ``3c228f1``) has one row per question and the
columns ``item_id, text, keywords, proposition_id, dependency, category_broad, category_detailed,
tuple, question_natural_language``. The rows of one prompt are consecutive. ``dependency`` lists the
``proposition_id`` of the question's parents, comma separated; ``0`` stands for "no parent". The
category of a question is the ``tuple`` text before its first ``(`` (``entity - whole``, the L2
category); the L1 category is that text before its first ``-`` (``entity``).

Upstream reads the file with pandas and ignores its first data row (``if i == 0: continue``); we
read every row and leave that quirk to the scoring (:mod:`ming_eval.tasks.dpg_bench.scoring`), so a
single set of answers serves both the upstream and the fixed scores. Upstream only uses
``item_id``, ``proposition_id``, ``dependency``, ``tuple`` and ``question_natural_language``.

Anything upstream would trip over, or silently mis-handle, is a :class:`DataError` naming the file
and line: a missing column, a row with the wrong number of fields, a non-integer id, a parent that
is not a question of the same prompt, a repeated ``proposition_id`` within a prompt (upstream keeps
the last), a prompt whose rows are not consecutive (upstream keeps only the last run of rows), or an
``item_id`` that cannot name ``<item_id>.png`` (upstream matches images by the name before the
first ``.``). A dependency cycle, or a question listed as its own parent, is accepted: upstream's
single pass over the questions handles it, and so does our fixed mode.

Every cell is kept as text. Upstream relies on pandas' type inference here: ``item_id`` stays text
only because some ids are not numbers (a file whose ids were all numeric would be read as integers
and match no image), and ``dependency`` only because some cells are comma lists (otherwise it is an
integer column and ``.split`` fails). ELLA's ``prompts/`` folder names prompts both ways (``0.txt``,
``partiprompts97.txt``), so the real file keeps its ids as text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ming_eval.errors import DataError

COLUMNS = (
    "item_id",
    "text",
    "keywords",
    "proposition_id",
    "dependency",
    "category_broad",
    "category_detailed",
    "tuple",
    "question_natural_language",
)


@dataclass(frozen=True)
class Question:
    """One row of the CSV: a yes/no question about a prompt's image."""

    item_id: str
    proposition_id: int
    #: parent proposition ids in the order the row lists them (upstream stops at the first failed
    #: parent, so the order matters); ``0`` entries mean "no parent" and are kept as written
    parents: tuple[int, ...]
    tuple_text: str
    question: str
    category_broad: str
    category_detailed: str
    #: 0-based index among the data rows (pandas' row index in upstream's loop)
    row: int
    #: line of the file where the row starts (1 = the header)
    line: int

    @property
    def category(self) -> str:
        """The L2 category: the ``tuple`` text before its first ``(``, stripped."""
        return self.tuple_text.split("(")[0].strip()

    @property
    def l1_category(self) -> str:
        """The L1 category: the L2 category before its first ``-``, stripped."""
        return self.category.split("-")[0].strip()

    @property
    def real_parents(self) -> tuple[int, ...]:
        """The parents without the ``0`` placeholders."""
        return tuple(p for p in self.parents if p != 0)


@dataclass(frozen=True)
class PromptQuestions:
    """The question graph of one prompt: its questions in file order."""

    item_id: str
    text: str
    questions: tuple[Question, ...]

    def by_id(self) -> dict[int, Question]:
        return {q.proposition_id: q for q in self.questions}


@dataclass(frozen=True)
class DpgQuestions:
    """Every prompt of a DPG-Bench CSV, in file order."""

    path: Path
    prompts: Mapping[str, PromptQuestions]

    @property
    def first_row(self) -> Question:
        """The first data row, which upstream never reads."""
        return next(iter(self.prompts.values())).questions[0]

    @property
    def n_questions(self) -> int:
        return sum(len(p.questions) for p in self.prompts.values())


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(start line, row) for every non-blank data row; blank lines are skipped as pandas does."""
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"cannot read DPG-Bench questions {path}: {exc}") from exc
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path} is empty; expected a CSV with columns {', '.join(COLUMNS)}")
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise DataError(
                    f"{path} lacks column(s) {', '.join(missing)}; it has {', '.join(header)}",
                    hint="use dpg_bench.csv of TencentQQGYLab/ELLA at 3c228f1",
                )
            end = reader.line_num
            for fields in reader:
                start, end = end + 1, reader.line_num
                if not fields:
                    continue
                if len(fields) != len(header):
                    raise DataError(f"{path} line {start}: {len(fields)} fields, the header has {len(header)}")
                yield start, dict(zip(header, fields, strict=True))
        except csv.Error as exc:
            raise DataError(f"{path} line {reader.line_num}: not valid CSV: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise DataError(f"{path} is not UTF-8 text: {exc}") from exc


def _int(value: str, what: str, where: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise DataError(f"{where}: {what} {value!r} is not an integer") from None


def _question(path: Path, index: int, line: int, row: dict[str, str]) -> Question:
    where = f"{path} line {line}"
    item_id = row["item_id"]
    if not item_id or any(ch in item_id for ch in "./\\") or item_id != item_id.strip():
        raise DataError(
            f"{where}: item_id {item_id!r} cannot name an image <item_id>.png "
            "(it must be non-empty, without '.', '/', '\\' or surrounding spaces)"
        )
    pid = _int(row["proposition_id"], "proposition_id", where)
    if pid < 1:
        raise DataError(f"{where}: proposition_id {pid} must be 1 or more (0 means 'no parent')")
    dependency = row["dependency"]
    if not dependency.strip():
        raise DataError(f"{where}: empty dependency; write 0 for a question without parents")
    parents = tuple(_int(d, "dependency entry", where) for d in dependency.split(","))
    if any(p < 0 for p in parents):
        raise DataError(f"{where}: dependency {dependency!r} has a negative id")
    for column in ("tuple", "question_natural_language"):
        if not row[column].strip():
            raise DataError(f"{where}: empty {column}")
    return Question(
        item_id=item_id,
        proposition_id=pid,
        parents=parents,
        tuple_text=row["tuple"],
        question=row["question_natural_language"],
        category_broad=row["category_broad"],
        category_detailed=row["category_detailed"],
        row=index,
        line=line,
    )


def _check_graph(path: Path, prompt: PromptQuestions) -> None:
    ids: set[int] = set()
    for q in prompt.questions:
        if q.proposition_id in ids:
            raise DataError(f"{path} line {q.line}: item {q.item_id} repeats proposition_id {q.proposition_id}")
        ids.add(q.proposition_id)
    for q in prompt.questions:
        dangling = [p for p in q.real_parents if p not in ids]
        if dangling:
            raise DataError(
                f"{path} line {q.line}: item {q.item_id} question {q.proposition_id} depends on "
                f"{', '.join(map(str, dangling))}, which item {q.item_id} does not have "
                f"(its questions: {', '.join(map(str, sorted(ids)))})"
            )


def read_dpg_questions(path: Path) -> DpgQuestions:
    """Read and validate a DPG-Bench CSV (no checksum check: the task card pins the file's git blob
    id, which :class:`~ming_eval.data.files.DataFiles` verifies)."""
    prompts: dict[str, PromptQuestions] = {}
    current: list[Question] = []
    text = ""

    def close() -> None:
        if current:
            prompt = PromptQuestions(current[0].item_id, text, tuple(current))
            _check_graph(path, prompt)
            prompts[prompt.item_id] = prompt

    for index, (line, row) in enumerate(_rows(path)):
        q = _question(path, index, line, row)
        if current and q.item_id != current[0].item_id:
            close()
            current = []
        if not current:
            if q.item_id in prompts:
                raise DataError(
                    f"{path} line {line}: the rows of item {q.item_id} are not consecutive "
                    f"(it already appeared at line {prompts[q.item_id].questions[0].line})"
                )
            text = row["text"]
        current.append(q)
    close()
    if not prompts:
        raise DataError(f"{path} has a header but no questions")
    return DpgQuestions(path=path, prompts=prompts)
