"""The Model contract: batch-native understanding, generation and editing.

An adapter is a model card (``model_zoo/<name>.yaml``) plus a class implementing :class:`Model`,
usually by subclassing :class:`BaseModelAdapter`. Methods take a whole batch and the protocol for the
task at hand; the runner never assumes a batch of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol, runtime_checkable

from PIL import Image
from pydantic import BaseModel

from ming_eval.cards.schema import GenerateProtocol, ModelCard, NoOptions, UnderstandProtocol
from ming_eval.core.sample import Capability, EditRequest, GenerateRequest, UnderstandRequest
from ming_eval.errors import CapabilityError


@runtime_checkable
class Model(Protocol):
    """What the runner calls. Each method returns one result per request, in order."""

    capabilities: ClassVar[frozenset[Capability]]

    def understand(self, requests: Sequence[UnderstandRequest], protocol: UnderstandProtocol) -> list[str]: ...

    def generate(self, requests: Sequence[GenerateRequest], protocol: GenerateProtocol) -> list[list[Image.Image]]: ...

    def edit(self, requests: Sequence[EditRequest], protocol: GenerateProtocol) -> list[list[Image.Image]]: ...

    def close(self) -> None: ...


class BaseModelAdapter:
    """Base of the adapters in ``ming_eval.models``.

    Subclasses set ``capabilities``, optionally an ``Options`` model for the card's ``options``, and
    ``required_protocol``: the protocol fields a capability cannot run without (checked before any
    weights are loaded). ``device`` is a torch device string chosen by the runner.
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    Options: ClassVar[type[BaseModel]] = NoOptions
    required_protocol: ClassVar[dict[Capability, tuple[str, ...]]] = {}

    def __init__(self, card: ModelCard, options: BaseModel, checkpoint: str | None, device: str) -> None:
        self.card = card
        self.options = options
        self.checkpoint = checkpoint or card.checkpoint
        self.device = device

    @classmethod
    def from_card(cls, card: ModelCard, *, checkpoint: str | None = None, device: str = "cpu") -> BaseModelAdapter:
        from ming_eval.registry import validate_options

        options = validate_options(cls, dict(card.options), f"model card {card.source or card.name}")
        return cls(card, options, checkpoint, device)

    @classmethod
    def check_protocol(cls, capability: Capability, protocol: UnderstandProtocol | GenerateProtocol) -> list[str]:
        """Protocol fields this adapter needs for ``capability`` but the card leaves unset."""
        needed = cls.required_protocol.get(capability, ())
        return [f"{capability.value}.{name} is not set" for name in needed if getattr(protocol, name) is None]

    def _unsupported(self, capability: Capability) -> CapabilityError:
        return CapabilityError(f"model {self.card.name} cannot {capability.value}")

    def understand(self, requests: Sequence[UnderstandRequest], protocol: UnderstandProtocol) -> list[str]:
        raise self._unsupported(Capability.UNDERSTAND)

    def generate(self, requests: Sequence[GenerateRequest], protocol: GenerateProtocol) -> list[list[Image.Image]]:
        raise self._unsupported(Capability.GENERATE)

    def edit(self, requests: Sequence[EditRequest], protocol: GenerateProtocol) -> list[list[Image.Image]]:
        raise self._unsupported(Capability.EDIT)

    def close(self) -> None:
        """Drop references to weights so their memory can be freed."""
