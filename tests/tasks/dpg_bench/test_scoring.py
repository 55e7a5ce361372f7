"""The scoring rules on hand-built answers; each expected value is worked out in the comment beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ming_eval.errors import DataError
from ming_eval.tasks.dpg_bench.questions import DpgQuestions, read_dpg_questions
from ming_eval.tasks.dpg_bench.scoring import Answers, DpgScore, score_dpg
from tests.tasks.dpg_bench.fixtures import (
    MAIN,
    PARENT_FIRST_DROPPED,
    PARENT_FIRST_KEPT,
    SINGLE_FIRST,
    FixturePrompt,
    Scenario,
    write_csv,
)


def _questions(tmp_path: Path, scenario: Scenario) -> DpgQuestions:
    return read_dpg_questions(write_csv(scenario.prompts, tmp_path / f"{scenario.name}.csv"))


def _score(tmp_path: Path, scenario: Scenario, mode: Any = "upstream", **kwargs: Any) -> DpgScore:
    skip = set(scenario.missing) | set(scenario.corrupt)
    answers = {k: v for k, v in scenario.answers.items() if k not in skip}
    unreadable = {item: "cannot decode" for item in scenario.corrupt}
    return score_dpg(
        _questions(tmp_path, scenario), answers, mode=mode, unreadable=unreadable, allow_incomplete=True, **kwargs
    )


def test_only_exactly_yes_scores(tmp_path: Path) -> None:
    scores = _score(tmp_path, MAIN).prompts["countbench3"]

    # tile 1: "Yes" fails q1, which zeroes q2; q3 is "no"; q4 passes          -> 1/4
    # tile 2: q2 answered "yes." fails; q4 "no"                                 -> 2/4
    # tile 3: q1 "no" zeroes q2 and q3; q4 answered " yes" fails                -> 0
    assert scores.tile_scores == (1.0, 0.25, 0.5, 0.0)
    assert scores.score == 0.4375


def test_upstream_never_asks_the_first_csv_row(tmp_path: Path) -> None:
    upstream = _score(tmp_path, MAIN, "upstream").prompts["12"]
    fixed = _score(tmp_path, MAIN, "fixed").prompts["12"]

    # tile 0: q1 ("is this a photo?") is "no", the rest "yes": upstream asks only q2..q5 -> 4/4,
    # fixed asks all five -> 4/5
    assert upstream.tile_scores[0] == 1.0
    assert fixed.tile_scores[0] == 0.8
    assert upstream.tile_scores == (1.0, 0.25, 0.25, 0.75)
    assert fixed.tile_scores == (0.8, 0.2, 0.4, 0.6)


def test_the_first_rows_answer_is_not_needed_in_upstream_mode(tmp_path: Path) -> None:
    questions = _questions(tmp_path, MAIN)
    answers: dict[str, Any] = {k: v for k, v in MAIN.answers.items() if k != "partiprompts97"}
    without_first = {**answers, "12": [{k: v for k, v in tile.items() if k != 1} for tile in answers["12"]]}
    kwargs: dict[str, Any] = {"unreadable": {"vrd4": "x"}, "allow_incomplete": True}

    assert score_dpg(questions, without_first, **kwargs) == score_dpg(questions, answers, **kwargs)
    with pytest.raises(DataError, match=r"item 12 tile 0: no answer to question\(s\) \[1\]"):
        score_dpg(questions, without_first, mode="fixed", **kwargs)


def test_upstream_zeroes_in_one_pass_in_file_order(tmp_path: Path) -> None:
    upstream = _score(tmp_path, MAIN, "upstream").prompts["7"]
    fixed = _score(tmp_path, MAIN, "fixed").prompts["7"]

    # tile 0: dog (q1) "no", collar (q3, child of q1) "yes", leather (q2, child of q3, listed before
    # q3) "yes"; ball (q4) "no", red (q5, child of q4) and two balls (q6, child of q5) "yes".
    # Upstream visits q2 while q3 still holds its own "yes", so q2 keeps 1; q3 is zeroed by q1;
    # q5 by q4, and q6 by q5, zeroed earlier in the same pass -> 1/6. Fixed zeroes every
    # descendant of a "no" -> 0.
    assert upstream.tile_scores[0] == 1 / 6
    assert fixed.tile_scores[0] == 0.0
    assert upstream.score == (1 / 6 + 1.0 + 1 / 3 + 1 / 6) / 4
    assert fixed.score == (0.0 + 1.0 + 1 / 3 + 0.0) / 4


def test_upstream_categories_take_the_last_tile_before_zeroing(tmp_path: Path) -> None:
    upstream = _score(tmp_path, MAIN, "upstream")
    fixed = _score(tmp_path, MAIN, "fixed")

    # "entity - part" is only prompt 7's collar (q3): answered "yes" in the last tile but zeroed
    # there by the dog's "no". Upstream counts the answer -> 100; fixed pools the zeroed scores of
    # the four tiles (0, 1, 0, 0) -> 25.
    assert upstream.l2["entity - part"] == 100.0
    assert fixed.l2["entity - part"] == 25.0
    # "relation - non-spatial" is only whoops2's q3 (partiprompts97 has no image): "yes" in tiles
    # 0 and 1, "no" in the last -> upstream 0; fixed: tile 0 zeroed by q2 "no", tile 1 yes -> 25.
    assert upstream.l2["relation - non-spatial"] == 0.0
    assert fixed.l2["relation - non-spatial"] == 25.0
    # "other - count": the last tiles answer "yes" for both count questions, each zeroed -> 100
    # upstream; fixed: 7's q6 passes in one tile of four, countbench3's q2 in one of four -> 25
    assert upstream.l2["other - count"] == 100.0
    assert fixed.l2["other - count"] == 25.0


def test_l1_pools_the_questions_of_its_l2_categories(tmp_path: Path) -> None:
    result = _score(tmp_path, MAIN, "upstream")

    # last-tile answers: entity - whole 5 of 8 (62.5), entity - part 1 of 1, entity - state 1 of 1:
    # pooled 7 of 10 -> 70, not the mean of the three L2 means (87.5)
    assert (result.l2["entity - whole"], result.l2["entity - part"], result.l2["entity - state"]) == (62.5, 100, 100)
    assert result.l1["entity"] == 70.0
    # a tuple without a detail ("global - (photo)") makes L2 "global -" and L1 "global"
    assert result.l2["global -"] == result.l1["global"] == 50.0
    assert list(result.l1) == sorted(result.l1)


def test_a_skipped_parent_drops_the_prompt_only_when_upstream_reaches_it(tmp_path: Path) -> None:
    dropped = _score(tmp_path, PARENT_FIRST_DROPPED, "upstream")
    kept = _score(tmp_path, PARENT_FIRST_KEPT, "upstream")

    # q3 lists parents "2,1" and q1 is the skipped row. In one tile of PARENT_FIRST_DROPPED q2 is
    # "yes", so upstream goes on to look q1 up, raises KeyError and drops the prompt.
    assert list(dropped.prompts) == ["partiprompts7"]
    assert "depends on 1, the first CSV row" in dropped.dropped["12"]
    assert dropped.overall == 62.5
    assert dropped.l2 == {"attribute - color": 100.0, "entity - whole": 100.0}  # prompt 12 adds nothing
    # In PARENT_FIRST_KEPT q2 is "no" in every tile: the loop stops at it, q3 is zeroed, and the
    # prompt is scored: q2 0, q3 0, q4 1 -> 1/3 per tile but tile 1, where q4 is "no".
    assert kept.dropped == {}
    assert kept.prompts["12"].tile_scores == (1 / 3, 0.0, 1 / 3, 1 / 3)
    assert kept.overall == (0.25 + 0.625) / 2 * 100
    # the fixed mode asks q1 and drops nothing
    assert _score(tmp_path, PARENT_FIRST_DROPPED, "fixed").dropped == {}


def test_a_first_prompt_with_only_the_skipped_row_is_dropped_upstream(tmp_path: Path) -> None:
    upstream = _score(tmp_path, SINGLE_FIRST, "upstream")
    fixed = _score(tmp_path, SINGLE_FIRST, "fixed")

    assert upstream.dropped == {"a1": "its only question is the first CSV row, which upstream never reads"}
    assert upstream.overall == 50.0
    assert fixed.prompts["a1"].score == 1.0
    assert fixed.overall == 75.0


def test_missing_and_unreadable_images_refuse_scoring_unless_allowed(tmp_path: Path) -> None:
    questions = _questions(tmp_path, MAIN)
    answers = {k: v for k, v in MAIN.answers.items() if k != "partiprompts97"}

    with pytest.raises(
        DataError, match=r"1 prompt\(s\) without an image and 1 unreadable, of 7 \(e.g. partiprompts97, vrd4\)"
    ):
        score_dpg(questions, answers, unreadable={"vrd4": "cannot decode"})
    allowed = score_dpg(questions, answers, unreadable={"vrd4": "cannot decode"}, allow_incomplete=True)

    assert allowed.missing == ("partiprompts97",)
    assert allowed.unreadable == {"vrd4": "cannot decode"}
    assert allowed.n_prompts == 7
    assert len(allowed.prompts) == 5
    # the mean runs over the five scored prompts, as upstream's does
    assert allowed.overall == pytest.approx((0.5625 + 5 / 12 + 0.4375 + 1.0 + 7 / 12) / 5 * 100, abs=1e-12)


def test_complete_answers_need_no_permission(tmp_path: Path) -> None:
    questions = _questions(tmp_path, SINGLE_FIRST)

    result = score_dpg(questions, SINGLE_FIRST.answers, mode="fixed")

    assert result.missing == () and result.unreadable == {}
    assert result.overall == 75.0


def test_one_tile_per_prompt_is_scored_like_four(tmp_path: Path) -> None:
    questions = _questions(tmp_path, SINGLE_FIRST)
    answers: Answers = {"a1": [{1: "yes"}], "b2": [{1: "yes", 2: "no", 3: "yes"}]}

    result = score_dpg(questions, answers, mode="fixed")

    # b2: q2 "no" (q3 depends on 1 and 2) -> q1 only -> 1/3
    assert result.prompts["b2"].tile_scores == (1 / 3,)
    assert result.overall == (1.0 + 1 / 3) / 2 * 100


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"zz9": [{1: "yes"}]}, r"1 image\(s\) name no prompt of .*: zz9"),
        ({"b2": [{1: "yes", 2: "yes", 3: "yes", 9: "yes"}]}, r"item b2 tile 0: answers to unknown question\(s\) \[9\]"),
        ({"b2": [{1: "yes", 2: "yes", 3: "yes"}, {1: "yes"}]}, r"item b2 tile 1: no answer to question\(s\) \[2, 3\]"),
        ({"b2": []}, r"item b2: answers for no tile"),
    ],
)
def test_answers_that_do_not_fit_the_questions_are_refused(
    tmp_path: Path, answers: dict[str, Any], message: str
) -> None:
    questions = _questions(tmp_path, SINGLE_FIRST)

    with pytest.raises(DataError, match=message):
        score_dpg(questions, answers, allow_incomplete=True)


def test_an_item_cannot_be_both_answered_and_unreadable(tmp_path: Path) -> None:
    questions = _questions(tmp_path, SINGLE_FIRST)

    with pytest.raises(DataError, match="b2 have answers and are also listed as unreadable"):
        score_dpg(questions, SINGLE_FIRST.answers, unreadable={"b2": "x"})


def test_nothing_scored_gives_no_overall(tmp_path: Path) -> None:
    result = score_dpg(_questions(tmp_path, SINGLE_FIRST), {}, allow_incomplete=True)

    assert result.overall is None
    assert result.l1 == {} and result.l2 == {}
    assert result.missing == ("a1", "b2")


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown DPG-Bench scoring mode 'exact'; known: upstream, fixed"):
        score_dpg(_questions(tmp_path, SINGLE_FIRST), SINGLE_FIRST.answers, mode="exact")  # type: ignore[arg-type]


def test_a_dependency_cycle_is_scored_without_looping(tmp_path: Path) -> None:
    cyclic = Scenario(
        name="cycle",
        prompts=[
            FixturePrompt("first", "A tree.", [(1, "0", "entity - whole (tree)", "Is there a tree?")]),
            FixturePrompt(
                "loop",
                "A hen and an egg.",
                [
                    (1, "2", "entity - whole (hen)", "Is there a hen?"),
                    (2, "1", "entity - whole (egg)", "Is there an egg?"),
                    (3, "3", "global - (farm)", "Is this a farm?"),
                ],
            ),
        ],
        answers={"first": [{1: "yes"}], "loop": [{1: "yes", 2: "no", 3: "yes"}, {1: "yes", 2: "yes", 3: "no"}]},
    )

    upstream = _score(tmp_path, cyclic, "upstream").prompts["loop"]
    fixed = _score(tmp_path, cyclic, "fixed").prompts["loop"]

    # tile 0: the egg's "no" zeroes the hen, and the farm only depends on itself -> 1/3 both ways
    # tile 1: hen and egg pass; the farm's own "no" -> 2/3 both ways
    assert upstream.tile_scores == fixed.tile_scores == (1 / 3, 2 / 3)
