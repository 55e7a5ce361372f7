"""The understanding task cards and the suite cards agree on which tasks a suite has.

``ming-eval list tasks --suite S`` shows the task cards that name S; ``ming-eval run S`` runs the
suite card's tasks: the two must be the same set.
"""

import pytest

from ming_eval.registry import expand_task_names, list_task_cards


@pytest.mark.parametrize("suite", ["opencompass", "opencompass-leaderboard"])
def test_task_cards_name_exactly_the_suites_tasks(suite):
    named = {card.name for card in list_task_cards() if suite in card.suites}
    assert named == set(expand_task_names([suite]))
