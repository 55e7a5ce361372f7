"""``ming-eval data download|verify``: prefetch and check task data, for clusters without internet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

if TYPE_CHECKING:
    from ming_eval.data.files import DataFiles

EXAMPLES = """
[bold]Examples[/]

  ming-eval data download geneval mmbench_dev_en
  MING_EVAL_CACHE=/shared/cache ming-eval data download geneval   # then copy /shared/cache
  ming-eval data verify geneval
"""

data_app = typer.Typer(help="Download and verify task data.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data", epilog=EXAMPLES)


def _files(task_name: str) -> DataFiles:
    from ming_eval.runner.plan import resolve_task, task_data_files

    return task_data_files(resolve_task(task_name))


@data_app.command("download", epilog=EXAMPLES)
def download(tasks: Annotated[list[str], typer.Argument(help="Task names.")]) -> None:
    """Fetch every data file of TASKS into the cache and verify its checksum."""
    from ming_eval.cli.app import console
    from ming_eval.registry import expand_task_names
    from ming_eval.runner.plan import resolve_task

    for name in expand_task_names(tasks):
        files = _files(name)
        for spec in files.specs.values():
            path = files.path(spec.name)
            console.print(f"[green]ok[/] {name}: {spec.name} -> {path}")
        fetched = resolve_task(name).prefetch(files)
        for line in fetched:
            console.print(f"[green]ok[/] {name}: {line}")
        if not files.specs and not fetched:
            console.print(f"{name}: no data files to download")


@data_app.command("verify", epilog=EXAMPLES)
def verify(tasks: Annotated[list[str], typer.Argument(help="Task names.")]) -> None:
    """Check that every data file of TASKS is present and has the pinned checksum (no download)."""
    from ming_eval.cli.app import console
    from ming_eval.registry import expand_task_names

    tasks = expand_task_names(tasks)
    table = Table(title="data files", title_style="bold")
    for col in ("task", "file", "state", "path"):
        table.add_column(col)
    bad = 0
    for name in tasks:
        for file_name, path, state in _files(name).status():
            ok = state == "verified" or state == "missing (optional)"
            style = "green" if state == "verified" else ("yellow" if ok else "red")
            bad += not ok
            table.add_row(name, file_name, f"[{style}]{state}[/]", str(path or "-"))
    console.print(table)
    if bad:
        raise typer.Exit(1)
