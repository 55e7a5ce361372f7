"""WISE's reply reading and arithmetic against upstream's own scripts, and the judge prompt.

Reference outputs were produced OUTSIDE the project by upstream's code at PKU-YuanGroup/WISE
eb51174483a5de2e34e8614cf9dfb3319ee7fcd0 (2026-12-03, Python 3.11):

* ``extract_scores`` of ``WISE_legacy/gpt_eval.py`` and of ``vllm_eval.py`` (the latter after the
  ``<think>`` clean-up of its ``_chat_completion_via_vllm``) on the replies below;
* ``WISE_legacy/Calculate.py`` and ``calculate_verified.py`` run as
  ``python Calculate.py culture.jsonl spatio_temporal.jsonl science.jsonl --category all`` on score
  files written from :func:`legacy_grades` / :func:`verified_grade` for every prompt id 1-1000 (the
  category averages and the overall read from ``main``'s locals, the printed line alongside);
* ``build_evaluation_messages`` of both scripts on prompt ids 1-3 (legacy) and 641-643 (Verified) of
  the pinned prompt files: sha256 of ``system text + "\\x00" + user text``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from ming_eval.cards.schema import GenerateProtocol
from ming_eval.core.results import SampleScore
from ming_eval.core.sample import GenerateRequest, Sample
from ming_eval.core.task import TaskContext
from ming_eval.data.files import DataFiles
from ming_eval.registry import get_task_card
from ming_eval.runner.plan import load_task
from ming_eval.tasks.vlm.protocol_source import PythonSource, SourceShapeError
from ming_eval.tasks.wise.protocol import (
    LEGACY,
    VERIFIED,
    clean_verified,
    read_judge_prompt,
    read_legacy,
    read_verified,
)
from ming_eval.tasks.wise.task import WiseTask
from tests.tasks.wise.helpers import STANDIN_SYSTEM, expected_request_text, write_standin_script

# (reply, what upstream's extract_scores returned)
LEGACY_REPLIES = [
    (
        "Consistency: 2\nRealism: 1\nAesthetic Quality: 0",
        {"consistency": 2.0, "realism": 1.0, "aesthetic_quality": 0.0},
    ),
    (
        "**Consistency**: 1\n**Realism**: 2\n**Aesthetic Quality**: 1",
        {"consistency": 1.0, "realism": 2.0, "aesthetic_quality": 1.0},
    ),
    ("consistency 2, realism 0, aesthetic quality 1", {"consistency": 2.0, "realism": 0.0, "aesthetic_quality": 1.0}),
    ("2\n1\n0", {"consistency": 2.0, "realism": 1.0, "aesthetic_quality": 0.0}),
    ("Scores:\n 1 \n2\n2\n0", {"consistency": 1.0, "realism": 2.0, "aesthetic_quality": 2.0}),
    ("Consistency: 2\nRealism: 1", {"consistency": 2.0, "realism": 1.0}),
    ("Consistency: 2\nRealism: 1\nAesthetic  Quality: 1", {"consistency": 2.0, "realism": 1.0}),
    (
        "Consistency: 1\nRealism: 1\nAesthetic Quality: 1\nOn reflection, Consistency: 0",
        {"consistency": 0.0, "realism": 1.0, "aesthetic_quality": 1.0},
    ),
    (
        "Consistency: 5\nRealism: 1\nAesthetic Quality: 0",
        {"consistency": 5.0, "realism": 1.0, "aesthetic_quality": 0.0},
    ),
    ("I cannot evaluate this image.", {}),
    ("Consistency - 2\nRealism - 1\nAesthetic Quality - 1", {}),
    ("2\n3\n1", {}),
]
VERIFIED_REPLIES = [
    ("Score: 1", {"score": 1.0}),
    ("**Score**: 0", {"score": 0.0}),
    ("score:1", {"score": 1.0}),
    ("<think>looks right</think>\nScore: 1", {"score": 1.0}),
    ("1", {"score": 1.0}),
    ("0\n1", {}),
    ("Score: 2", {}),
    ("The image is correct.", {}),
    ("Score: 1.", {"score": 1.0}),
    ("</think>\n0", {"score": 0.0}),
    ("Final score 1", {"score": 1.0}),
    ("Score: 10", {}),
]


@pytest.mark.parametrize(("reply", "upstream"), LEGACY_REPLIES)
def test_legacy_replies_are_read_as_upstream_reads_them(reply: str, upstream: dict[str, float]) -> None:
    assert read_legacy(reply) == upstream


@pytest.mark.parametrize(("reply", "upstream"), VERIFIED_REPLIES)
def test_verified_replies_are_read_as_upstream_reads_them(reply: str, upstream: dict[str, float]) -> None:
    assert read_verified(clean_verified(reply)) == upstream


def legacy_grades(pid: int) -> dict[str, float]:
    return {
        "consistency": float((pid // 50) % 3),
        "realism": float(pid % 3),
        "aesthetic_quality": float((pid // 3) % 3),
    }


def verified_grade(pid: int) -> float:
    return float((pid * 7) % 11 < pid // 200 + 2)


# Calculate.py / calculate_verified.py on those files: category averages and overall (main's locals)
UPSTREAM_LEGACY = {
    "culture": 0.45774999999999993,
    "time": 0.5362275449101797,
    "space": 0.45526315789473687,
    "biology": 0.498,
    "physics": 0.67,
    "chemistry": 0.33149999999999996,
    "wiscore": 0.48315,  # printed "Overall WiScore: 0.48"
}
UPSTREAM_VERIFIED = {
    "culture": 0.225,
    "time": 0.36666666666666664,
    "space": 0.4,
    "biology": 0.45,
    "physics": 0.5166666666666667,
    "chemistry": 0.5416666666666666,
    "wiscore": 0.363,  # printed "Overall WiScore: 0.36"
}


def _aggregate(name: str, grades: dict[int, dict[str, float]]) -> dict[str, float]:
    task = load_task(get_task_card(name), {})
    assert isinstance(task, WiseTask)
    samples, scores = [], []
    for pid, g in grades.items():
        category = task.version.category(pid)
        sample = Sample(str(pid), GenerateRequest("p", 1), target={}, meta={"category": category})
        samples.append(sample)
        scores.append(SampleScore(str(pid), task.version.wiscore(g), details={"grades": g, "judge": "j"}))
    ctx = TaskContext(protocol=GenerateProtocol(), data=DataFiles(name, []))
    result = task.aggregate(samples, scores, ctx)
    return {k: m.value for k, m in result.metrics.items()}


@pytest.mark.parametrize(
    ("name", "grades", "upstream"),
    [
        ("wise", {pid: legacy_grades(pid) for pid in range(1, 1001)}, UPSTREAM_LEGACY),
        ("wise_verified", {pid: {"score": verified_grade(pid)} for pid in range(1, 1001)}, UPSTREAM_VERIFIED),
    ],
)
def test_wiscore_categories_and_overall_equal_upstreams_calculation(name, grades, upstream) -> None:
    got = _aggregate(name, grades)
    for key, value in upstream.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


def test_overall_is_undefined_without_a_category_as_upstream_gives_none() -> None:
    grades = {pid: legacy_grades(pid) for pid in range(1, 901)}  # no chemistry prompt
    got = _aggregate("wise", grades)
    assert got["wiscore"] != got["wiscore"]  # NaN
    assert got["physics"] == pytest.approx(0.67)


def test_judge_prompt_is_read_from_the_script_not_carried(tmp_path: Path) -> None:
    prompt = read_judge_prompt(PythonSource(write_standin_script(tmp_path / "gpt_eval.py"), "stand-in"))
    assert prompt.system == STANDIN_SYSTEM
    assert prompt.render("a red fox", "it is red") == expected_request_text("a red fox", "it is red")


def test_a_script_of_another_shape_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "gpt_eval.py"
    path.write_text('def build_evaluation_messages(prompt_data, image_base64):\n    return [f"{prompt_data}"]\n')
    with pytest.raises(SourceShapeError, match=r"gpt_eval.py .*build_evaluation_messages\(\)"):
        read_judge_prompt(PythonSource(path, "somewhere"))


# -- the real, pinned scripts (where available: MING_EVAL_WISE_SRC or the user's ming-eval cache) ------
PINNED_DIGESTS = {
    "gpt_eval.py": (
        "cultural_common_sense.json",
        [
            "b1f0689c6cd8f0b1aad373a6cff706d3870cc11c43ce9a92c573198e79348703",
            "ed3655f51ced8860426653e52ab792378ac8b210c7b02403ccca84d0fadc7620",
            "191b0bf99b501cda428f8736852c2bde94501085151941fbbd61c42944a73b26",
        ],
    ),
    "vllm_eval.py": (
        "natural_science_verified.json",
        [
            "965e6d1846126ed7fb77a26f2c2c05de09a2d54dfce7768f89afe9e18f39bd95",
            "75c77505143625a34535dba79c8713df7f6c2ad8b7d99ad2db271f750eefe0e6",
            "3b3a5d492145cf184e7b3e78d5025946e213272bcade6a436e7a6352da4e047d",
        ],
    ),
}
_SRC = os.environ.get("MING_EVAL_WISE_SRC")


@pytest.mark.parametrize("script", sorted(PINNED_DIGESTS))
def test_pinned_scripts_give_upstreams_prompts_byte_for_byte(script: str) -> None:
    data_file, digests = PINNED_DIGESTS[script]
    folder = Path(_SRC) if _SRC else None
    if folder is None or not (folder / script).is_file() or not (folder / data_file).is_file():
        pytest.skip(f"set MING_EVAL_WISE_SRC to a folder holding the pinned {script} and {data_file}")
    card = get_task_card("wise" if script == "gpt_eval.py" else "wise_verified")
    specs = [s for s in card.data if s.name in (script, data_file)]
    files = DataFiles(card.name, specs, overrides={script: folder / script, data_file: folder / data_file})
    prompt = read_judge_prompt(PythonSource(files.path(script), "pinned"))
    rows = json.loads(files.path(data_file).read_text(encoding="utf-8"))[:3]
    got = [
        hashlib.sha256((prompt.system + "\x00" + prompt.render(r["Prompt"], r["Explanation"])).encode()).hexdigest()
        for r in rows
    ]
    assert got == digests
    assert LEGACY.max_tokens == 2000 and VERIFIED.max_tokens == 500


def test_more_than_one_image_per_prompt_is_refused_before_anything_runs() -> None:
    task = load_task(get_task_card("wise"), {})
    assert task.check_protocol(GenerateProtocol()) == []
    (problem,) = task.check_protocol(GenerateProtocol(images_per_prompt=4))
    assert "one image per prompt" in problem and "images_per_prompt 4" in problem


def test_a_prompt_file_with_an_unknown_or_repeated_id_is_refused_naming_it(tmp_path: Path) -> None:
    from ming_eval.errors import DataError
    from ming_eval.testing.fixtures.wise import write_prompts

    files = write_prompts(tmp_path, VERIFIED, [1, 401, 641], "_verified")
    task = load_task(get_task_card("wise_verified"), {"prompt_set": "custom", "prompts_dir": str(tmp_path)})
    ctx = TaskContext(protocol=GenerateProtocol(), data=DataFiles(task.name, []))
    assert [s.id for s in task.samples(ctx)] == ["1", "401", "641"]
    path = files["natural_science_verified.json"]
    rows = json.loads(path.read_text())
    path.write_text(json.dumps([*rows, {**rows[0], "prompt_id": 1001}]))
    with pytest.raises(
        DataError, match=r"natural_science_verified.json: prompt_id 1001 is not a prompt id of WISE verified"
    ):
        task.samples(ctx)
    path.write_text(json.dumps([*rows, rows[0]]))
    with pytest.raises(DataError, match="prompt_id 641 appears twice"):
        task.samples(ctx)


def test_another_judge_makes_the_result_not_comparable_and_says_so() -> None:
    samples = [Sample(str(p), GenerateRequest("p", 1), target={}, meta={}) for p in (1, 401, 568, 701, 801, 901)]
    ctx = TaskContext(protocol=GenerateProtocol(), data=DataFiles("wise", []))
    for judge, comparable in (({"model": "gpt-4o-2024-05-13"}, True), ({"model": "gpt-4.1"}, False)):
        task = load_task(get_task_card("wise"), {"judge": judge})
        assert isinstance(task, WiseTask)
        for s in samples:
            s.meta["category"] = task.version.category(int(s.id))
        grades = {"consistency": 1.0, "realism": 1.0, "aesthetic_quality": 1.0}  # WiScore 0.5
        details = {"judge": f"endpoint:{judge['model']}@x", "grades": grades}
        scores = [SampleScore(s.id, 0.5, details=details) for s in samples]
        result = task.aggregate(samples, scores, ctx)
        assert result.comparable is comparable
        assert result.notes[0] == f"WISE: judged by endpoint:{judge['model']}@x"
        assert any("not the protocol's gpt-4o-2024-05-13" in n for n in result.notes) is not comparable
