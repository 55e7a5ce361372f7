"""The editing baselines (InstructPix2Pix) on tiny random diffusers checkpoints, on CPU."""

from __future__ import annotations

import numpy as np
import pytest

from ming_eval.cards.schema import GenerateProtocol
from ming_eval.core.sample import Capability, EditRequest
from ming_eval.errors import ProtocolError
from ming_eval.models.diffusers_edit import DiffusersEditAdapter, InstructPix2PixAdapter
from tests.models.zoo_support import color_image, load, single_threaded, tiny_cards

CARDS = ["instruct-pix2pix"]

setup_module, teardown_module = single_threaded()


@pytest.fixture(scope="module")
def adapters() -> dict[str, DiffusersEditAdapter]:
    out = {}
    for name in CARDS:
        adapter = load(tiny_cards(name))
        assert isinstance(adapter, DiffusersEditAdapter)
        out[name] = adapter
    return out


def _protocol(name: str) -> GenerateProtocol:
    protocol = tiny_cards(name).protocol_for("gedit_bench", Capability.EDIT)
    assert isinstance(protocol, GenerateProtocol)
    return protocol


def _pixels(images) -> list[np.ndarray]:
    return [np.asarray(i, dtype=np.int16) for i in images]


@pytest.mark.parametrize("name", CARDS)
def test_edits_follow_their_seeds_alone_or_in_a_batch(name, adapters):
    adapter, protocol = adapters[name], _protocol(name)
    red, blue = color_image((200, 20, 20), (64, 48)), color_image((20, 20, 200), (64, 64))
    batch = adapter.edit(
        [EditRequest(red, "make it blue", 2, (5, 6), (0, 1)), EditRequest(blue, "add a cat", 1, (7,), (0,))], protocol
    )
    alone = adapter.edit([EditRequest(blue, "add a cat", 1, (7,), (0,))], protocol)
    again = adapter.edit([EditRequest(red, "make it blue", 1, (6,), (0,))], protocol)
    assert [len(x) for x in batch] == [2, 1]
    assert np.abs(_pixels(batch[1])[0] - _pixels(alone[0])[0]).max() <= 2
    assert np.abs(_pixels(batch[0])[1] - _pixels(again[0])[0]).max() <= 2
    assert np.abs(_pixels(batch[0])[0] - _pixels(batch[0])[1]).max() > 10  # another seed, another edit


def test_instruct_pix2pix_keeps_the_source_size_and_takes_image_guidance(adapters):
    adapter, protocol = adapters["instruct-pix2pix"], _protocol("instruct-pix2pix")
    [[edited]] = adapter.edit([EditRequest(color_image((9, 9, 9), (64, 48)), "x", 1, (1,), (0,))], protocol)
    assert edited.size == (64, 48)
    kwargs = adapter.edit_kwargs(protocol.model_copy(update={"image_cfg": 1.2}))
    assert kwargs["image_guidance_scale"] == 1.2 and kwargs["num_inference_steps"] == 2
    with_cfg = adapter.edit(
        [EditRequest(color_image((9, 9, 9), (64, 48)), "x", 1, (1,), (0,))],
        protocol.model_copy(update={"image_cfg": 3.0}),
    )
    assert np.abs(_pixels(with_cfg[0])[0] - _pixels([edited])[0]).max() > 0


def test_a_pipeline_argument_it_does_not_take_is_a_protocol_error(adapters):
    protocol = _protocol("instruct-pix2pix").model_copy(update={"extra": {"pipeline_kwargs": {"strength": 1}}})
    with pytest.raises(ProtocolError, match="takes no strength") as err:
        adapters["instruct-pix2pix"].edit([EditRequest(color_image((1, 2, 3)), "x", 1, (1,), (0,))], protocol)
    assert "image_guidance_scale" in str(err.value)


def test_the_card_asks_for_steps_and_guidance():
    assert InstructPix2PixAdapter.check_protocol(Capability.EDIT, GenerateProtocol()) == [
        "edit.steps is not set",
        "edit.cfg is not set",
    ]
