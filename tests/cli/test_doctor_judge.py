"""`ming-eval doctor` probes the endpoint the judge would call: one reading of the openai variables."""

from __future__ import annotations

import pytest

from ming_eval.cli.doctor import judge_endpoint_status
from ming_eval.judge.client import JudgeConfig
from tests.fakes.openai_server import FakeOpenAI


@pytest.mark.parametrize(
    ("variable", "tail"),
    [
        ("OPENAI_API_BASE", "/chat/completions"),  # VLMEvalKit's full URL
        ("OPENAI_API_BASE", "/completions"),
        ("OPENAI_BASE_URL", "/ "),  # a trailing slash and a stray space from a shell profile
    ],
)
def test_doctor_probes_the_judges_endpoint(monkeypatch: pytest.MonkeyPatch, variable: str, tail: str) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_BASE", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with FakeOpenAI() as fake:
        monkeypatch.setenv(variable, fake.url + tail)
        judge = JudgeConfig.from_env("any-judge")
        assert judge is not None and judge.endpoint == fake.url
        base, state = judge_endpoint_status(5)
    assert base == fake.url
    assert state.startswith("reachable (HTTP 200)"), state
