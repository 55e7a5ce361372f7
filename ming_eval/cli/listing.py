"""``ming-eval list tasks|models``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

EXAMPLES = """
[bold]Examples[/]

  ming-eval list tasks
  ming-eval list models
  ming-eval list tasks --suite opencompass
"""

list_app = typer.Typer(help="List the registered tasks or models.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(list_app, name="list", epilog=EXAMPLES)


@list_app.command("tasks", epilog=EXAMPLES)
def list_tasks(
    suite: Annotated[str | None, typer.Option(help="Only tasks of this suite.")] = None,
) -> None:
    """The task cards found (built in, $MING_EVAL_CARDS_PATH, installed plugins)."""
    from ming_eval.cli.app import console
    from ming_eval.registry import list_suite_cards, list_task_cards, suites_of

    table = Table(title="tasks", title_style="bold")
    for col in ("name", "capability", "suites", "description", "card"):
        table.add_column(col)
    for card in list_task_cards():
        member_of = suites_of(card.name)
        if suite and suite not in member_of:
            continue
        table.add_row(card.name, card.capability.value, ", ".join(member_of), card.description, str(card.source or ""))
    console.print(table)
    suites = [s for s in list_suite_cards() if not suite or s.name == suite]
    if suites:
        st = Table(title="suites (run them by name)", title_style="bold")
        for col in ("name", "tasks", "description"):
            st.add_column(col)
        for s in suites:
            st.add_row(s.name, ", ".join(s.tasks), s.description)
        console.print(st)


@list_app.command("models", epilog=EXAMPLES)
def list_models() -> None:
    """The model cards found (built in, $MING_EVAL_CARDS_PATH, installed plugins)."""
    from ming_eval.cli.app import console
    from ming_eval.registry import list_model_cards

    table = Table(title="models", title_style="bold")
    for col in ("name", "capabilities", "checkpoint", "dtype", "description"):
        table.add_column(col)
    for card in list_model_cards():
        table.add_row(
            card.name,
            ", ".join(c.value for c in card.capabilities),
            card.checkpoint or "-",
            card.dtype,
            card.description,
        )
    console.print(table)
