"""A judge whose URL carries a password: nothing of it on disk or screen, and a re-score asks for it."""

import json
import socket

from tests.cli.test_cli import run_cli
from tests.cli.test_no_credentials import QUERY_TOKEN, files_with_secrets, leaks
from tests.fakes.openai_server import FakeOpenAI
from tests.tasks.vlm.test_e2e import data_args, judge_sources, vlm_cards  # noqa: F401 (fixtures)

PASSWORD = "pw-in-the-url-1"  # one of the secrets files_with_secrets() and leaks() look for


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_judge_url_with_password(vlm_cards, tmp_path, capsys):  # noqa: F811 (fixture)
    out = tmp_path / "run"
    common = ["-o", "mmstar.judge_retries=0", "-o", f"mmstar.judge_cache_dir={tmp_path / 'c'}"]
    common += data_args(["mmstar"], tmp_path / "d")
    down = f"mmstar.judge_base_url=http://alice:{PASSWORD}@127.0.0.1:{closed_port()}/v1?api_key={QUERY_TOKEN}"
    code, text = run_cli(["run", "mmstar", "-m", "colourvlm-vague", "--out", str(out), "-o", down, *common], capsys)
    assert code == 0, text
    printed = [text]
    scores = [json.loads(line) for line in (out / "mmstar" / "scores.jsonl").read_text().splitlines()]
    reasons = [s["reason"] for s in scores if s["status"] == "judge_unavailable"]
    # the reason names the endpoint (host and path) and none of its credentials
    assert reasons and all("http://127.0.0.1:" in r and "/v1" in r for r in reasons)
    assert not any(PASSWORD in r or QUERY_TOKEN in r or "alice" in r for r in reasons)

    # the manifest kept the URL without its password, so a re-score cannot reach the judge with it
    code, text = run_cli(["score", str(out), *common], capsys)
    printed.append(text)
    assert code == 2 and "judge_base_url held a credential" in text and "-o mmstar.judge_base_url=" in text

    with FakeOpenAI(lambda p, b: "B") as fake:
        up = "mmstar.judge_base_url=" + fake.url.replace("http://", f"http://alice:{PASSWORD}@")
        code, text = run_cli(["score", str(out), "-o", up, *common], capsys)
        printed.append(text)
        assert code == 0, text
        assert fake.bodies  # the judge was asked again
    stored = json.loads((out / "mmstar" / "results.json").read_text())
    assert "judge_unavailable" not in stored["counts"]
    assert files_with_secrets(out) == {} and files_with_secrets(tmp_path / "c") == {}  # run and judge cache
    assert [leaks(t) for t in printed] == [[]] * len(printed)
