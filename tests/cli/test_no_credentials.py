"""No credential reaches a file of a run or the terminal: a served model whose base URL carries a
password and a query token, whose key comes from an environment variable, and whose server quotes
them back in its errors; then ``score``, ``compare`` and ``doctor`` on the result."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import yaml
from PIL import Image

from ming_eval.core.results import Metric, Prediction, SampleScore, Status, TaskResult
from ming_eval.store.run_store import RunStore
from tests.cli.test_cli import run_cli
from tests.engine_plugins import COLORS
from tests.fakes.openai_server import MODEL, FakeOpenAI

PASSWORD = "pw-in-the-url-1"
QUERY_TOKEN = "token-in-the-query-2"
API_KEY = "plain-key-without-shape-3"  # nothing about it looks like a key: only its variable says so
SECRETS = (PASSWORD, QUERY_TOKEN, API_KEY)


def secret_url(fake_url: str, *, query: bool = True) -> str:
    url = fake_url.replace("http://", f"http://alice:{PASSWORD}@")
    return url + f"?api_key={QUERY_TOKEN}" if query else url


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def files_with_secrets(root: Path) -> dict[str, list[str]]:
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and (hit := leaks(path.read_text(errors="replace"))):
            found[str(path.relative_to(root))] = hit
    return found


def leaky_server() -> FakeOpenAI:
    """A server that fails the requests with a blue image, with an error quoting the URL and the key
    (as some proxies do), and answers the others."""

    def respond(text: str, body: dict) -> object:
        image = body["messages"][-1]["content"][0]["image_url"]["url"]
        if Image.open(io.BytesIO(base64.b64decode(image.split(",", 1)[1]))).getpixel((0, 0)) == COLORS["blue"]:
            return 500, f"upstream refused key {API_KEY} for http://alice:{PASSWORD}@backend/v1?api_key={QUERY_TOKEN}"
        return "red"

    return FakeOpenAI(respond)


def write_remote_card(root: Path, name: str, base_url: str) -> None:
    card = {
        "name": name,
        "class": "ming_eval.models.openai_compatible:OpenAICompatibleAdapter",
        "capabilities": ["understand"],
        "checkpoint": MODEL,
        "options": {"base_url": base_url, "api_key_env": "REMOTE_SERVICE_KEY", "max_retries": 0, "backoff_s": 0},
        "batch_size": {"understand": 4},
        "protocol": {"understand": {"max_new_tokens": 8}},
    }
    (root / "model_zoo" / f"{name}.yaml").write_text(yaml.safe_dump(card))


def test_no_credential_on_disk_or_screen(engine_cards, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("REMOTE_SERVICE_KEY", API_KEY)
    out = tmp_path / "run"
    printed = []
    with leaky_server() as fake:
        write_remote_card(engine_cards, "remote", secret_url(fake.url, query=False))  # the SDK drops its query
        write_remote_card(engine_cards, "remote-query", secret_url(fake.url))
        code, text = run_cli(["run", "color_vqa", "-m", "remote", "--out", str(out)], capsys)
        printed.append(text)
        assert code == 0, text
        assert "samples failed" in text and "upstream refused key <redacted>" in text  # the reason stays readable
        code, text = run_cli(["score", str(out)], capsys)
        printed.append(text)
        assert code == 0, text

        # an endpoint that fails every request: the run stops, its error quoting the URL, redacted
        code, text = run_cli(["run", "color_vqa", "-m", "remote-query", "--out", str(tmp_path / "run2")], capsys)
        printed.append(text)
        assert code == 2 and "the first 16 samples all failed" in text

        monkeypatch.setenv("OPENAI_BASE_URL", secret_url(fake.url))
        monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        code, text = run_cli(["doctor", "--judge-timeout", "2"], capsys)
        printed.append(text)
        assert "judge endpoint" in text and "<redacted>@127.0.0.1" in text

    records = [json.loads(x) for x in (out / "color_vqa" / "records" / "rank-00000.jsonl").read_text().splitlines()]
    errors = [r["error"] for r in records if r["error"]]
    assert errors and all("http://<redacted>@backend/v1?api_key=<redacted>" in e for e in errors)
    assert files_with_secrets(out) == {}
    assert files_with_secrets(tmp_path / "run2") == {}

    # a run made before redaction existed, its manifest holding the URL in clear: compare shows the
    # differences without the credentials, refused and forced
    old = tmp_path / "old"
    shutil.copytree(out, old)
    manifest = json.loads((old / "manifest.json").read_text())
    options = manifest["tasks"]["color_vqa"]["model"]["card"]["options"]
    options["base_url"] = f"http://alice:{PASSWORD}@old-host:8000/v1?api_key={QUERY_TOKEN}"
    (old / "manifest.json").write_text(json.dumps(manifest))
    code, text = run_cli(["compare", str(old), str(out)], capsys)
    printed.append(text)
    assert code == 2 and "base_url" in text and "http://<redacted>@old-host" in text
    code, text = run_cli(["compare", str(old), str(out), "--force", "--format", "md"], capsys)
    printed.append(text)
    assert code == 0 and "compared with --force" in text and "<redacted>@old-host" in text

    assert [leaks(t) for t in printed] == [[]] * len(printed)


def test_the_store_redacts_what_any_component_reports(tmp_path, monkeypatch):
    """Whoever builds the message (a judge, a grader, a model adapter), the run store writes it redacted."""
    monkeypatch.setenv("MY_JUDGE_TOKEN", API_KEY)
    where = f"judge gpt-4o at http://alice:{PASSWORD}@judge.example/v1?api_key={QUERY_TOKEN}"
    store = RunStore.create(tmp_path / "run").task("t")
    with store.record_writer(0) as writer:
        writer.write(Prediction("1", Status.FAILED, error=f"{where} answered 500 (key {API_KEY})").to_record())
    pred = store.read_predictions()["1"]
    with store.score_writer(0) as writer:
        score = SampleScore("1", 0.0, status="judge_unavailable", reason=f"{where} cannot be reached")
        score.details["judge_error"] = f"Authorization: Bearer {API_KEY}"
        writer.write_score(score, pred)
    result = TaskResult("t", "acc", {"acc": Metric(0.0)}, notes=[f"{where}: 3 samples unjudged"], info={"judge": where})
    store.write_results(result)
    assert files_with_secrets(tmp_path / "run") == {}
    stored = store.read_scores({"1": pred})["1"]
    assert stored.reason == "judge gpt-4o at http://<redacted>@judge.example/v1?api_key=<redacted> cannot be reached"
    stored_result = store.read_results()
    assert stored_result is not None and stored_result.notes[0].endswith(
        "<redacted>@judge.example/v1?api_key=<redacted>: 3 samples unjudged"
    )


def test_a_bug_traceback_is_printed_without_credentials(monkeypatch, capsys):
    from ming_eval.cli import doctor

    def broken(timeout: float) -> tuple[str, str]:
        raise RuntimeError(f"unexpected reply from http://alice:{PASSWORD}@judge/v1?api_key={QUERY_TOKEN}")

    monkeypatch.setattr(doctor, "judge_endpoint_status", broken)
    code, text = run_cli(["doctor", "--judge-timeout", "1"], capsys)
    assert code == 1
    assert (
        "Traceback" in text
        and "RuntimeError: unexpected reply from http://<redacted>@judge/v1?api_key=<redacted>" in text
    )
    assert leaks(text) == []
