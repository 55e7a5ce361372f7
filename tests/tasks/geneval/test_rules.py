"""GenEval's rules on hand-built detections, and against GenEval's own decisions on the same inputs.

``fixtures/upstream_rules.json`` holds cases made by ``make_rule_cases.py`` together with the verdicts
GenEval's unmodified ``evaluate_image`` gave on them (numpy 1.23.5, the version its environment pins;
see the fixture's ``about`` and ``fixtures/README.md``).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import numpy as np
import pytest

from ming_eval.errors import DataError
from ming_eval.tasks.geneval.detection import Detections
from ming_eval.tasks.geneval.metadata import PromptMeta, parse_line
from ming_eval.tasks.geneval.rules import (
    RuleOptions,
    color_requests,
    details_of,
    evaluate,
    relative_position,
    select_objects,
)
from ming_eval.tasks.geneval.upstream import normalise_reason
from tests.tasks.geneval.helpers import FIXTURES, detections

RULES = RuleOptions()
F32 = np.float32


def meta(tag: str, include: list[dict[str, Any]], exclude: list[dict[str, Any]] | None = None) -> PromptMeta:
    raw: dict[str, Any] = {"tag": tag, "include": include, "prompt": "p"}
    if exclude:
        raw["exclude"] = exclude
    return parse_line(raw, 0, "test")


def judge(
    m: PromptMeta, dets: Detections, colors: dict[int, list[str | None]] | None = None, rules: RuleOptions = RULES
) -> tuple[bool, str]:
    objects = select_objects(dets, m.tag, rules)
    return evaluate(m, objects, colors or {}, rules)


SINGLE = meta("single_object", [{"class": "dog", "count": 1}])
BOX = (10.0, 10.0, 50.0, 50.0)


# -- thresholds and selection -------------------------------------------------------------------
def test_threshold_is_strict_and_float32():
    assert judge(SINGLE, detections([("dog", BOX, 0.31)])) == (True, "")
    # float32(0.3) is 0.30000001192...: above 0.3 in float64, not above it in float32 (as upstream)
    assert judge(SINGLE, detections([("dog", BOX, F32(0.3))])) == (False, "expected dog>=1, found 0")
    assert judge(SINGLE, detections([("dog", BOX, np.nextafter(F32(0.3), F32(1)))]))[0]
    assert judge(SINGLE, detections([("cat", BOX, 0.99)])) == (False, "expected dog>=1, found 0")
    assert judge(SINGLE, detections([])) == (False, "expected dog>=1, found 0")


def test_selection_orders_caps_and_keeps_class_order():
    rows = [("dog", (i, 0, i + 5, 5), 0.4 + i / 100) for i in range(20)] + [("cat", BOX, 0.9), ("dog", BOX, 0.1)]
    objects = select_objects(detections(rows), "single_object", RULES)
    assert list(objects) == ["cat", "dog"]  # object_names.txt order: cat (15) before dog (16)
    assert len(objects["dog"]) == 16
    scores = [o.score for o in objects["dog"]]
    assert scores == sorted(scores, reverse=True) and scores[0] == pytest.approx(0.59)
    assert objects["dog"][0].source_index == 19
    assert details_of(objects)["cat"] == [[10.0, 10.0, 50.0, 50.0, float(F32(0.9))]]


def test_equal_scores_later_detection_first():
    rows = [("dog", (0, 0, 1, 1), 0.5), ("dog", (2, 2, 3, 3), 0.5), ("dog", (4, 4, 5, 5), 0.7)]
    objects = select_objects(detections(rows), "single_object", RULES)
    assert [o.source_index for o in objects["dog"]] == [2, 1, 0]


def test_labels_out_of_range_are_refused():
    bad = Detections(np.zeros((1, 4), np.float32), np.ones(1, np.float32), np.asarray([80]))
    with pytest.raises(ValueError, match=r"outside 0\.\.79"):
        select_objects(bad, "single_object", RULES)


def test_nms_only_below_one():
    rows = [("clock", (0, 0, 100, 100), 0.95), ("clock", (5, 5, 100, 100), 0.94), ("clock", (200, 0, 300, 90), 0.93)]
    assert len(select_objects(detections(rows), "counting", RULES)["clock"]) == 3
    nms = RuleOptions(max_overlap=0.5)
    assert [o.source_index for o in select_objects(detections(rows), "counting", nms)["clock"]] == [0, 2]


# -- counting ----------------------------------------------------------------------------------------
COUNT2 = meta("counting", [{"class": "clock", "count": 2}], [{"class": "clock", "count": 3}])


def clocks(*scores: float) -> Detections:
    return detections([("clock", (i * 20, 0, i * 20 + 10, 10), s) for i, s in enumerate(scores)])


def test_counting_uses_the_0_9_threshold_and_the_exclude_clause():
    assert judge(COUNT2, clocks(0.95, 0.92, 0.85)) == (True, "")  # the 0.85 one does not count
    assert judge(COUNT2, clocks(0.95, 0.92, 0.91)) == (False, "expected clock<3, found 3")
    assert judge(COUNT2, clocks(0.95, F32(0.9))) == (False, "expected clock>=2, found 1")
    assert judge(COUNT2, clocks(0.95)) == (False, "expected clock>=2, found 1")
    # the first release of GenEval counted at 0.3
    assert judge(COUNT2, clocks(0.95, 0.5), rules=RuleOptions(counting_threshold=0.3)) == (True, "")


def test_counting_cap_of_16_objects():
    many = clocks(*([0.95] * 20))
    assert judge(COUNT2, many) == (False, "expected clock<3, found 16")
    four = meta("counting", [{"class": "clock", "count": 4}], [{"class": "clock", "count": 5}])
    assert judge(four, many, rules=RuleOptions(max_objects=3)) == (False, "expected clock>=4, found 3")


# -- two objects, colours ------------------------------------------------------------------------------
def test_two_objects_all_reasons():
    two = meta("two_object", [{"class": "dog", "count": 1}, {"class": "cat", "count": 1}])
    assert judge(two, detections([("dog", BOX, 0.5), ("cat", BOX, 0.5)])) == (True, "")
    assert judge(two, detections([])) == (False, "expected dog>=1, found 0\nexpected cat>=1, found 0")


def test_colour_requests_and_tally():
    m = meta(
        "color_attr", [{"class": "car", "count": 1, "color": "red"}, {"class": "bus", "count": 1, "color": "white"}]
    )
    dets = detections([("car", BOX, 0.8), ("car", (60, 60, 90, 90), 0.7), ("bus", BOX, 0.2)])
    objects = select_objects(dets, m.tag, RULES)
    reqs = color_requests(m, objects)
    assert [(r.group, r.cls, len(r.objects)) for r in reqs] == [(0, "car", 1)]  # the bus was not found
    ok, reason = evaluate(m, objects, {0: ["pink"]}, RULES)
    assert not ok
    assert reason == "expected red car>=1, found 0 red; and 1 pink\nexpected bus>=1, found 0"
    ok, reason = evaluate(m, objects, {0: [None]}, RULES)  # an empty crop cannot be red
    assert reason.startswith("expected red car>=1, found 0 red; and \n")


# -- position --------------------------------------------------------------------------------------------
def test_relative_position_basics():
    a = np.asarray([300, 200, 400, 300], np.float32)
    b = np.asarray([0, 200, 100, 300], np.float32)
    assert relative_position(a, b, 0.1) == ("right of",)
    assert relative_position(b, a, 0.1) == ("left of",)
    assert relative_position(
        np.asarray([0, 0, 10, 10], np.float32), np.asarray([300, 300, 310, 310], np.float32), 0.1
    ) == ("left of", "above")
    assert relative_position(a, a, 0.1) == ()  # same place: no relation, no division by zero
    # overlapping boxes whose centres differ by less than the margin: no relation
    assert (
        relative_position(
            np.asarray([110, 110, 190, 190], np.float32), np.asarray([100, 100, 200, 200], np.float32), 0.1
        )
        == ()
    )


def test_relative_position_at_the_half_boundary():
    # point boxes (no margin): offset (1, sqrt(3)) -> dx = 0.5 exactly in float32 is not > 0.5
    b = np.asarray([0, 0, 0, 0], np.float32)
    a = np.asarray([1, 1.7320508, 1, 1.7320508], np.float32)
    assert "right of" not in relative_position(a, b, 0.1) and "below" in relative_position(a, b, 0.1)
    a2 = np.asarray([3, 4, 3, 4], np.float32)
    assert relative_position(a2, b, 0.1) == ("right of", "below")


def test_position_clause():
    m = meta("position", [{"class": "cat", "count": 1}, {"class": "dog", "count": 1, "position": ["right of", 0]}])
    left, right = (0, 200, 100, 300), (300, 200, 400, 300)
    assert judge(m, detections([("cat", left, 0.9), ("dog", right, 0.9)])) == (True, "")
    assert judge(m, detections([("cat", right, 0.9), ("dog", left, 0.9)])) == (
        False,
        "expected dog right of target, found left of target",
    )
    assert judge(m, detections([("cat", (100, 100, 200, 200), 0.9), ("dog", (110, 110, 190, 190), 0.9)])) == (
        False,
        "expected dog right of target, found  target",
    )
    assert judge(m, detections([("dog", right, 0.9)])) == (
        False,
        "expected cat>=1, found 0\nno target for dog to be right of",
    )
    assert judge(m, detections([("cat", right, 0.9)])) == (False, "expected dog>=1, found 0")


def test_position_uses_only_the_most_confident_objects():
    m = meta("position", [{"class": "cat", "count": 1}, {"class": "dog", "count": 1, "position": ["right of", 0]}])
    rows = [("cat", (0, 0, 10, 10), 0.9), ("cat", (500, 0, 510, 10), 0.5), ("dog", (200, 0, 210, 10), 0.9)]
    assert judge(m, detections(rows)) == (True, "")


def test_position_referring_to_a_later_group_is_refused_at_load_time():
    with pytest.raises(DataError, match="IndexError"):
        parse_line(
            {"tag": "position", "include": [{"class": "dog", "count": 1, "position": ["left of", 0]}], "prompt": "p"},
            0,
            "test",
        )


# -- against GenEval's own evaluator --------------------------------------------------------------------
@cache
def upstream_fixture() -> dict[str, Any]:
    return json.loads((FIXTURES / "upstream_rules.json").read_text())


def _case_detections(case: dict[str, Any]) -> Detections:
    rows = np.asarray(case["detections"], dtype=np.float64).reshape(-1, 6)
    return Detections(rows[:, :4].astype(np.float32), rows[:, 4].astype(np.float32), rows[:, 5].astype(np.int64))


def _run_case(case: dict[str, Any]) -> tuple[bool, str, dict[str, list[list[float]]]]:
    rules = RuleOptions(**case["options"])
    m = parse_line(case["metadata"], 0, case["name"])
    dets = _case_detections(case)
    objects = select_objects(dets, m.tag, rules)
    colors = {r.group: [case["colors"][o.source_index] for o in r.objects] for r in color_requests(m, objects)}
    ok, reason = evaluate(m, objects, colors, rules)
    return ok, reason, details_of(objects)


def test_fixture_is_broad():
    data = upstream_fixture()
    tags = {c["metadata"]["tag"] for c in data["cases"]}
    assert len(tags) == 6 and len(data["cases"]) >= 300 and len(data["position_pairs"]) >= 1000
    assert sum(bool(c["upstream"].get("correct")) for c in data["cases"]) > 100
    assert sum(c["upstream"].get("correct") is False for c in data["cases"]) > 100


def test_same_decisions_reasons_and_kept_detections_as_upstream():
    data = upstream_fixture()
    checked = 0
    for case in data["cases"]:
        expected = case["upstream"]
        if "error" in expected:
            assert expected["error"].startswith("IndexError")
            with pytest.raises(DataError):
                parse_line(case["metadata"], 0, case["name"])
            continue
        ok, reason, details = _run_case(case)
        want_details = {k: [[float(F32(v)) for v in row] for row in rows] for k, rows in expected["details"].items()}
        assert ok == expected["correct"], case["name"]
        assert normalise_reason(reason) == normalise_reason(expected["reason"]), case["name"]
        assert details == want_details, case["name"]
        checked += 1
    assert checked == len(data["cases"]) - 1


def test_relative_position_matches_upstream_on_boundary_pairs():
    for pair in upstream_fixture()["position_pairs"]:
        a = np.asarray(pair["a"], np.float32)
        b = np.asarray(pair["b"], np.float32)
        assert sorted(relative_position(a, b, pair["threshold"])) == pair["upstream"], pair
