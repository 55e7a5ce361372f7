"""``--upstream-results``: our rules re-derive the decisions of a GenEval results.jsonl.

The results file is written the way GenEval's evaluate_images.py writes it (pandas, one row per image)
from the verdicts GenEval itself gave on the fixture cases (see test_rules.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ming_eval.errors import DataError
from ming_eval.tasks.geneval.rules import RuleOptions, objects_from_details
from ming_eval.tasks.geneval.upstream import check_upstream_results, normalise_reason, refilter
from tests.tasks.geneval.helpers import FIXTURES


def results_file(path: Path, mutate: dict[int, dict] | None = None) -> tuple[Path, int, int]:
    cases = json.loads((FIXTURES / "upstream_rules.json").read_text())["cases"]
    rows = []
    for i, case in enumerate(cases):
        up = case["upstream"]
        if "error" in up or case["options"]:
            continue
        meta = case["metadata"]
        rows.append(
            {
                "filename": f"outputs/{i:05d}/samples/0000.png",
                "tag": meta["tag"],
                "prompt": meta["prompt"],
                "correct": up["correct"],
                "reason": up["reason"],
                "metadata": json.dumps(meta),
                "details": json.dumps(up["details"]),
                **(mutate or {}).get(len(rows), {}),
            }
        )
    with path.open("w") as fh:
        pd.DataFrame(rows).to_json(fh, orient="records", lines=True)
    colour = sum(1 for r in rows if r["tag"] in ("colors", "color_attr"))
    return path, len(rows), colour


def test_all_colour_free_decisions_agree(tmp_path):
    path, n, colour = results_file(tmp_path / "results.jsonl")
    check = check_upstream_results(path)
    assert check.rows == n and check.skipped_color == colour and check.checked == n - colour > 100
    assert check.agree == check.checked and check.ok and not check.disagreements
    assert check.upstream is not None and check.rederived is not None
    assert check.upstream.tags == check.rederived.tags


def test_disagreements_are_listed(tmp_path):
    path, _, _ = results_file(tmp_path / "results.jsonl", mutate={0: {"correct": False, "reason": "made up"}})
    check = check_upstream_results(path)
    assert not check.ok and len(check.disagreements) == 1
    d = check.disagreements[0]
    assert d.line == 1 and d.upstream_correct is False and d.ours_correct is True and d.tag == "single_object"


def test_counting_threshold_of_the_first_release(tmp_path):
    meta = {
        "tag": "counting",
        "include": [{"class": "clock", "count": 2}],
        "exclude": [{"class": "clock", "count": 3}],
        "prompt": "a photo of two clocks",
    }
    details = {"clock": [[0, 0, 10, 10, 0.95], [20, 0, 30, 10, 0.5]]}  # kept at 0.3 by the old default
    path = tmp_path / "old.jsonl"
    path.write_text(
        json.dumps(
            {
                "filename": "a.png",
                "tag": "counting",
                "prompt": "p",
                "correct": True,
                "reason": "",
                "metadata": json.dumps(meta),
                "details": json.dumps(details),
            }
        )
        + "\n"
    )
    assert not check_upstream_results(path).ok
    assert check_upstream_results(path, RuleOptions(counting_threshold=0.3)).ok


def test_bad_files(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"filename": "a"}\n')
    with pytest.raises(DataError, match="line 1 lacks tag, correct, reason, metadata, details"):
        check_upstream_results(path)
    path.write_text("not json\n")
    with pytest.raises(DataError, match="line 1 is not valid JSON"):
        check_upstream_results(path)
    path.write_text("")
    with pytest.raises(DataError, match="has no rows"):
        check_upstream_results(path)
    path.write_bytes(b"\xff\xfe results")
    with pytest.raises(DataError, match="cannot read"):
        check_upstream_results(path)


def test_cli_exit_codes(tmp_path, capsys):
    from ming_eval.cli.app import main

    good, _, _ = results_file(tmp_path / "good.jsonl")
    main(["score", "geneval", "--upstream-results", str(good)])
    out = capsys.readouterr().out
    assert "our rules vs GenEval's decisions" in out and "summary (as summary_scores.py" in out
    bad, _, _ = results_file(tmp_path / "bad.jsonl", mutate={3: {"correct": True}})
    with pytest.raises(SystemExit) as exit_info:
        main(["score", "geneval", "--upstream-results", str(bad)])
    assert exit_info.value.code == 1
    assert "disagree" in capsys.readouterr().out


def test_normalise_reason_sorts_position_relations():
    a = "expected dog>=1, found 0\nexpected cat above target, found right of and below target"
    b = "expected dog>=1, found 0\nexpected cat above target, found below and right of target"
    assert normalise_reason(a) == normalise_reason(b)
    assert normalise_reason("expected cat above target, found  target") == "expected cat above target, found  target"


def test_refilter_keeps_recorded_order_and_applies_the_same_filters():
    details = {
        "clock": [[0, 0, 100, 100, 0.5], [5, 5, 100, 100, 0.95], [200, 0, 300, 90, 0.2], [200, 0, 300, 90, 0.94]]
    }
    objects = objects_from_details(details)
    kept = refilter(objects, "counting", RuleOptions(counting_threshold=0.3))
    assert [o.score for o in kept["clock"]] == pytest.approx([0.5, 0.95, 0.94])  # not re-sorted
    nms = refilter(objects, "counting", RuleOptions(counting_threshold=0.3, max_overlap=0.5))
    assert [o.score for o in nms["clock"]] == pytest.approx([0.5, 0.94])
    assert refilter(objects, "counting", RuleOptions()) == {"clock": [objects["clock"][1], objects["clock"][3]]}


@pytest.mark.parametrize(
    "details",
    [
        '["dog"]',
        '{"dog": [[0, 0, 10, 10]]}',
        '{"dog": [[0, 0, 10, 10, 0.9], [1, 2]]}',
        '{"dog": "x"}',
        '{"dog": [[0, 0, 10, 10, "high"]]}',
    ],
)
def test_malformed_details_name_the_line(tmp_path, details):
    meta = {"tag": "single_object", "include": [{"class": "dog", "count": 1}], "prompt": "a photo of a dog"}
    path = tmp_path / "r.jsonl"
    path.write_text(
        json.dumps(
            {
                "filename": "a.png",
                "tag": "single_object",
                "correct": True,
                "reason": "",
                "metadata": json.dumps(meta),
                "details": details,
            }
        )
        + "\n"
    )
    with pytest.raises(DataError, match="line 1: malformed 'details'"):
        check_upstream_results(path)


def test_extra_metadata_keys_of_a_cot_pipeline_are_ignored_as_geneval_does(tmp_path, capsys):
    """A rewritten-prompt/CoT pipeline writes ``cot``, ``final_prompt``, ... into each metadata file;
    GenEval's evaluator reads only tag/include/exclude, so the decisions are the same."""
    from ming_eval.cli.app import main

    plain, n, _ = results_file(tmp_path / "plain.jsonl")
    frame = pd.read_json(plain, lines=True)
    frame["metadata"] = [
        json.dumps(
            {
                **json.loads(m),
                "cot": "think",
                "final_prompt": "a long prompt",
                "include": [{**g, "note": "x"} for g in json.loads(m)["include"]],
            }
        )
        for m in frame["metadata"]
    ]
    cot = tmp_path / "cot.jsonl"
    with cot.open("w") as fh:
        frame.to_json(fh, orient="records", lines=True)
    check = check_upstream_results(cot)
    base = check_upstream_results(plain)
    assert check.ok and check.rows == n and check.agree == base.agree
    assert check.ignored_keys == {"cot", "final_prompt", "include[].note"}
    assert check.upstream is not None and base.upstream is not None
    assert check.upstream.overall == base.upstream.overall
    main(["score", "geneval", "--upstream-results", str(cot)])
    out = " ".join(capsys.readouterr().out.split())
    assert "were ignored: cot, final_prompt, include[].note" in out
    assert f"correct images {base.upstream.image_accuracy:.2%}" in out  # as summary_scores.py prints it
