from __future__ import annotations

import json

from ming_eval.judge.cache import JudgeCache, cache_key


def test_roundtrip_across_instances(tmp_path):
    cache = JudgeCache(tmp_path)
    assert cache.get("m", "p", {"temperature": 0}) is None
    cache.put("m", "p", {"temperature": 0}, "A")
    cache.close()
    again = JudgeCache(tmp_path)
    assert again.get("m", "p", {"temperature": 0}) == "A"
    # the key covers model, prompt and every parameter
    assert again.get("m", "p", {"temperature": 0.5}) is None
    assert again.get("other", "p", {"temperature": 0}) is None
    assert again.get("m", "p2", {"temperature": 0}) is None


def test_truncated_line_is_ignored(tmp_path):
    cache = JudgeCache(tmp_path)
    cache.put("m/x", "p", {}, "yes")
    cache.close()
    files = list((tmp_path / "m_x").glob("*.jsonl"))
    assert len(files) == 1
    with files[0].open("a") as fh:
        fh.write('{"key": "abc", "reply": "tru')  # a crash mid-write
    assert JudgeCache(tmp_path).get("m/x", "p", {}) == "yes"


def test_key_is_sha256_of_model_prompt_params():
    k1 = cache_key("m", "p", {"a": 1, "b": 2})
    assert k1 == cache_key("m", "p", {"b": 2, "a": 1})
    assert len(k1) == 64 and k1 != cache_key("m", "p ", {"a": 1, "b": 2})


def test_records_keep_prompt_for_audit(tmp_path):
    cache = JudgeCache(tmp_path)
    cache.put("m", "the prompt", {"temperature": 0}, "B")
    cache.close()
    rec = json.loads(next((tmp_path / "m").glob("*.jsonl")).read_text())
    assert rec["prompt"] == "the prompt" and rec["reply"] == "B" and rec["params"] == {"temperature": 0}


def test_a_reused_process_id_does_not_glue_a_reply_to_a_cut_line(tmp_path):
    """A crash leaves a cut last line; a later process with the same pid (common in containers) writes
    to the same file: its replies must still be readable."""
    cache = JudgeCache(tmp_path)
    cache.put("m", "p1", {}, "first")
    cache.close()
    (path,) = (tmp_path / "m").glob("*.jsonl")
    with path.open("a") as fh:
        fh.write('{"key": "abc", "reply": "tru')  # a crash mid-write
    again = JudgeCache(tmp_path)  # this process: the same host and pid, so the same file
    again.put("m", "p2", {}, "second")
    again.close()
    fresh = JudgeCache(tmp_path)
    assert fresh.get("m", "p1", {}) == "first" and fresh.get("m", "p2", {}) == "second"


def test_a_reply_whose_prompt_or_text_holds_a_unicode_line_separator_is_found_again(tmp_path):
    """The records are JSON lines ending at "\\n"; U+2028, U+2029 and U+0085 (NEL, what a cp1252 "..."
    read as Latin-1 becomes) stand unescaped inside their strings and end no line."""
    prompt = "Question: what is shown?\u2028Answer: a cat\x85 \u2029"
    cache = JudgeCache(tmp_path)
    cache.put("m", prompt, {"temperature": 0}, "Yes\u2028the answer is right")
    cache.close()
    assert JudgeCache(tmp_path).get("m", prompt, {"temperature": 0}) == "Yes\u2028the answer is right"


def test_a_line_another_process_left_cut_inside_a_character_is_skipped(tmp_path):
    cache = JudgeCache(tmp_path)
    cache.put("m", "p", {}, "oui")
    cache.close()
    cut = json.dumps({"key": "abc", "reply": "是的"}, ensure_ascii=False).encode()[:-6]  # inside 是
    (tmp_path / "m" / "other-host-1.jsonl").write_bytes(b'{"key": "x", "reply": "y"}\n' + cut)
    assert JudgeCache(tmp_path).get("m", "p", {}) == "oui"
