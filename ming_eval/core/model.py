"""The Model contract: batch-native understanding, generation and editing.

An adapter is a model card (``model_zoo/<name>.yaml``) plus a class implementing :class:`Model`,
usually by subclassing :class:`BaseModelAdapter`. Methods take a whole batch and the protocol for the
task at hand; the runner never assumes a batch of one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ValidationError

from ming_eval.cards.loader import format_validation_error, validation_problems
from ming_eval.cards.schema import DEFAULT_EXTRAS, GenerateProtocol, ModelCard, NoOptions, UnderstandProtocol
from ming_eval.core.sample import Capability, EditRequest, GenerateRequest, UnderstandRequest
from ming_eval.errors import CapabilityError, CardError, ProtocolError

if TYPE_CHECKING:
    from PIL import Image

E = TypeVar("E", bound=BaseModel)


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

    Subclasses set ``capabilities``, optionally an ``Options`` model for the card's ``options``,
    ``required_protocol``: the protocol fields a capability cannot run without, and
    ``ProtocolExtras``: per capability, the model of the protocol's ``extra`` block (a subclass of
    :data:`~ming_eval.cards.schema.DEFAULT_EXTRAS`' entry, which is the default). Both are checked at
    plan time, before any weights are loaded. ``device`` is a torch device string chosen by the runner.
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    Options: ClassVar[type[BaseModel]] = NoOptions
    required_protocol: ClassVar[dict[Capability, tuple[str, ...]]] = {}
    #: False for adapters that run no torch code (a remote endpoint): the runner then picks no
    #: accelerator for them and never imports torch on their behalf
    needs_torch: ClassVar[bool] = True
    ProtocolExtras: ClassVar[Mapping[Capability, type[BaseModel]]] = {}

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
    def locate_checkpoint(cls, checkpoint: str, revision: str | None) -> tuple[str | None, str]:
        """Where ``checkpoint`` (a card's or ``--checkpoint``'s value) is on this machine (None: not
        here) and the command that fetches it, without loading anything (``ming-eval doctor``). The
        default: a local path, or a Hugging Face hub id found in the hub's cache."""
        from pathlib import Path

        if Path(checkpoint).expanduser().exists():
            return str(Path(checkpoint).expanduser()), ""
        fetch = f"hf download {checkpoint}" + (f" --revision {revision}" if revision else "")
        try:
            from huggingface_hub import snapshot_download

            return str(snapshot_download(checkpoint, revision=revision, local_files_only=True)), fetch
        except Exception:  # not cached, not a hub id, or no huggingface_hub: either way not here
            return None, fetch

    @classmethod
    def extras_model(cls, capability: Capability) -> type[BaseModel]:
        """The model of ``protocol.<capability>.extra`` for this adapter."""
        model = cls.ProtocolExtras.get(capability, DEFAULT_EXTRAS[capability])
        base = DEFAULT_EXTRAS[capability]
        if not issubclass(model, base):
            raise TypeError(f"{cls.__name__}.ProtocolExtras[{capability.value}] must subclass {base.__name__}")
        return model

    @classmethod
    def check_card_extras(cls, card: ModelCard) -> None:
        """Every ``extra`` block of ``card`` (its protocol and each per-task override) against
        :attr:`ProtocolExtras`: an unknown key or a bad value is a :class:`CardError` naming the card,
        the key path (``tasks.<task>.<capability>.extra.<key>`` for an override) and the allowed keys."""
        blocks = [(("protocol",), card.protocol)] + [(("tasks", task), block) for task, block in card.tasks.items()]
        problems: list[str] = []
        for prefix, block in blocks:
            for capability in Capability:
                protocol = getattr(block, capability.value)
                if protocol is not None and "extra" in protocol.model_fields_set:
                    problems += cls._extras_problems(capability, protocol.extra, (*prefix, capability.value, "extra"))
        if problems:
            raise CardError(
                f"model card {card.source or card.name} has protocol extras that {cls.__name__} does not take:\n"
                + "\n".join(f"  - {p}" for p in problems),
                hint="fix or remove these keys in the card",
            )

    @classmethod
    def check_protocol(cls, capability: Capability, protocol: UnderstandProtocol | GenerateProtocol) -> list[str]:
        """What is wrong with ``protocol`` for ``capability``: fields this adapter needs but the card
        leaves unset, and ``extra`` keys or values its :attr:`ProtocolExtras` does not take."""
        needed = cls.required_protocol.get(capability, ())
        problems = [f"{capability.value}.{name} is not set" for name in needed if getattr(protocol, name) is None]
        return problems + cls._extras_problems(capability, protocol.extra, (capability.value, "extra"))

    @classmethod
    def _extras_problems(cls, capability: Capability, extra: dict[str, Any], at: tuple[str, ...]) -> list[str]:
        """One line per key of ``extra`` (found at path ``at``) that :attr:`ProtocolExtras` refuses."""
        model = cls.extras_model(capability)
        try:
            model.model_validate(extra)
        except ValidationError as exc:
            return validation_problems(exc, model, at)
        return []

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


def protocol_extras(model: type[E], capability: Capability, protocol: UnderstandProtocol | GenerateProtocol) -> E:
    """``protocol.extra`` as the adapter's typed ``model``. Plan time has checked the card already;
    a protocol built in code that does not validate is a :class:`ProtocolError`, before any work."""
    try:
        return model.model_validate(protocol.extra)
    except ValidationError as exc:
        raise ProtocolError(
            format_validation_error(f"the {capability.value} protocol", exc, model, (capability.value, "extra"))
        ) from None
