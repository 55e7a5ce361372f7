"""MetaQuery: finding the user's checkout and checkpoint, and driving its pipeline.

There are no MetaQuery weights to build a tiny model from, and MetaQuery's code cannot be shipped in
this project, so the loading path is exercised against a stand-in checkout that this test writes in
the real module layout (``pipeline_metaquery.py`` importing ``models.metaquery``), whose pipeline
records how it is called and paints images from the generators it is given. What this leaves
unverified: that the real ``MetaQueryPipeline`` (transformers 4.49-era code) loads a trained
checkpoint under the transformers/diffusers versions installed here.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from ming_eval.cards.schema import GenerateProtocol
from ming_eval.core.sample import Capability, GenerateRequest
from ming_eval.errors import CheckpointError, ProtocolError
from ming_eval.models.metaquery import REPO_ENV, MetaQueryAdapter, find_checkpoint, find_repo
from ming_eval.registry import get_model_card

FAKE_PIPELINE = """
from models.metaquery import MetaQuery


class MetaQueryPipeline(MetaQuery):
    def __call__(self, caption="", image=None, negative_prompt="", guidance_scale=7.5, image_guidance_scale=1.5,
                 generator=None, num_inference_steps=30, num_images_per_prompt=1, return_dict=True, **kwargs):
        return self.sample_images(caption=caption, input_images=image, negative_prompt=negative_prompt,
                                  guidance_scale=guidance_scale, generator=generator,
                                  num_inference_steps=num_inference_steps,
                                  num_images_per_prompt=num_images_per_prompt, **kwargs)
"""

FAKE_MODEL = """
import json
import os
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

CALLS = []


class MetaQuery:
    def __init__(self, config):
        self.config = SimpleNamespace(**config)

    @classmethod
    def from_pretrained(cls, path, **kwargs):
        with open(os.path.join(path, "config.json")) as fh:
            model = cls(json.load(fh))
        CALLS.append(("from_pretrained", path, kwargs))
        return model

    def to(self, device=None, dtype=None):
        CALLS.append(("to", device, dtype))
        return self

    def eval(self):
        return self

    def sample_images(self, caption, input_images, negative_prompt, guidance_scale, generator,
                      num_inference_steps, num_images_per_prompt, **kwargs):
        CALLS.append(("sample", list(caption), negative_prompt, guidance_scale, num_inference_steps,
                      num_images_per_prompt, len(generator), kwargs))
        size = self.config.input_size * self.config.vae_downsample_f
        images = []
        for text, gen in zip(caption, generator):
            noise = torch.rand((size, size, 3), generator=gen).numpy()
            shade = (sum(map(ord, text)) % 100) / 100.0
            images.append(Image.fromarray(((noise * 0.5 + shade * 0.5) * 255).astype(np.uint8)))
        return SimpleNamespace(images=images)
"""


def write_checkout(root: Path) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "pipeline_metaquery.py").write_text(FAKE_PIPELINE)
    (root / "models" / "metaquery.py").write_text(textwrap.dedent(FAKE_MODEL))
    (root / "models" / "model.py").write_text("")
    (root / "models" / "transformer_encoder.py").write_text("")
    return root


def write_checkpoint(folder: Path, *, model_type: str = "metaquery") -> Path:
    folder.mkdir(parents=True)
    config = {
        "model_type": model_type,
        "input_size": 4,
        "vae_downsample_f": 4,
        "num_metaqueries": 256,
        "mllm_id": "Qwen/Qwen2.5-VL-3B-Instruct",
        "diffusion_model_id": "Efficient-Large-Model/Sana_1600M_512px_diffusers",
    }
    (folder / "config.json").write_text(json.dumps(config))
    save_file({"w": torch.zeros(2)}, str(folder / "model.safetensors"))
    return folder


@pytest.fixture
def clean_imports(monkeypatch):
    """Forget the stand-in checkout's modules and sys.path entry after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name == "pipeline_metaquery" or name == "models" or name.startswith("models."):
            del sys.modules[name]


def card(**options):
    base = get_model_card("metaquery")
    return base.model_copy(update={"options": {**base.options, **options}, "dtype": "float32"})


def test_no_checkout_configured(monkeypatch):
    monkeypatch.delenv(REPO_ENV, raising=False)
    with pytest.raises(CheckpointError, match="checkout of facebookresearch/metaquery") as err:
        find_repo(None)
    assert "METAQUERY_REPO" in str(err.value)


