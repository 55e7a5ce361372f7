"""Every card shipped with ming-eval loads: its class imports, its options validate, its suites' tasks and
summaries resolve."""

import pytest

from ming_eval.registry import (
    list_model_cards,
    list_suite_cards,
    list_task_cards,
    summary_catalog,
    validate_options,
)
from ming_eval.runner.plan import load_model_class, load_task


@pytest.mark.parametrize("card", list_task_cards(), ids=lambda c: c.name)
def test_task_card_builds(card):
    task = load_task(card)
    assert task.name == card.name and task.capability == card.capability


@pytest.mark.parametrize("card", list_model_cards(), ids=lambda c: c.name)
def test_model_card_builds(card):
    cls = load_model_class(card)
    validate_options(cls, dict(card.options), f"model card {card.source}")
    assert set(card.capabilities) <= cls.capabilities
    cls.check_card_extras(card)  # every protocol extra is one the adapter takes
    for cap in card.capabilities:
        card.protocol_for("any-task", cap)  # the protocol blocks validate


def test_suites_name_known_tasks():
    tasks = {c.name for c in list_task_cards()}
    suites = {s.name for s in list_suite_cards()}
    for suite in list_suite_cards():
        assert set(suite.tasks) <= tasks | suites, suite.name


def test_suite_summaries_resolve_to_known_tasks():
    tasks = {c.name for c in list_task_cards()}
    catalog = summary_catalog()  # raises on duplicate keys or members without a single value
    assert catalog.keys
    for key in catalog.keys:
        assert set(catalog.tasks(key)) <= tasks, key
