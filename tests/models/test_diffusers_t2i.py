"""The diffusion baselines (SDXL, SD3, Sana, FLUX) on tiny random diffusers checkpoints, on CPU."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ming_eval.cards.schema import GenerateProtocol
from ming_eval.core.sample import Capability, GenerateRequest
from ming_eval.errors import CheckpointError, ProtocolError
from ming_eval.models.diffusers_t2i import DiffusersT2IAdapter, SDXLAdapter
from ming_eval.registry import get_model_card
from tests.models.zoo_support import check_images_follow_their_seeds, load, single_threaded, tiny_cards

CARDS = ["sdxl", "sd3-medium", "sana-1600m", "flux.1-dev"]

setup_module, teardown_module = single_threaded()


@pytest.fixture(scope="module")
def adapters() -> dict[str, DiffusersT2IAdapter]:
    out = {}
    for name in CARDS:
        adapter = load(tiny_cards(name))
        assert isinstance(adapter, DiffusersT2IAdapter)
        out[name] = adapter
    return out


def _protocol(card) -> GenerateProtocol:
    return card.protocol_for("geneval", Capability.GENERATE)


@pytest.mark.parametrize("name", CARDS)
def test_images_follow_their_seeds(name, adapters):
    # same starting noise per seed; batched matrix products may round a level or two differently
    check_images_follow_their_seeds(adapters[name], _protocol(tiny_cards(name)), size=64, tolerance=2)


def test_negative_prompt_and_pipeline_kwargs_reach_the_pipeline(adapters):
    adapter = adapters["sana-1600m"]
    base = _protocol(tiny_cards("sana-1600m"))
    kwargs = adapter.call_kwargs(base.model_copy(update={"negative_prompt": "blurry"}), rows=3)
    assert kwargs["negative_prompt"] == ["blurry"] * 3 and kwargs["use_resolution_binning"] is False
    assert (kwargs["num_inference_steps"], kwargs["height"], kwargs["width"]) == (2, 64, 64)


def test_unknown_pipeline_kwarg_is_a_protocol_error(adapters):
    protocol = _protocol(tiny_cards("flux.1-dev")).model_copy(update={"extra": {"pipeline_kwargs": {"strength": 1}}})
    with pytest.raises(ProtocolError, match="unknown strength") as err:
        adapters["flux.1-dev"].generate([GenerateRequest("x", 1, (1,), (0,))], protocol)
    assert "max_sequence_length" in str(err.value)  # the hint lists what the pipeline accepts


def test_incomplete_protocol_is_reported_per_field():
    problems = SDXLAdapter.check_protocol(Capability.GENERATE, GenerateProtocol(cfg=9.0))
    assert problems == ["generate.steps is not set", "generate.height is not set", "generate.width is not set"]


def test_pipeline_arguments_the_adapter_sets_are_refused_before_loading():
    extra = {"pipeline_kwargs": {"num_images_per_prompt": 4, "max_sequence_length": 512}}
    protocol = GenerateProtocol(steps=2, cfg=1.0, height=64, width=64, extra=extra)
    assert SDXLAdapter.check_protocol(Capability.GENERATE, protocol) == [
        "generate.extra.pipeline_kwargs: Value error, num_images_per_prompt is set by the adapter (got {...})"
    ]


def test_missing_component_names_it(tmp_path):
    card = tiny_cards("sdxl")
    folder = Path(shutil.copytree(card.checkpoint, tmp_path / "sdxl"))
    shutil.rmtree(folder / "text_encoder_2")
    with pytest.raises(CheckpointError, match="missing component 'text_encoder_2'") as err:
        load(card, checkpoint=str(folder))
    assert "model_index.json" in str(err.value)


def test_component_without_weights_is_refused(tmp_path):
    card = tiny_cards("sd3-medium")
    folder = Path(shutil.copytree(card.checkpoint, tmp_path / "sd3"))
    for weights in (folder / "transformer").glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(CheckpointError, match=r"component 'transformer' .* has no weights"):
        load(card, checkpoint=str(folder))


def test_truncated_component_weights_are_named_before_loading(tmp_path):
    card = tiny_cards("sdxl")
    folder = Path(shutil.copytree(card.checkpoint, tmp_path / "sdxl"))
    weights = next((folder / "unet").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-64])  # a download cut short
    with pytest.raises(CheckpointError, match="is truncated") as err:
        load(card, checkpoint=str(folder))
    assert str(weights) in err.value.message and "\n" not in err.value.message
    assert "re-download" in (err.value.hint or "")


def test_wrong_pipeline_family_is_refused():
    with pytest.raises(CheckpointError, match="holds a SanaPipeline but this card's adapter runs a FluxPipeline"):
        load(tiny_cards("flux.1-dev"), checkpoint=tiny_cards("sana-1600m").checkpoint)


def test_folder_without_model_index_is_refused(tmp_path):
    (tmp_path / "unet").mkdir()
    with pytest.raises(CheckpointError, match=r"no model_index\.json"):
        load(get_model_card("sdxl"), checkpoint=str(tmp_path))


def test_saved_layout_is_the_hub_layout():
    index = json.loads((Path(tiny_cards("sdxl").checkpoint) / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionXLPipeline"
    assert index["tokenizer"] == ["transformers", "CLIPTokenizer"]
    assert index["text_encoder_2"] == ["transformers", "CLIPTextModelWithProjection"]


def test_hub_download_failure_is_a_checkpoint_error(monkeypatch):
    import diffusers

    seen = {}

    def fail(repo_id, **kwargs):
        seen.update(kwargs, repo_id=repo_id)
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(diffusers.DiffusionPipeline, "download", fail)
    with pytest.raises(CheckpointError, match=r"cannot get diffusers checkpoint black-forest-labs/FLUX\.1-dev") as err:
        load(get_model_card("sana-1600m"), checkpoint="black-forest-labs/FLUX.1-dev")
    assert "hf download black-forest-labs/FLUX.1-dev" in str(err.value)
    assert seen == {
        "repo_id": "black-forest-labs/FLUX.1-dev",
        "revision": None,
        "variant": "bf16",
        "local_files_only": True,
    }
