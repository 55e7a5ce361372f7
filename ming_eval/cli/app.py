"""The ``ming-eval`` command line. Each command lives in its own module and registers itself here."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from ming_eval.errors import MingEvalError

app = typer.Typer(
    name="ming-eval",
    help="Evaluate unified multimodal models: GenEval, the OpenCompass understanding suites, "
    "leaderboards and regression gates.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)

console = Console(stderr=False)
err_console = Console(stderr=True)


def _register() -> None:
    from ming_eval.cli import data, doctor, geneval_detector, listing, run, score, selftest

    for module in (run, score, listing, data, doctor, selftest, geneval_detector):
        module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; user errors are printed without a traceback."""
    _register()
    try:
        app(args=argv, standalone_mode=False)
    except MingEvalError as exc:
        err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False)
        if exc.hint:
            err_console.print(f"[cyan]hint:[/] {exc.hint}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: everything finished so far is saved; run the same "
                          "command again to resume")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
