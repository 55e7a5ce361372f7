import pytest

from ming_eval.redaction import REDACTED, contains_redacted, redact, redact_argv, redact_text, redact_url


def test_redact_keys_and_values():
    obj = {
        "options": {"api_key": "sk-abcdefghijklmnop", "base_url": "http://x", "token": None},
        "note": "Bearer abc.def",
        "list": ["hf_abcdefghijklmnop"],
    }
    out = redact(obj)
    assert out["options"]["api_key"] == REDACTED and out["options"]["base_url"] == "http://x"
    assert out["options"]["token"] is None
    assert "abc.def" not in out["note"] and out["list"] == [REDACTED]


def test_settings_that_mention_tokens_are_kept():
    obj = {"max_new_tokens": 512, "image_token": "<image>", "num_image_tokens": 576, "hf_token": "x", "Token": "y"}
    assert redact(obj) == {
        "max_new_tokens": 512,
        "image_token": "<image>",
        "num_image_tokens": 576,
        "hf_token": REDACTED,
        "Token": REDACTED,
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://user:pass@host:8000/v1", "http://<redacted>@host:8000/v1"),
        ("https://TOKEN123@github.com/org/repo.git", "https://<redacted>@github.com/org/repo.git"),
        ("http://h/v1?api_key=s3cret&api-version=2024-02-01", "http://h/v1?api_key=<redacted>&api-version=2024-02-01"),
        (
            "https://h/f.bin?X-Amz-Signature=abc&X-Amz-Expires=60",
            "https://h/f.bin?X-Amz-Signature=<redacted>&X-Amz-Expires=60",
        ),
        ("https://blob/x?sv=2020&sig=abc%2F&se=1", "https://blob/x?sv=2020&sig=<redacted>&se=1"),
        ("http://h/v1?token=t&key=k", "http://h/v1?token=<redacted>&key=<redacted>"),
        ("http://localhost:8000/v1", "http://localhost:8000/v1"),
    ],
)
def test_urls_lose_user_info_and_secret_query_values(url, expected):
    assert redact_url(url) == expected


def test_urls_inside_messages_are_redacted():
    text = "judge gpt-4o at http://u:pw@127.0.0.1:9/v1?api_key=k2 cannot be reached: Connection refused"
    out = redact_text(text)
    assert (
        out
        == "judge gpt-4o at http://<redacted>@127.0.0.1:9/v1?api_key=<redacted> cannot be reached: Connection refused"
    )


def test_header_mappings_and_header_lines():
    obj = {
        "headers": {"X-Custom-Auth": "abc", "User-Agent": "me"},
        "extra_headers": {"x-api-key": "k"},
        "x-api-key": "v",
    }
    assert redact(obj) == {
        "headers": {"X-Custom-Auth": REDACTED, "User-Agent": REDACTED},
        "extra_headers": {"x-api-key": REDACTED},
        "x-api-key": REDACTED,
    }
    text = 'sent Authorization: Basic dXNlcjpwYXNz and {"api-key": "abc123", "x-api-key": "zzz"} password=pw1'
    out = redact_text(text)
    for secret in ("dXNlcjpwYXNz", "abc123", "zzz", "pw1"):
        assert secret not in out
    assert "api-key" in out and "Authorization" in out  # the names stay: the message still says what was sent


def test_ordinary_text_is_kept():
    text = "max_new_tokens=512, image_token=<image>, key: value, tokens: 7, judge_api_key_env: MY_VAR, basic skills"
    text += ", Basic Attribute Recognition, http://localhost:8000/v1?api-version=2024"
    assert redact_text(text) == text


def test_environment_secrets_are_removed_whatever_their_shape(monkeypatch):
    monkeypatch.setenv("VLLM_API_KEY", "plainword42")
    monkeypatch.setenv("SHORT_TOKEN", "abc")  # too short to hunt in text: it would match ordinary words
    assert redact_text("server said: key plainword42 is wrong; abc") == "server said: key <redacted> is wrong; abc"


def test_an_api_key_env_option_makes_its_variable_secret(monkeypatch):
    monkeypatch.setenv("CLUSTER_CRED", "zz-top-value-9")
    assert redact_text("refused zz-top-value-9") == "refused zz-top-value-9"  # name not secret-looking
    assert redact({"options": {"judge_api_key_env": "CLUSTER_CRED"}}) == {
        "options": {"judge_api_key_env": "CLUSTER_CRED"}
    }
    assert redact_text("refused zz-top-value-9") == f"refused {REDACTED}"


def test_redact_argv():
    argv = ["ming-eval", "run", "--judge-api-key", "secret1", "--api-token=secret2", "sk-1234567890abcdef"]
    out = redact_argv(argv)
    assert "secret1" not in out and "--api-token=<redacted>" in out and not any("sk-" in a for a in out)
    argv = ["-o", "mmvet.judge_base_url=http://u:pw@h/v1", "-o", "mmvet.judge_api_key=abc"]
    assert redact_argv(argv) == [
        "-o",
        "mmvet.judge_base_url=http://<redacted>@h/v1",
        "-o",
        "mmvet.judge_api_key=<redacted>",
    ]


def test_contains_redacted():
    assert contains_redacted({"a": [1, "http://<redacted>@h"]})
    assert not contains_redacted({"a": [1, "http://h"]})


def test_the_sentence_around_a_url_is_kept():
    text = "failed (http://u:p@h/v1?token=abc): retry; see http://h/x."
    assert redact_text(text) == "failed (http://<redacted>@h/v1?token=<redacted>): retry; see http://h/x."


def test_a_secret_set_after_earlier_redactions_is_still_removed(monkeypatch):
    assert redact_text("first message") == "first message"  # the environment has been read once
    monkeypatch.setenv("LATE_API_KEY", "late-secret-77")
    assert redact_text("got late-secret-77") == f"got {REDACTED}"
    monkeypatch.setenv("LATE_API_KEY", "other-secret-88")  # same names, another value
    assert redact_text("got other-secret-88 late-secret-77") == f"got {REDACTED} late-secret-77"