def test_checkout_without_the_pipeline_module(tmp_path):
    (tmp_path / "models").mkdir()
    with pytest.raises(CheckpointError, match=r"not a MetaQuery checkout: missing pipeline_metaquery\.py"):
        find_repo(str(tmp_path))
    with pytest.raises(CheckpointError, match="does not exist"):
        find_repo(str(tmp_path / "nowhere"))


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no released weights"):
        find_checkpoint(None, model="metaquery")
    with pytest.raises(CheckpointError, match="no weights on the hub"):
        find_checkpoint("facebook/metaquery-xl", model="metaquery")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no weights and no checkpoint-<step> folders") as err:
        find_checkpoint(str(tmp_path / "empty"), model="metaquery")
    assert 'model_type "metaquery"' in str(err.value)
    write_checkpoint(tmp_path / "other", model_type="qwen2_5_vl")
    with pytest.raises(CheckpointError, match="model_type 'qwen2_5_vl'"):
        find_checkpoint(str(tmp_path / "other"), model="metaquery")


def test_newest_checkpoint_is_chosen_by_step(tmp_path):
    run = tmp_path / "run"
    for step in (500, 1000, 90):
        write_checkpoint(run / f"checkpoint-{step}")
    (run / "runs").mkdir()
    assert find_checkpoint(str(run), model="metaquery") == run / "checkpoint-1000"
    assert find_checkpoint(str(run / "checkpoint-90"), model="metaquery") == run / "checkpoint-90"


def test_generates_through_the_checkout(tmp_path, monkeypatch, clean_imports):
    repo = write_checkout(tmp_path / "metaquery")
    write_checkpoint(tmp_path / "run" / "checkpoint-200")
    monkeypatch.setenv(REPO_ENV, str(repo))
    adapter = MetaQueryAdapter.from_card(card(), checkpoint=str(tmp_path / "run"), device="cpu")
    assert isinstance(adapter, MetaQueryAdapter)
    calls = sys.modules["models.metaquery"].CALLS
    assert calls[0][0] == "from_pretrained"
    _, path, kwargs = calls[0]
    assert path == str(tmp_path / "run" / "checkpoint-200")
    assert kwargs["ignore_mismatched_sizes"] is True and kwargs["_gradient_checkpointing"] is False
    assert kwargs.get("dtype", kwargs.get("torch_dtype")) == torch.float32
    assert calls[1] == ("to", "cpu", torch.float32)

    protocol = get_model_card("metaquery").protocol_for("geneval", Capability.GENERATE)
    protocol = protocol.model_copy(update={"height": 16, "width": 16})
    requests = [GenerateRequest("a cat", 2, (1, 2), (0, 1)), GenerateRequest("a dog", 1, (1,), (0,))]
    images = adapter.generate(requests, protocol)
    assert [len(x) for x in images] == [2, 1] and images[0][0].size == (16, 16)
    _, captions, negative, cfg, steps, per_prompt, n_generators, extra = calls[-1]
    assert captions == ["a cat", "a cat", "a dog"] and n_generators == 3 and per_prompt == 1
    assert (negative, cfg, steps) == ("", 7.5, 30) and extra == {"enable_progress_bar": False}
    again = adapter.generate([GenerateRequest("a cat", 1, (2,), (0,))], protocol)[0][0]
    np.testing.assert_array_equal(np.asarray(again), np.asarray(images[0][1]))

    with pytest.raises(ProtocolError, match="makes 16x16 images"):
        adapter.generate(requests, GenerateProtocol(steps=30, cfg=7.5, height=512, width=512))


def test_repo_path_option_wins_over_environment(tmp_path, monkeypatch, clean_imports):
    repo = write_checkout(tmp_path / "mq")
    write_checkpoint(tmp_path / "ckpt")
    monkeypatch.setenv(REPO_ENV, str(tmp_path / "not-there"))
    adapter = MetaQueryAdapter.from_card(card(repo_path=str(repo)), checkpoint=str(tmp_path / "ckpt"), device="cpu")
    assert adapter.repo == repo.resolve()


def test_another_models_package_is_not_shadowed(tmp_path, monkeypatch, clean_imports):
    import types

    repo = write_checkout(tmp_path / "mq")
    write_checkpoint(tmp_path / "ckpt")
    impostor = types.ModuleType("models")
    impostor.__file__ = str(tmp_path / "elsewhere" / "models" / "__init__.py")
    monkeypatch.setitem(sys.modules, "models", impostor)
    with pytest.raises(CheckpointError, match="a different Python module named 'models'"):
        MetaQueryAdapter.from_card(card(repo_path=str(repo)), checkpoint=str(tmp_path / "ckpt"), device="cpu")


def test_generate_protocol_needs_steps_and_cfg():
    assert MetaQueryAdapter.check_protocol(Capability.GENERATE, GenerateProtocol()) == [
        "generate.steps is not set",
        "generate.cfg is not set",
    ]
