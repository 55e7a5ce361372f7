from ming_eval.store.manifest import config_differences


def test_config_differences_are_readable():
    old = {"model": {"checkpoint": "a", "card": {"dtype": "bfloat16"}}, "seed": 1}
    new = {"model": {"checkpoint": "b", "card": {"dtype": "bfloat16"}}, "seed": 1, "x": 2}
    assert config_differences(old, new) == ["model.checkpoint: 'a' -> 'b'", "x: added (2)"]
    assert config_differences(old, old) == []


def test_config_differences_never_show_a_credential_even_cut_short():
    # an old manifest may hold a URL with a password; the line is cut at 60 characters after redaction
    old = {"judge_base_url": "http://alice:hunter2hunter2@judge.example.org/some/long/path/v1"}
    new = {"judge_base_url": "http://judge.example.org/v1"}
    (line,) = config_differences(old, new)
    assert "hunter2" not in line and "alice" not in line
    assert line.startswith("judge_base_url: 'http://<redacted>@judge.example.org")
