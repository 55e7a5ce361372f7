"""Whether a grader's checkpoint is on this machine, without loading it (for ``ming-eval doctor``)."""

from __future__ import annotations

from typing import Any

from ming_eval.core.task import Prerequisite
from ming_eval.errors import MingEvalError
from ming_eval.graders.base import ZooSpec, parse_spec


def grader_prerequisite(spec: Any, where: str) -> Prerequisite | None:
    """The checkpoint of a zoo grader as a :class:`Prerequisite`; None for an endpoint (nothing to
    fetch: ``doctor`` probes the endpoint itself)."""
    from ming_eval.registry import get_model_card
    from ming_eval.runner.plan import load_model_class

    parsed = parse_spec(spec, where)
    if not isinstance(parsed, ZooSpec):
        return None
    what = f"grader {parsed.card}"
    try:
        card = get_model_card(parsed.card)
        checkpoint = parsed.checkpoint or card.checkpoint
        if not checkpoint:
            return Prerequisite(what, None, f"set `checkpoint:` in the model card {card.source or card.name}")
        location, fetch = load_model_class(card).locate_checkpoint(checkpoint, card.revision)
    except MingEvalError as exc:
        return Prerequisite(what, None, f"cannot tell: {exc.message}")
    return Prerequisite(f"{what} ({checkpoint})", location, fetch)
