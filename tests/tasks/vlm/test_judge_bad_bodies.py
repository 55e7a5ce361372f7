"""A proxy in front of the judge that answers 200 with something that is not a chat completion: the
samples are ``judge_unavailable`` (asked again on the next run), never ``scoring_failed`` for good."""

import json

from tests.cli.test_cli import run_cli
from tests.fakes.openai_server import HTML_PAGE, NO_CHOICES, TRUNCATED_JSON, FakeOpenAI
from tests.tasks.vlm.standins import MMVET_MARKER
from tests.tasks.vlm.test_e2e import data_args, judge_sources, vlm_cards  # noqa: F401 - fixtures


def test_bad_bodies_are_unavailable_then_judged_when_the_server_answers(vlm_cards, tmp_path, capsys, monkeypatch):  # noqa: F811
    out = tmp_path / "run"
    data = data_args(["mmvet"], tmp_path / "data", judge_off=False)
    run = ["run", "mmvet", "-m", "colourvlm", "--out", str(out), *data]

    def scores() -> list[dict]:
        return [json.loads(line) for line in (out / "mmvet" / "scores.jsonl").read_text().splitlines()]

    for command, bad in (
        (run, HTML_PAGE),
        ([*run, "--retry-failed"], TRUNCATED_JSON),
        (["score", str(out), *data], NO_CHOICES),
    ):
        with FakeOpenAI(lambda p, b, bad=bad: bad) as fake:
            monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
            code, text = run_cli(command, capsys)
            assert code == 3, text  # results written, but the judge answered none: not a success for scripts
            assert "error: mmvet: none of its 4 samples could be judged" in text and "not a chat completion" in text
            assert len(fake.bodies) == 4  # every sample asked (judge_retries=0), none answered
        rows = scores()
        assert [r["status"] for r in rows] == ["judge_unavailable"] * 4, command
        assert all("not a chat completion" in r["reason"] for r in rows)
        counts = json.loads((out / "mmvet" / "results.json").read_text())["counts"]
        assert counts["judge_unavailable"] == 4 and "scoring_failed" not in counts

    # the server answers properly: the next run judges every sample (nothing bad was cached)
    with FakeOpenAI(lambda p, b: "1.0" if MMVET_MARKER in p else "B") as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
        code, text = run_cli(run, capsys)
        assert code == 0, text
        assert len(fake.bodies) == 4
    stored = json.loads((out / "mmvet" / "results.json").read_text())
    assert "judge_unavailable" not in stored["counts"] and "scoring_failed" not in stored["counts"]
    assert stored["metrics"]["overall"]["value"] == 100.0
    assert {r["status"] for r in scores()} == {"ok"}
