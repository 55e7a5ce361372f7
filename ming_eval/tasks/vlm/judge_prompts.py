"""The judge prompts of the OpenCompass protocol, assembled from VLMEvalKit's own source files.

A judge's verdict depends on every character of its prompt, so the prompts must be VLMEvalKit's byte
for byte. Their text is not part of ming-eval. Each task card pins the VLMEvalKit files that hold it
(``multiple_choice.py`` and ``smp/vlm.py`` for option matching, ``yorn.py`` for yes/no matching,
``mathvista.py`` for MathVista's answer extraction, ``mmvet.py`` for MM-Vet's grading) as optional data
files: fetched and verified the first time a judge is used, or ahead of time by ``ming-eval data
download TASK``. :mod:`~ming_eval.tasks.vlm.protocol_source` reads the literals out of the verified
file without running it. What is this project's is only the assembly below: which pieces, in what
order, with which values.

``tests/tasks/vlm/test_judge_prompts_pinned.py`` checks the assembled prompts against digests of the
prompts VLMEvalKit builds itself, wherever the pinned files are available.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ming_eval.errors import ChecksumError, DataError
from ming_eval.tasks.vlm.extraction import has_cjk
from ming_eval.tasks.vlm.protocol_source import PythonSource, Template

if TYPE_CHECKING:
    from ming_eval.data.files import DataFiles

#: data-file names (in the task cards) of the VLMEvalKit sources the prompts are read from
MCQ_SOURCE = "multiple_choice.py"  # vlmeval/dataset/utils/multiple_choice.py
OPTIONS_SOURCE = "vlm.py"  # vlmeval/smp/vlm.py (how options are listed for the judge)
YES_NO_SOURCE = "yorn.py"  # vlmeval/dataset/utils/yorn.py
MATHVISTA_SOURCE = "mathvista.py"  # vlmeval/dataset/utils/mathvista.py
MMVET_SOURCE = "mmvet.py"  # vlmeval/dataset/utils/mmvet.py


def open_source(data: DataFiles, name: str) -> PythonSource:
    """The verified local copy of a prompt source, fetched if needed; a clear error if it cannot be had."""
    spec = data.spec(name)
    try:
        path = data.path(name)
    except ChecksumError:
        raise
    except DataError as exc:
        raise DataError(
            f"task {data.task} asks a judge, whose prompt is read from VLMEvalKit's {name}, which is not "
            f"available: {exc.message}",
            hint=f"run `ming-eval data download {data.task}` on a machine with internet and copy the cache "
            f"({data.cache_dir}) here, or pass --data {name}=PATH (the file is checked against the card's sha256); "
            f"without a judge, -o {data.task}.judge=null scores what needs no judge",
        ) from exc
    return PythonSource(path, spec.url or str(path))


def _template(source: PythonSource, symbol: str, value: object, fields: tuple[str, ...]) -> Template:
    if not isinstance(value, Template) or sorted(value.fields) != sorted(fields):
        found = value.fields if isinstance(value, Template) else "plain text"
        raise source.error(symbol, f"expected an f-string with fields {', '.join(fields)}; found {found}")
    return value


def _texts(source: PythonSource, function: str, values: list[str | Template]) -> list[str]:
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise source.error(f"{function}(): literal {i + 1}", "expected a plain string, found an f-string")
    return [v for v in values if isinstance(v, str)]


@dataclass(frozen=True)
class McqJudgePrompt:
    """Option matching (MMBench, MMStar, AI2D, MMMU): the English or Chinese template (Chinese when the
    question has CJK characters, as VLMEvalKit picks it), filled with the question, the options listed as
    VLMEvalKit lists them for the judge (a header line, then one line per option) and the answer."""

    english: Template
    chinese: Template
    options_header: str
    option_line: Template

    @classmethod
    def read(cls, matching: PythonSource, listing: PythonSource) -> McqJudgePrompt:
        fields = ("question", "options", "prediction")
        (line,) = listing.unnamed("build_option_str", 1)
        return cls(
            english=matching.format_template("build_prompt", "tmpl", fields),
            chinese=matching.format_template("build_prompt_cn", "tmpl", fields),
            options_header=listing.assigned_text("build_option_str", "s"),
            option_line=_template(listing, "build_option_str(): option line", line, ("c", "content")),
        )

    @classmethod
    def load(cls, data: DataFiles) -> McqJudgePrompt:
        return cls.read(open_source(data, MCQ_SOURCE), open_source(data, OPTIONS_SOURCE))

    def build(self, question: str, choices: Mapping[str, str], prediction: str) -> str:
        options = self.options_header + "".join(
            self.option_line.render({"c": letter, "content": text}) for letter, text in choices.items()
        )
        template = self.chinese if has_cjk(question) else self.english
        return template.render({"question": question, "options": options, "prediction": prediction})


@dataclass(frozen=True)
class YesNoJudgePrompt:
    """Yes/no matching (HallusionBench): one template, filled with the question and the answer."""

    template: Template

    @classmethod
    def read(cls, source: PythonSource) -> YesNoJudgePrompt:
        return cls(source.format_template("YOrN_match_prompt", "tmpl", ("question", "prediction")))

    @classmethod
    def load(cls, data: DataFiles) -> YesNoJudgePrompt:
        return cls.read(open_source(data, YES_NO_SOURCE))

    def build(self, question: str, prediction: str) -> str:
        return self.template.render({"question": question, "prediction": prediction})


@dataclass(frozen=True)
class MathVistaJudgePrompt:
    """MathVista's answer extraction: the task description, each in-context example followed by a
    separator, the question and a separator, then the response after its label, then the answer label.
    (VLMEvalKit puts no line break between the response and the answer label; kept as it is.)"""

    description: str
    examples: tuple[str, ...]
    after_example: str
    after_question: str
    response_label: str
    answer_label: str

    @classmethod
    def read(cls, source: PythonSource) -> MathVistaJudgePrompt:
        function = "build_mathvista_gpt4_prompt"
        # in source order: the example separator, the question separator, the two labels
        after_example, after_question, response_label, answer_label = _texts(
            source, function, source.unnamed(function, 4)
        )
        return cls(
            description=source.assigned_text(function, "task_description"),
            examples=tuple(_texts(source, "get_gpt4_ICE", source.returned_list("get_gpt4_ICE"))),
            after_example=after_example,
            after_question=after_question,
            response_label=response_label,
            answer_label=answer_label,
        )

    @classmethod
    def load(cls, data: DataFiles) -> MathVistaJudgePrompt:
        return cls.read(open_source(data, MATHVISTA_SOURCE))

    def build(self, question: str, prediction: str) -> str:
        examples = "".join(example + self.after_example for example in self.examples)
        return (
            self.description
            + examples
            + question
            + self.after_question
            + self.response_label
            + prediction
            + self.answer_label
        )


@dataclass(frozen=True)
class MMVetJudgePrompt:
    """MM-Vet's grading: the few-shot table, a separator, then the row to complete: question, ground
    truth (its AND / OR markers padded as VLMEvalKit pads them), prediction and an empty last cell,
    joined by the column separator."""

    table: str
    separator: str
    column_separator: str
    and_marker: str
    and_padded: str
    or_marker: str
    or_padded: str
    last_cell: str

    @classmethod
    def read(cls, source: PythonSource) -> MMVetJudgePrompt:
        function = "build_mmvet_gpt4_prompt"
        # in source order: separator, column separator, the two marker replacements, the empty last cell
        sep, column_sep, and_marker, and_padded, or_marker, or_padded, last = _texts(
            source, function, source.unnamed(function, 7)
        )
        return cls(
            table=source.assigned_text(function, "prompt"),
            separator=sep,
            column_separator=column_sep,
            and_marker=and_marker,
            and_padded=and_padded,
            or_marker=or_marker,
            or_padded=or_padded,
            last_cell=last,
        )

    @classmethod
    def load(cls, data: DataFiles) -> MMVetJudgePrompt:
        return cls.read(open_source(data, MMVET_SOURCE))

    def build(self, question: str, answer: str, prediction: str) -> str:
        gold = answer.replace(self.and_marker, self.and_padded).replace(self.or_marker, self.or_padded)
        return self.table + self.separator + self.column_separator.join([question, gold, prediction, self.last_cell])
