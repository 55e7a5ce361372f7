"""The grader contract's cache keys: an image asked about several times in one batch is hashed once,
and the key still tells different pictures apart."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from ming_eval.core.sample import ImagePart, ImageRef, TextPart, UnderstandRequest
from ming_eval.graders import base
from ming_eval.graders.base import DecodeSettings, Grader, GraderReply


class Echo(Grader):
    identity = "test:echo"

    def _answer(self, requests: Sequence[UnderstandRequest], settings: DecodeSettings) -> list[GraderReply]:
        return [GraderReply(text=r.text) for r in requests]


def test_a_shared_image_is_digested_once_per_batch(monkeypatch):
    calls = []
    real = base.image_digest
    monkeypatch.setattr(base, "image_digest", lambda ref: calls.append(ref.source) or real(ref))
    red = ImageRef.from_pil(Image.new("RGB", (4, 4), (255, 0, 0)), "red")
    blue = ImageRef.from_pil(Image.new("RGB", (4, 4), (0, 0, 255)), "blue")
    questions = [f"question {i}?" for i in range(6)]
    requests = [UnderstandRequest((ImagePart(img), TextPart(q))) for img in (red, blue) for q in questions]
    replies = Echo().grade(requests)
    assert [r.text for r in replies] == questions * 2
    assert sorted(calls) == ["blue", "red"]  # 12 requests, 2 pictures, 2 digests


def test_keys_differ_by_picture_and_match_for_the_same_pixels():
    def key(color: tuple[int, int, int]) -> str:
        ref = ImageRef.from_pil(Image.new("RGB", (4, 4), color))
        return base.cache_key("g", UnderstandRequest((ImagePart(ref), TextPart("q"))), DecodeSettings(), digests={})

    assert key((1, 2, 3)) == key((1, 2, 3)) != key((3, 2, 1))
