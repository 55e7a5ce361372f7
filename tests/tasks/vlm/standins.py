"""Stand-ins for the VLMEvalKit source files the judge prompts are read from, for tests without them.

Each stand-in has what ``ming_eval.tasks.vlm.judge_prompts`` reads (the same function and variable
names, ``str.format`` fields, f-string fields and unnamed literals in the same order) and made-up
wording of this project's: no upstream text. They are real, runnable Python, so tests can check that
the prompts assembled from a stand-in equal what the stand-in's own functions build.

The real files are pinned by the task cards; ``pinned_sources`` finds them where they are available
(ming-eval's cache, or a VLMEvalKit checkout at the pinned commit named by ``$MING_EVAL_VLMEVALKIT_SRC``).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

from ming_eval.cards.schema import DataFile
from ming_eval.data.files import cache_root, file_digest

MMVET_MARKER = "STAND-IN GRADER"

STANDINS: dict[str, str] = {
    "multiple_choice.py": '''"""Stand-in: option matching (made-up wording)."""


def build_prompt(question, options, prediction):
    tmpl = (
        'STAND-IN MATCHER. Map the reply to one listed option, or say none.\\n'
        '<question>{}?</question>\\n<options>{}</options>\\n<reply>{}</reply>\\nmapped to: '
    )
    return tmpl.format(question, options, prediction)


def build_prompt_cn(question, options, prediction):
    tmpl = '替身匹配。<问题>{}?</问题>\\n<选项>{}</选项>\\n<回答>{}</回答>\\n对应: '
    return tmpl.format(question, options, prediction)
''',
    "vlm.py": '''"""Stand-in: how options are listed."""


def build_option_str(option_dict):
    s = 'options on offer:\\n'
    for c, content in option_dict.items():
        s += f'({c}) {content};\\n'
    return s
''',
    "yorn.py": '''"""Stand-in: binary matching (made-up wording)."""


def YOrN_match_prompt(line):
    tmpl = 'STAND-IN BINARY MATCHER, one word back.\\n<question>{}?</question>\\n<reply>{}</reply>\\nverdict: '
    return tmpl.format(line['question'], line['prediction'])
''',
    "mathvista.py": '''"""Stand-in: answer extraction (made-up wording and examples)."""


def get_gpt4_ICE():
    example_1 = """
cue: a whole number
ask: how many sides has a triangle?
reply: it has 3 sides.
pulled: 3
"""
    example_2 = """
cue: a letter
ask: which shape is round? (a) square (b) circle
reply: the round one is (b).
pulled: b
"""
    return [example_1, example_2]


def build_mathvista_gpt4_prompt(line):
    task_description = """
STAND-IN EXTRACTOR. Pull the final answer out of the reply.
"""
    text = task_description
    for example in get_gpt4_ICE():
        text += example + '\\n~\\n'
    return text + line['question'] + '\\n' + '[reply] ' + str(line['prediction']) + ' [pulled]'
''',
    "mmvet.py": f'''"""Stand-in: grading (made-up wording and table)."""


def build_mmvet_gpt4_prompt(line):
    prompt = """
{MMVET_MARKER}. Grade the reply from 0.0 to 1.0; [and] needs every part, [or] any one part.
ask || gold || reply || grade
two plus two? || 4 || four || 1.0
"""
    head, glue = prompt + '\\n>> ', ' || '
    gold = str(line['answer']).replace('<AND>', ' [and] ').replace('<OR>', ' [or] ')
    return head + glue.join([line['question'], gold, str(line['prediction']), '?'])
''',
}


def write_standins(folder: Path, names: tuple[str, ...] | None = None) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names or tuple(STANDINS):
        path = folder / name
        path.write_text(STANDINS[name], encoding="utf-8")
        out[name] = path
    return out


def accept(specs: list[DataFile], sources: Mapping[str, Path]) -> list[DataFile]:
    """The task's data files with the given source files' checksums in place of the card's."""
    return [
        s.model_copy(update={"sha256": file_digest(sources[s.name], "sha256"), "md5": None}) if s.name in sources else s
        for s in specs
    ]


def load_module(path: Path) -> ModuleType:
    """Import a stand-in (ours, never an upstream file) to call its builders."""
    spec = importlib.util.spec_from_file_location(f"standin_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the real, pinned files ----------------------------------------------------------------------------

SRC_ENV = "MING_EVAL_VLMEVALKIT_SRC"
# the user's cache, read when this module is imported (the tests' fixtures point MING_EVAL_CACHE elsewhere)
USER_CACHE = cache_root()


def pinned_specs() -> dict[str, DataFile]:
    """The optional (prompt source) data files of the understanding task cards, by name; they must agree."""
    from ming_eval.registry import get_task_card

    out: dict[str, DataFile] = {}
    for task in ("mmstar", "hallusionbench", "mathvista_mini", "mmvet"):
        for spec in get_task_card(task).data:
            if not spec.required:
                out[spec.name] = spec
    return out


def pinned_sources() -> tuple[dict[str, Path], str]:
    """The real prompt sources and where they were found, or ({}, why not)."""
    specs = pinned_specs()
    checkout = os.environ.get(SRC_ENV)
    found: dict[str, Path] = {}
    for name, spec in specs.items():
        assert spec.url is not None and spec.sha256 is not None
        candidates = []
        if checkout:
            candidates.append(Path(checkout) / "vlmeval" / spec.url.split("/vlmeval/", 1)[1])
        candidates += sorted((USER_CACHE / "data").glob(f"*/{name}"))
        for path in candidates:
            if path.is_file() and file_digest(path, "sha256") == spec.sha256:
                found[name] = path
                break
        else:
            where = (
                f"${SRC_ENV}={checkout}"
                if checkout
                else f"{USER_CACHE / 'data'} (set ${SRC_ENV} to a VLMEvalKit checkout at the pinned commit, or run "
                "`ming-eval data download mmstar hallusionbench mathvista_mini mmvet`)"
            )
            return {}, f"no copy of {name} with the pinned sha256 {spec.sha256[:12]}... in {where}"
    return found, "found"
