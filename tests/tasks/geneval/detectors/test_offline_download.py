"""`ming-eval data download geneval` fetches the prompts, the detector checkpoint and the CLIP weights
from a local HTTP server playing download.openmmlab.com, GitHub and the Hugging Face hub; an offline
scorer then finds all three in the cache without asking the network."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import open_clip
import pytest
import torch
import yaml
from open_clip import factory
from open_clip import pretrained as oc_pretrained
from PIL import Image
from safetensors.torch import load_file

from ming_eval.cards import loader
from ming_eval.data.files import file_digest
from ming_eval.errors import DataError
from ming_eval.runner.plan import resolve_task
from ming_eval.tasks.geneval.clip_weights import HubWeights, clip_cache, hub_weights
from ming_eval.tasks.geneval.colour import ClipColorClassifier
from ming_eval.tasks.geneval.detectors import weights
from ming_eval.tasks.geneval.detectors.config import TINY
from ming_eval.tasks.geneval.detectors.weights import CONVERTED_NAME, PublishedCheckpoint, detector_cache
from ming_eval.tasks.geneval.scorer import GenEvalScorer
from ming_eval.testing.fixtures.geneval import SELFTEST_PROMPTS, build_tiny_clip, write_metadata
from tests.cli.test_cli import run_cli
from tests.conftest import REPO_ROOT
from tests.tasks.geneval.detectors.conftest import mmdet2_name, mmdet3_state, save_mmdet_checkpoint

TINY_CLIP = "tiny-offline-clip"
TINY_HUB = "timm/tiny_offline_clip.openai"


class Server:
    """Serves ``files`` (URL path -> bytes) over HTTP and counts the requests."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                data = server.files.get(self.path)
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                self.wfile.write(data or b"")

        return Handler


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    s = Server()
    thread = threading.Thread(target=s.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", s.url)
    yield s
    s.server.shutdown()
    s.server.server_close()


@pytest.fixture
def tiny_clip_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: Server) -> dict[str, torch.Tensor]:
    """A built-in open_clip model with an ``openai`` tag whose weights live on the (fake) hub, as
    ViT-L-14's do; returns the tensors the hub serves."""
    folder = tmp_path / "tiny_clip"
    build_tiny_clip(folder)
    config = yaml.safe_load((folder / "open_clip_config.json").read_text())
    monkeypatch.setitem(factory._MODEL_CONFIGS, TINY_CLIP, config["model_cfg"])
    tag = {"hf_hub": f"{TINY_HUB}/", "quick_gelu": True, **config["preprocess_cfg"]}
    monkeypatch.setitem(oc_pretrained._PRETRAINED, TINY_CLIP, {"openai": tag})
    served = folder / "open_clip_model.safetensors"
    server.files[f"/{TINY_HUB}/resolve/main/open_clip_model.safetensors"] = served.read_bytes()
    return load_file(str(served))


@pytest.fixture
def geneval_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: Server, tiny_clip_tag: object) -> Path:
    """GenEval's card with its prompts, detector and CLIP all served by ``server``."""
    prompts = write_metadata(tmp_path / "evaluation_metadata.jsonl", SELFTEST_PROMPTS)
    server.files["/djghosh13/geneval/prompts/evaluation_metadata.jsonl"] = prompts.read_bytes()
    card = yaml.safe_load((REPO_ROOT / "tasks" / "geneval.yaml").read_text())
    card["data"][0].update(
        url=f"{server.url}/djghosh13/geneval/prompts/evaluation_metadata.jsonl",
        sha256=file_digest(prompts, "sha256"),
        size=prompts.stat().st_size,
    )
    card["options"].update(clip_model=TINY_CLIP, clip_pretrained="openai")
    root = tmp_path / "cards"
    (root / "tasks").mkdir(parents=True)
    (root / "tasks" / "geneval.yaml").write_text(yaml.safe_dump(card))
    monkeypatch.setenv("MING_EVAL_CARDS_PATH", str(root))
    monkeypatch.setattr(loader, "_INDEX", None)

    ckpt = save_mmdet_checkpoint(tmp_path / "tiny_mmdet2.pth", {mmdet2_name(k): v for k, v in mmdet3_state().items()})
    server.files["/mmdetection/tiny_mmdet2.pth"] = ckpt.read_bytes()
    fake = PublishedCheckpoint(f"{server.url}/mmdetection/tiny_mmdet2.pth", file_digest(ckpt, "sha256")[:8])
    monkeypatch.setattr(weights, "GENEVAL_MMDET2", fake)
    monkeypatch.setattr(weights, "SWIN_S", TINY)
    return root


