"""The graders' reply cache on disk: survives crashes, is shared by processes, never keeps a failure."""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from ming_eval.core.sample import ImagePart, ImageRef, TextPart, UnderstandRequest
from ming_eval.graders.base import DecodeSettings, Grader, GraderReply
from ming_eval.graders.cache import DiskReplyStore, default_cache_dir, grader_folder


def _request(text: str, color: tuple[int, int, int] = (200, 10, 10)) -> UnderstandRequest:
    image = ImageRef.from_pil(Image.new("RGB", (4, 4), color))
    return UnderstandRequest((ImagePart(image), TextPart(text)))


class EchoGrader(Grader):
    """Answers with the request's text; fails every request whose text is in ``failing``."""

    identity = "echo:test"

    def __init__(self, cache: DiskReplyStore | None, failing: set[str] | None = None) -> None:
        super().__init__()
        self.cache = cache
        self.failing = failing or set()
        self.asked: list[str] = []

    def _answer(self, requests: Sequence[UnderstandRequest], settings: DecodeSettings) -> list[GraderReply]:
        self.asked.extend(r.text for r in requests)
        return [GraderReply(error="down") if r.text in self.failing else GraderReply(text=r.text) for r in requests]


def test_default_folder_is_under_the_cache_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MING_EVAL_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "graders"
    store = DiskReplyStore.for_grader("zoo:a/b@ckpt")
    assert store.folder.parent == tmp_path / "graders"
    # identities that read alike once made file-safe never share a folder
    assert grader_folder(tmp_path, "zoo:a/b") != grader_folder(tmp_path, "zoo:a_b")


def test_replies_are_reused_by_a_later_grader_and_failures_asked_again(tmp_path):
    first = EchoGrader(DiskReplyStore(tmp_path), failing={"q2"})
    replies = first.grade([_request("q1"), _request("q2")])
    assert [r.text for r in replies] == ["q1", None] and replies[1].error == "down"
    assert not replies[0].cached
    first.cache.close()  # type: ignore[union-attr]

    second = EchoGrader(DiskReplyStore(tmp_path))
    again = second.grade([_request("q1"), _request("q2")])
    assert [r.text for r in again] == ["q1", "q2"] and again[0].cached and not again[1].cached
    assert second.asked == ["q2"]  # the failure was not kept, so it is asked again
    assert second.stats.cached == 1 and second.stats.asked == 1


def test_key_covers_images_settings_and_attempt(tmp_path):
    grader = EchoGrader(DiskReplyStore(tmp_path))
    grader.grade([_request("q")])
    grader.grade([_request("q", color=(10, 200, 10))])  # another picture
    grader.grade([_request("q")], DecodeSettings(max_tokens=7))
    grader.grade([_request("q")], attempt=1)
    grader.grade([_request("q")])  # the first one again: from the cache
    assert grader.asked == ["q"] * 4 and grader.stats.cached == 1


def test_store_refuses_to_keep_a_failure(tmp_path):
    store = DiskReplyStore(tmp_path)
    store.put("k", GraderReply(error="timeout"), {"grader": "x"})
    store.close()
    assert DiskReplyStore(tmp_path).get("k") is None
    assert not list(tmp_path.glob("*.jsonl"))


def test_a_line_cut_by_a_crash_is_ignored_and_cut_off_before_appending(tmp_path):
    store = DiskReplyStore(tmp_path)
    store.put("k1", GraderReply(text="first"), {"grader": "x"})
    store.close()
    (path,) = tmp_path.glob("*.jsonl")
    with path.open("a") as fh:
        fh.write('{"key": "k9", "text": "tru')  # killed mid-write
    again = DiskReplyStore(tmp_path)  # this process: same host and pid, so the same file
    assert again.get("k1") == GraderReply(text="first", cached=True) and again.get("k9") is None
    again.put("k2", GraderReply(option_scores={"yes": -0.1, "no": -2.3}), {"grader": "x"})
    again.close()
    fresh = DiskReplyStore(tmp_path)
    assert fresh.get("k1") is not None and fresh.get("k1").text == "first"  # type: ignore[union-attr]
    assert fresh.get("k2") == GraderReply(option_scores={"yes": -0.1, "no": -2.3}, cached=True)
    assert len(path.read_text().splitlines()) == 2


def _write_replies(folder: str, prefix: str, n: int) -> None:
    store = DiskReplyStore(Path(folder))
    for i in range(n):
        store.put(f"{prefix}{i}", GraderReply(text=f"{prefix} reply {i}"), {"grader": "x"})
    store.close()


def test_two_processes_share_one_folder_without_locks(tmp_path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_replies, args=(str(tmp_path), p, 200)) for p in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert len(list(tmp_path.glob("*.jsonl"))) == 2  # one file per process
    merged = DiskReplyStore(tmp_path)
    assert merged.get("a199") == GraderReply(text="a reply 199", cached=True)
    assert all(merged.get(f"{p}{i}") is not None for p in "ab" for i in range(200))
    assert len(merged) == 400
