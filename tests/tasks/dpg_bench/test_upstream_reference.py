"""Our upstream mode against ELLA's own ``compute_dpg_bench.py``, run on the cases of ``fixtures.py``.

Provenance of ``UPSTREAM``: TencentQQGYLab/ELLA at 3c228f1dc6c4d3cad0a47493816151a419f14db3,
``dpg_bench/compute_dpg_bench.py`` (git blob aa2014bef0b7dd8e95e76693c0de7de65deba4dc), unmodified,
run outside the project on 2026-12-03 by ``make_upstream_reference.py`` (its docstring has the
command): ``main()`` with ``--pic-num 4 --resolution 8`` under Python 3.11.7, numpy 2.4.6, one CPU
process of accelerate 1.16.0, once with pandas 3.1.1 and once with pandas 2.2.3 (identical output).
ModelScope's VQA pipeline was replaced by a stub that reads the prompt and tile from the colour of
the crop upstream passes it (so upstream's own crops of our grids picked the answers) and returns
the fixture's answer; ``os.listdir`` was sorted. ``images`` are the lines of upstream's results file
(tile scores, then the prompt's mean), ``l1``/``l2``/``overall`` its printed tables, ``failed`` the
files it reported as ``Failed filename`` (dropped).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ming_eval.tasks.dpg_bench.questions import read_dpg_questions
from ming_eval.tasks.dpg_bench.scoring import score_dpg
from tests.tasks.dpg_bench.fixtures import SCENARIOS, Scenario, write_csv

UPSTREAM: dict[str, dict[str, Any]] = {
    "main": {
        "overall": 60.0,
        "images": {
            "12": [1.0, 0.25, 0.25, 0.75, 0.5625],
            "7": [0.16666666666666666, 1.0, 0.3333333333333333, 0.16666666666666666, 0.4166666666666667],
            "countbench3": [1.0, 0.25, 0.5, 0.0, 0.4375],
            "midjourney5": [1.0, 1.0, 1.0, 1.0, 1.0],
            "whoops2": [0.3333333333333333, 1.0, 0.3333333333333333, 0.6666666666666666, 0.5833333333333333],
        },
        "l1": {"attribute": 100.0, "entity": 70.0, "global": 50.0, "other": 100.0, "relation": 33.33333333333333},
        "l2": {
            "attribute - color": 100.0,
            "attribute - texture": 100.0,
            "entity - part": 100.0,
            "entity - state": 100.0,
            "entity - whole": 62.5,
            "global -": 50.0,
            "other - count": 100.0,
            "relation - non-spatial": 0.0,
            "relation - spatial": 50.0,
        },
        "failed": ["vrd4"],
    },
    "parent_first_dropped": {
        "overall": 62.5,
        "images": {"partiprompts7": [1.0, 0.5, 0.0, 1.0, 0.625]},
        "l1": {"attribute": 100.0, "entity": 100.0},
        "l2": {"attribute - color": 100.0, "entity - whole": 100.0},
        "failed": ["12"],
    },
    "parent_first_kept": {
        "overall": 43.75,
        "images": {
            "12": [0.3333333333333333, 0.0, 0.3333333333333333, 0.3333333333333333, 0.25],
            "partiprompts7": [1.0, 0.5, 0.0, 1.0, 0.625],
        },
        "l1": {"attribute": 100.0, "entity": 50.0, "global": 100.0, "relation": 0.0},
        "l2": {"attribute - color": 100.0, "entity - whole": 50.0, "global -": 100.0, "relation - spatial": 0.0},
        "failed": [],
    },
    "single_first": {
        "overall": 50.0,
        "images": {"b2": [1.0, 0.3333333333333333, 0.6666666666666666, 0.0, 0.5]},
        "l1": {"attribute": 100.0, "entity": 0.0, "relation": 100.0},
        "l2": {"attribute - color": 100.0, "entity - whole": 0.0, "relation - spatial": 100.0},
        "failed": ["a1"],
    },
}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_upstream_mode_reproduces_ellas_script_exactly(tmp_path: Path, scenario: Scenario) -> None:
    expected = UPSTREAM[scenario.name]
    questions = read_dpg_questions(write_csv(scenario.prompts, tmp_path / "dpg_bench.csv"))
    skip = set(scenario.missing) | set(scenario.corrupt)
    answers = {k: v for k, v in scenario.answers.items() if k not in skip}

    result = score_dpg(
        questions,
        answers,
        mode="upstream",
        unreadable={item: "not a PNG" for item in scenario.corrupt},
        allow_incomplete=True,
    )

    assert result.overall == expected["overall"]
    assert {k: [*p.tile_scores, p.score] for k, p in result.prompts.items()} == expected["images"]
    assert result.l1 == expected["l1"]
    assert result.l2 == expected["l2"]
    # upstream's "Failed filename" prompts are ours dropped by its own code, or unreadable
    assert sorted([*result.dropped, *result.unreadable]) == expected["failed"]
    # and a prompt without an image is silently absent from upstream's output, counted in ours
    assert set(result.missing) == set(scenario.missing)
