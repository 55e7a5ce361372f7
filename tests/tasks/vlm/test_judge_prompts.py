"""Judge prompts assembled from prompt sources: the stand-ins here (VLMEvalKit's own files in
test_judge_prompts_pinned.py), the cards that pin the real files, and what happens without them."""

import re

import pytest

from ming_eval.cards.schema import DataFile
from ming_eval.data.files import DataFiles
from ming_eval.errors import ChecksumError, DataError
from ming_eval.registry import get_task_card
from ming_eval.tasks.vlm.judge_prompts import (
    MATHVISTA_SOURCE,
    MCQ_SOURCE,
    MMVET_SOURCE,
    OPTIONS_SOURCE,
    YES_NO_SOURCE,
    MathVistaJudgePrompt,
    McqJudgePrompt,
    MMVetJudgePrompt,
    YesNoJudgePrompt,
    open_source,
)
from ming_eval.tasks.vlm.protocol_source import PythonSource, SourceShapeError
from ming_eval.testing.fixtures.vlm import make_mathvista, make_mcq, make_mmvet
from tests.fakes.openai_server import FakeOpenAI
from tests.tasks.vlm.helpers import load
from tests.tasks.vlm.standins import STANDINS, accept, load_module, pinned_specs, write_standins

PINNED_COMMIT = "e8e78f05f3080fe28154f2130321f17951c3be94"
SOURCES_OF = {
    "McqTask": (MCQ_SOURCE, OPTIONS_SOURCE),
    "MmmuTask": (MCQ_SOURCE, OPTIONS_SOURCE),
    "HallusionBenchTask": (YES_NO_SOURCE,),
    "MathVistaTask": (MATHVISTA_SOURCE,),
    "MMVetTask": (MMVET_SOURCE,),
    "OCRBenchTask": (),
}
UNDERSTANDING = [
    "mmbench_dev_en",
    "mmbench_dev_cn",
    "mmbench_test_en",
    "mmbench_test_cn",
    "mmbench_dev_en_v11",
    "mmbench_dev_cn_v11",
    "mmbench_test_en_v11",
    "mmbench_test_cn_v11",
    "mmstar",
    "ai2d_test",
    "mmmu_dev_val",
    "hallusionbench",
    "mathvista_mini",
    "mmvet",
    "ocrbench",
]


@pytest.fixture()
def standins(tmp_path):
    paths = write_standins(tmp_path / "src")
    return {name: PythonSource(path, f"stand-in {name}") for name, path in paths.items()}, paths


QUESTIONS = ["Which colour fills image 3?", "图中主要是什么颜色?", "Odd {braces} and {} and \\n?"]


def test_mcq_prompt_is_what_the_source_builds(standins):
    sources, paths = standins
    prompt = McqJudgePrompt.read(sources[MCQ_SOURCE], sources[OPTIONS_SOURCE])
    mc, smp = load_module(paths[MCQ_SOURCE]), load_module(paths[OPTIONS_SOURCE])
    choices = {"A": "red", "B": "a {b}", "C": "蓝色"}
    for question in QUESTIONS:
        for answer in ("B", "I think {0} it's red", ""):
            options = smp.build_option_str(choices)
            builder = mc.build_prompt_cn if re.search("[\u4e00-\u9fff]", question) else mc.build_prompt
            assert prompt.build(question, choices, answer) == builder(question, options, answer)
    assert "替身匹配" in prompt.build(QUESTIONS[1], choices, "x")  # Chinese questions get the Chinese template


def test_yes_no_prompt_is_what_the_source_builds(standins):
    sources, paths = standins
    prompt = YesNoJudgePrompt.read(sources[YES_NO_SOURCE])
    module = load_module(paths[YES_NO_SOURCE])
    for question in QUESTIONS:
        assert prompt.build(question, "Yes and no") == module.YOrN_match_prompt(
            {"question": question, "prediction": "Yes and no"}
        )


def test_mathvista_prompt_is_what_the_source_builds(standins):
    sources, paths = standins
    prompt = MathVistaJudgePrompt.read(sources[MATHVISTA_SOURCE])
    module = load_module(paths[MATHVISTA_SOURCE])
    assert len(prompt.examples) == 2  # as many as the source returns
    for question in QUESTIONS:
        line = {"question": question, "prediction": "The answer is 14."}
        assert prompt.build(question, line["prediction"]) == module.build_mathvista_gpt4_prompt(line)


