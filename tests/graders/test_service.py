"""The per-rank grader service: one object per spec, released and reloaded, endpoint kind reported."""

from __future__ import annotations

import pytest
from PIL import Image

from ming_eval.core.sample import ImagePart, ImageRef, TextPart, UnderstandRequest
from ming_eval.errors import CardError
from ming_eval.graders.local import ZooGrader
from ming_eval.graders.service import GraderService
from tests.engine_plugins import COLORS, PixelGrader
from tests.fakes.openai_server import KEY, MODEL, FakeOpenAI


def _request() -> UnderstandRequest:
    return UnderstandRequest((ImagePart(ImageRef.from_pil(Image.new("RGB", (4, 4), COLORS["blue"]))), TextPart("?")))


def test_same_spec_gives_the_same_grader_loaded_once(graded_cards, tmp_path):
    service = GraderService("cpu", tmp_path)
    a = service.get("pixel-grader")
    assert service.get({"card": "pixel-grader"}) is a
    assert service.get({"card": "pixel-grader", "batch_size": 2}) is not a
    a.grade([_request()])
    service.get("pixel-grader").grade([_request()])
    assert PixelGrader.loads == 1 and a.stats.cached == 1  # the second answer came from the disk cache
    assert any(tmp_path.rglob("*.jsonl"))
    service.close()


def test_release_frees_the_model_and_the_next_request_loads_it_again(graded_cards, tmp_path):
    service = GraderService("cpu", tmp_path, use_cache=False)
    grader = service.get("pixel-grader")
    assert isinstance(grader, ZooGrader)
    grader.grade([_request()])
    assert grader.loaded and not service.memory_short()  # the CPU is never short
    service.release_all()
    assert not grader.loaded
    assert grader.grade([_request()])[0].text == "blue"
    assert PixelGrader.loads == 2


def test_memory_is_short_on_other_accelerators_whenever_a_grader_is_loaded(graded_cards, tmp_path):
    service = GraderService("mps", tmp_path, use_cache=False)
    assert not service.memory_short()
    service.get("pixel-grader").grade([_request()])
    assert service.memory_short()
    service.release_all()
    assert not service.memory_short()


def test_bad_specs_name_the_option(graded_cards, tmp_path):
    service = GraderService("cpu", tmp_path)
    with pytest.raises(CardError, match=r"task x option grader: invalid grader.*batch_size"):
        service.get({"card": "pixel-grader", "batch_size": 0}, where="task x option grader")


def test_endpoint_specs_give_endpoint_graders_whose_replies_the_disk_cache_keeps(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeOpenAI(key=KEY) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
        first = GraderService("cpu", tmp_path)
        reply = first.get(f"endpoint:{MODEL}").grade([_request()])[0]
        first.close()
        assert reply.text == "1 image(s) | ?" and len(fake.bodies) == 1
        again = GraderService("cpu", tmp_path).get({"model": MODEL})  # a new process: same cache folder
        assert again.grade([_request()])[0].text == "1 image(s) | ?"
        assert len(fake.bodies) == 1 and again.stats.cached == 1


def test_on_cuda_memory_is_short_when_another_grader_of_that_size_would_not_fit(graded_cards, tmp_path, monkeypatch):
    import torch

    allocated = iter([1 << 30, 5 << 30])  # before and after loading: the grader takes 4 GiB
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: next(allocated))
    free = {"bytes": 3 << 30}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free["bytes"], 80 << 30))
    service = GraderService("cuda:0", tmp_path, use_cache=False)
    grader = service.get("pixel-grader")
    grader.grade([_request()])
    assert isinstance(grader, ZooGrader) and grader.footprint == 4 << 30
    assert service.memory_short()
    free["bytes"] = 6 << 30
    assert not service.memory_short()
