"""Understanding on the tiny checkpoint: batching, stopping, sampling seeds, inputs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from PIL import Image
from torch import nn

from ming_eval.cards.schema import UnderstandProtocol
from ming_eval.core.sample import ImagePart, ImageRef, TextPart, UnderstandRequest
from ming_eval.errors import DataError
from ming_eval.models.ming_lite_uni.decoding import Sampling, generate_text
from tests.models.ming_lite_uni_support import make_image, tiny_adapter


def _requests() -> list[UnderstandRequest]:
    grad = ImageRef.from_pil(make_image("gradient"), "gradient.png")
    check = ImageRef.from_pil(make_image("checker"), "checker.png")
    return [
        UnderstandRequest((ImagePart(grad), TextPart("What colour is the square?"))),
        UnderstandRequest((TextPart("Question: which option is correct? A. red B. green. Answer:"),)),
        UnderstandRequest((TextPart("Compare "), ImagePart(check), TextPart(" and "), ImagePart(grad))),
        UnderstandRequest((ImagePart(check), TextPart("Describe the picture in detail.")), system="Be brief."),
    ]


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    return tiny_adapter(tmp_path_factory)


def test_batched_answers_equal_one_by_one(adapter):
    protocol = UnderstandProtocol(max_new_tokens=6)
    requests = _requests()
    together = adapter.understand(requests, protocol)
    alone = [adapter.understand([r], protocol)[0] for r in requests]
    assert together == alone
    assert all(isinstance(t, str) for t in together)


def test_sampling_draws_each_answer_from_its_own_seed(adapter):
    protocol = UnderstandProtocol(max_new_tokens=6, do_sample=True, temperature=1.5, top_p=0.9)
    base = _requests()[:2]
    requests = [UnderstandRequest(r.content, r.system, seed=100 + i) for i, r in enumerate(base)]
    together = adapter.understand(requests, protocol)
    assert together == [adapter.understand([r], protocol)[0] for r in requests]


def test_bad_images_name_their_source(adapter):
    bad = ImageRef.from_bytes(b"not an image", "mmbench row 17")
    with pytest.raises(DataError, match="mmbench row 17"):
        adapter.understand([UnderstandRequest((ImagePart(bad), TextPart("?")))], UnderstandProtocol())
    strip = ImageRef.from_pil(Image.new("RGB", (3000, 10)), "ocrbench row 3")
    with pytest.raises(DataError, match=r"(?s)ocrbench row 3 \(3000x10\).*200:1"):
        adapter.understand([UnderstandRequest((ImagePart(strip), TextPart("?")))], UnderstandProtocol())


class ScriptedDecoder(nn.Module):
    """A stand-in decoder: the next token is ``script[last input token]``; records positions it saw."""

    def __init__(self, script: dict[int, int], vocab: int = 16) -> None:
        super().__init__()
        self.script = script
        self.embed = nn.Embedding(vocab, vocab)
        self.embed.weight.data = torch.eye(vocab)
        self.config = None
        self.seen: list[torch.Tensor] = []

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed

    def forward(self, inputs_embeds, attention_mask, position_ids, past_key_values=None, use_cache=False):
        self.seen.append(position_ids.clone())
        last = inputs_embeds[:, -1].argmax(-1)
        nxt = torch.tensor([self.script.get(int(t), 0) for t in last])
        hidden = torch.zeros(inputs_embeds.shape[0], inputs_embeds.shape[1], self.embed.num_embeddings)
        hidden[torch.arange(len(nxt)), -1, nxt] = 1.0
        return SimpleNamespace(last_hidden_state=hidden)


def test_rows_stop_at_im_end_and_advance_their_own_positions():
    stop = 15
    model = ScriptedDecoder({5: 6, 6: 7, 7: stop, 1: 2, 2: 3, 3: 4, 4: 1})
    embeds = model.embed(torch.tensor([[0, 0, 5], [9, 1, 1]]))
    mask = torch.tensor([[0, 1, 1], [1, 1, 1]])
    positions = torch.zeros(3, 2, 3, dtype=torch.long)
    out = generate_text(
        model, nn.Identity(), embeds, mask, positions, torch.tensor([2, 40]), max_new_tokens=6, stop_id=stop,
        sampling=Sampling(),
    )  # fmt: skip
    assert out == [[6, 7], [2, 3, 4, 1, 2, 3]]  # row 0 stops at <|im_end|>, row 1 runs to the limit
    steps = model.seen[1:]
    assert [s[:, 0, 0].tolist() for s in steps[:2]] == [[2, 2, 2], [3, 3, 3]]  # text advances all three axes
    assert [s[0, 1, 0].item() for s in steps] == [40, 41, 42, 43, 44]


def test_card_system_prompt_wins_over_the_tasks(adapter, monkeypatch):
    """As every other adapter (text_generation.system_prompt): the card's protocol, else the task's."""
    seen: list[str | None] = []
    build = adapter.model.prompts.build

    def spy(question, *, system=None, generate_image):
        seen.append(system)
        return build(question, system=system, generate_image=generate_image)

    monkeypatch.setattr(adapter.model.prompts, "build", spy)
    task = UnderstandRequest((TextPart("hi"),), system="Task prompt.")
    adapter.understand(
        [task, UnderstandRequest(task.content)], UnderstandProtocol(max_new_tokens=1, system_prompt="Card prompt.")
    )
    adapter.understand([task, UnderstandRequest(task.content)], UnderstandProtocol(max_new_tokens=1))
    assert seen == ["Card prompt.", "Card prompt.", "Task prompt.", None]
