from ming_eval.store.manifest import REDACTED, config_differences, redact, redact_argv


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


def test_redact_argv():
    argv = ["ming-eval", "run", "--judge-api-key", "secret1", "--api-token=secret2", "sk-1234567890abcdef"]
    out = redact_argv(argv)
    assert "secret1" not in out and "--api-token=<redacted>" in out and not any("sk-" in a for a in out)


def test_config_differences_are_readable():
    old = {"model": {"checkpoint": "a", "card": {"dtype": "bfloat16"}}, "seed": 1}
    new = {"model": {"checkpoint": "b", "card": {"dtype": "bfloat16"}}, "seed": 1, "x": 2}
    assert config_differences(old, new) == ["model.checkpoint: 'a' -> 'b'", "x: added (2)"]
    assert config_differences(old, old) == []