def test_mmvet_prompt_is_what_the_source_builds(standins):
    sources, paths = standins
    prompt = MMVetJudgePrompt.read(sources[MMVET_SOURCE])
    module = load_module(paths[MMVET_SOURCE])
    for answer in ("red", "red<OR>reddish", "a<AND>b<AND>c"):
        line = {"question": QUESTIONS[0], "answer": answer, "prediction": "red | ish"}
        assert prompt.build(QUESTIONS[0], answer, line["prediction"]) == module.build_mmvet_gpt4_prompt(line)


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        (MCQ_SOURCE, "def build_prompt_cn", "def build_prompt_zh", "function build_prompt_cn(): not defined"),
        (MCQ_SOURCE, "<reply>{}</reply>", "<reply></reply>", "build_prompt(): tmpl: format fields fill 2 of the 3"),
        (
            OPTIONS_SOURCE,
            "f'({c}) {content};\\n'",
            "f'({k}) {content};\\n'",
            "build_option_str(): option line: expected an f-string with fields c, content; found ('k', 'content')",
        ),
        (YES_NO_SOURCE, "tmpl = ", "template = ", "YOrN_match_prompt(): tmpl: no assignment"),
        (MATHVISTA_SOURCE, " + ' [pulled]'", "", "build_mathvista_gpt4_prompt(): expected 4 unnamed string literals"),
        (
            MATHVISTA_SOURCE,
            "return [example_1, example_2]",
            "return example_1",
            "get_gpt4_ICE(): return: expected a single `return [...]`",
        ),
        (MMVET_SOURCE, "'\\n>> '", "f'\\n>> {head}'", "build_mmvet_gpt4_prompt(): literal 1: expected a plain string"),
    ],
)
def test_a_source_of_another_shape_is_refused_clearly(tmp_path, name, old, new, message):
    paths = write_standins(tmp_path / "ok")
    assert old in STANDINS[name]
    (tmp_path / name).write_text(STANDINS[name].replace(old, new))
    paths[name] = tmp_path / name
    src = {n: PythonSource(p, f"https://example.invalid/{PINNED_COMMIT}/{n}") for n, p in paths.items()}
    read = {
        MCQ_SOURCE: lambda: McqJudgePrompt.read(src[MCQ_SOURCE], src[OPTIONS_SOURCE]),
        OPTIONS_SOURCE: lambda: McqJudgePrompt.read(src[MCQ_SOURCE], src[OPTIONS_SOURCE]),
        YES_NO_SOURCE: lambda: YesNoJudgePrompt.read(src[YES_NO_SOURCE]),
        MATHVISTA_SOURCE: lambda: MathVistaJudgePrompt.read(src[MATHVISTA_SOURCE]),
        MMVET_SOURCE: lambda: MMVetJudgePrompt.read(src[MMVET_SOURCE]),
    }[name]
    with pytest.raises(SourceShapeError) as err:
        read()
    assert message in str(err.value) and PINNED_COMMIT in str(err.value) and name in str(err.value)


def test_open_source_offline_says_how_to_prefetch(tmp_path):
    spec = DataFile(
        name=YES_NO_SOURCE, url=f"https://example.invalid/{PINNED_COMMIT}/yorn.py", sha256="0" * 64, required=False
    )
    files = DataFiles("hallusionbench", [spec], cache_dir=tmp_path / "cache")
    with pytest.raises(DataError) as err:  # the tests run with MING_EVAL_OFFLINE=1
        open_source(files, YES_NO_SOURCE)
    text = str(err.value)
    assert "hallusionbench asks a judge" in text and "yorn.py" in text and "offline mode is on" in text
    assert "ming-eval data download hallusionbench" in text and "-o hallusionbench.judge=null" in text


def test_open_source_with_another_checksum_is_refused(tmp_path):
    path = write_standins(tmp_path, (YES_NO_SOURCE,))[YES_NO_SOURCE]
    spec = DataFile(name=YES_NO_SOURCE, url="https://example.invalid/yorn.py", sha256="0" * 64, required=False)
    files = DataFiles("hallusionbench", [spec], overrides={YES_NO_SOURCE: path})
    with pytest.raises(ChecksumError, match="sha256 mismatch"):
        open_source(files, YES_NO_SOURCE)
    assert (
        open_source(
            DataFiles("hallusionbench", accept([spec], {YES_NO_SOURCE: path}), overrides={YES_NO_SOURCE: path}),
            YES_NO_SOURCE,
        ).path
        == path
    )


@pytest.mark.parametrize("task", UNDERSTANDING)
def test_cards_pin_the_sources_their_scorer_reads(task):
    card = get_task_card(task)
    optional = {f.name: f for f in card.data if not f.required}
    assert set(optional) == set(SOURCES_OF[card.class_.rsplit(":", 1)[1]])
    for name, spec in optional.items():
        assert spec.url is not None and spec.sha256 is not None and spec.url.endswith(f"/{name}")
        assert spec.url.startswith(
            f"https://raw.githubusercontent.com/open-compass/VLMEvalKit/{PINNED_COMMIT}/vlmeval/"
        )
        assert spec == pinned_specs()[name]  # every card pins the same file, the same way


@pytest.mark.parametrize(
    ("task", "make", "options"),
    [
        ("mmstar", make_mcq, {}),
        ("mmstar", make_mcq, {"judge": "exact_matching"}),
        ("mathvista_mini", make_mathvista, {}),
        ("mmvet", make_mmvet, {}),
    ],
)
def test_without_a_judge_no_source_is_needed(tmp_path, task, make, options):
    scorer_task, _, ctx = load(task, tmp_path, make, sources={}, **options)
    scorer = scorer_task.scorer(ctx)  # offline, nothing cached: it must not try to read a source
    scorer.close()


def test_with_a_judge_a_missing_source_fails_the_scorer(tmp_path, monkeypatch):
    with FakeOpenAI(lambda p, b: "A") as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
        task, _, ctx = load("mmstar", tmp_path, make_mcq, sources={}, judge_cache_dir=str(tmp_path / "c"))
        with pytest.raises(DataError, match=r"(?s)mmstar asks a judge.*ming-eval data download mmstar"):
            task.scorer(ctx)
        assert fake.bodies == []