def test_vit_l_14_openai_is_the_hub_file_open_clip_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    found = hub_weights("ViT-L-14", "openai")
    assert found == HubWeights("timm/vit_large_patch14_clip_224.openai", "open_clip_model.safetensors")
    assert found.url == (
        "https://huggingface.co/timm/vit_large_patch14_clip_224.openai/resolve/main/open_clip_model.safetensors"
    )
    monkeypatch.setenv("HF_ENDPOINT", "https://hf-mirror.example/")
    assert found.url.startswith("https://hf-mirror.example/timm/")
    assert hub_weights("local-dir:/x", None) is None and hub_weights("ViT-L-14", None) is None


def test_download_then_score_offline(
    geneval_card: Path,
    server: Server,
    tiny_clip_tag: dict[str, torch.Tensor],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MING_EVAL_OFFLINE", "0")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    code, text = run_cli(["data", "download", "geneval"], capsys)
    assert code == 0, text
    assert "evaluation_metadata.jsonl" in text and "detector weights" in text and f"CLIP {TINY_CLIP}" in text
    assert (detector_cache() / CONVERTED_NAME).is_file()
    clip_file = clip_cache() / TINY_HUB.replace("/", "--") / "open_clip_model.safetensors"
    assert clip_file.is_file()
    assert len(server.requests) == 3

    # offline, with the server gone: the scorer finds the detector and CLIP where the download put them
    monkeypatch.setenv("MING_EVAL_OFFLINE", "1")
    server.files.clear()
    task = resolve_task("geneval")
    scorer = GenEvalScorer(task.opts.scorer_settings(), "cpu")  # type: ignore[attr-defined]
    colors = scorer.colors
    assert isinstance(colors, ClipColorClassifier)
    loaded = colors.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in tiny_clip_tag.items())  # the served weights, not random ones
    scorer.close()
    assert len(server.requests) == 3


def test_offline_without_the_clip_weights_says_how_to_get_them(tiny_clip_tag: object) -> None:
    with pytest.raises(DataError, match=r"not cached at .*offline mode is on") as info:
        ClipColorClassifier(TINY_CLIP, "openai", "cpu")
    assert "ming-eval data download geneval" in (info.value.hint or "")
    assert "local-dir:" in (info.value.hint or "")


def test_a_download_cut_short_is_named(tiny_clip_tag: object, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MING_EVAL_OFFLINE", "0")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    path = f"/{TINY_HUB}/resolve/main/open_clip_model.safetensors"
    server.files[path] = server.files[path][:-100]
    with pytest.raises(DataError, match=r"open_clip_model\.safetensors is truncated") as info:
        ClipColorClassifier(TINY_CLIP, "openai", "cpu")
    assert "data download geneval" in (info.value.hint or "")


def test_a_failed_download_points_to_the_offline_ways(
    tiny_clip_tag: object, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MING_EVAL_OFFLINE", "0")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    server.files.clear()
    with pytest.raises(DataError, match="404") as info:
        ClipColorClassifier(TINY_CLIP, "openai", "cpu")
    hint = info.value.hint or ""
    assert "ming-eval data download geneval" in hint and "MING_EVAL_OFFLINE=1" in hint


def test_open_clip_builds_the_tag_s_model_from_the_cached_file(
    tiny_clip_tag: dict[str, torch.Tensor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cached file with the tag's preprocessing and activation is the model the tag itself builds."""
    monkeypatch.setenv("MING_EVAL_OFFLINE", "0")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    ours = ClipColorClassifier(TINY_CLIP, "openai", "cpu")
    served = clip_cache() / TINY_HUB.replace("/", "--") / "open_clip_model.safetensors"
    # open_clip's own tag path, told where the tag's file is (its "file" key skips the download)
    tag = {**oc_pretrained._PRETRAINED[TINY_CLIP]["openai"], "file": str(served)}
    monkeypatch.setitem(oc_pretrained._PRETRAINED[TINY_CLIP], "openai", tag)
    theirs, _, preprocess = open_clip.create_model_and_transforms(TINY_CLIP, pretrained="openai", force_quick_gelu=True)
    theirs.eval()
    assert str(preprocess) == str(ours.preprocess)
    image = Image.new("RGB", (50, 40), (200, 30, 90))
    with torch.no_grad():
        a = ours.model.encode_image(ours.preprocess(image)[None])
        b = theirs.encode_image(preprocess(image)[None])
    assert torch.equal(a, b)
