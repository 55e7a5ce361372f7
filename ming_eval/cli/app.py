"""The ``ming-eval`` command line. Each command lives in its own module and registers itself here."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from ming_eval.errors import MingEvalError, storage_error
from ming_eval.redaction import redact_text

app = typer.Typer(
    name="ming-eval",
    help="Evaluate unified multimodal models: GenEval, the OpenCompass understanding suites, "
    "leaderboards and regression gates.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from ming_eval import __version__

        typer.echo(f"ming-eval {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Evaluate unified multimodal models: GenEval, the OpenCompass understanding suites, leaderboards
    and regression gates."""


console = Console(stderr=False)
#: the width of tables written to a pipe or a file (a terminal's own width is used otherwise)
PIPED_WIDTH = 1000
err_console = Console(stderr=True)


#: each command's module under ming_eval.cli, in the order ``--help`` lists them
COMMANDS = {
    "run": "run",
    "score": "score",
    "report": "report",
    "leaderboard": "leaderboard",
    "compare": "compare",
    "list": "listing",
    "data": "data",
    "doctor": "doctor",
    "selftest": "selftest",
    "geneval": "geneval_detector",
    "mplug": "mplug",
}

_registered: set[str] = set()


def _register(args: list[str] | None = None) -> None:
    """Register the command named in ``args`` only (its module and what it imports, not every
    command's: start-up is most of a finished run's re-run); every command without ``args`` or for
    anything else (``--help``, no command, a misspelt one)."""
    import importlib

    named = next((a for a in args or [] if not a.startswith("-")), None)
    wanted = [COMMANDS[named]] if named in COMMANDS else list(COMMANDS.values())
    for module in wanted:
        if module not in _registered:
            importlib.import_module(f"ming_eval.cli.{module}").register(app)
            _registered.add(module)


def _print_error(exc: MingEvalError) -> None:
    from rich.markup import escape

    # messages hold paths, lists and pip extras ("ming-eval[geneval]") that are not rich markup
    # soft_wrap: the terminal wraps long lines, so a path or URL is never broken by an inserted newline
    err_console.print(f"[bold red]error:[/] {escape(redact_text(exc.message))}", highlight=False, soft_wrap=True)
    if exc.hint:
        err_console.print(f"[cyan]hint:[/] {escape(redact_text(exc.hint))}", highlight=False, soft_wrap=True)


def _print_traceback() -> None:
    import traceback

    err_console.print(redact_text(traceback.format_exc()), markup=False, highlight=False, soft_wrap=True)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler, torchrun or ``run --ranks`` stopping this process), handled as Ctrl-C is:
    the command stops where it is, the manifest records how it ended, the run directory's lock is
    released, and the process exits with 143."""


#: the signal that is stopping this process's command, if one is (typer hands back 130 for both)
_stopping: list[int] = []


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _stopping.append(signum)
    raise KeyboardInterrupt


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a next SIGTERM ends the process at once (a clean-up stuck)
    if _stopping:  # after Ctrl-C: `run --ranks` passing it on to ranks the terminal interrupted already
        return  # (the clean-up under way is not cut short)
    _stopping.append(signum)
    raise Terminated("stopped by SIGTERM")


def _print_interrupted(how: str = "interrupted") -> None:
    """What Ctrl-C (or SIGTERM: ``how``) left on disk, and the command that resumes; said once, by
    rank 0 (the other ranks of a run hold no lock, and Ctrl-C reaches every one of them)."""
    import shlex

    from rich.markup import escape

    from ming_eval.runner.launch import launched_ranks
    from ming_eval.store.guard import last_locked_run
    from ming_eval.store.run_store import RunStore

    if os.environ.get("RANK", "0") not in ("", "0"):  # (read as Dist.from_env does, without its checks)
        return
    where = last_locked_run()
    if where is None:
        err_console.print(f"[yellow]{how}[/] before any run directory was written to")
        return
    run_dir, argv = where
    saved: list[str] = []
    try:
        store = RunStore(run_dir)
        for name in store.task_names():
            ts = store.task(name)
            saved.append(f"{name}: {len(ts.read_predictions())} predictions, {len(ts.read_scores())} scores")
    except MingEvalError as exc:  # a manifest being written when the signal came
        saved.append(f"(cannot list it: {exc.message})")
    command = "ming-eval " + shlex.join(argv[1:]) if argv else "the same command"
    if argv and (ranks := launched_ranks()) is not None:  # (each rank runs the command without --ranks)
        command += f" --ranks {ranks}"
    err_console.print(f"[yellow]{how}[/]: saved in {escape(str(run_dir))}", highlight=False, soft_wrap=True)
    for line in saved:
        err_console.print(f"  {escape(redact_text(line))}", highlight=False, soft_wrap=True)
    err_console.print(
        f"resume (finished samples are skipped): {escape(redact_text(command))}", highlight=False, soft_wrap=True
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; user errors are printed without a traceback."""
    _register(sys.argv[1:] if argv is None else argv)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # piped or redirected: tables at their natural width, so no name or path is cut to "…"
        console.width = PIPED_WIDTH
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if on_main_thread else None
    previous_int = signal.getsignal(signal.SIGINT)
    if on_main_thread and previous_int is signal.default_int_handler:  # (not where SIGINT is ignored)
        signal.signal(signal.SIGINT, _on_sigint)
    _stopping.clear()
    try:
        # without standalone mode click returns (not raises) the code of a command's typer.Exit
        code = app(args=argv, standalone_mode=False)
    except MingEvalError as exc:
        _print_error(exc)
        sys.exit(2)
    except OSError as exc:  # a full disk or a read-only file system is the machine's fault, not a bug
        error = storage_error(exc.filename or "a file", exc)
        if error is None:
            _print_traceback()
            sys.exit(1)
        _print_error(error)
        sys.exit(2)
    except KeyboardInterrupt:
        _exit_interrupted()
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors (bad option values, missing arguments)
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            from rich.markup import escape

            err_console.print(f"[bold red]error:[/] {escape(redact_text(str(exc)))}")
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except Exception:  # a bug: the traceback is for its report, without the credentials it may quote
        _print_traceback()
        sys.exit(1)
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)
    if code == 130:  # typer turns Ctrl-C (and Terminated) into Exit(130), which non-standalone mode returns
        _exit_interrupted()
    if isinstance(code, int) and code != 0:
        sys.exit(code)


def _exit_interrupted() -> None:
    """Say what was saved and exit as a process stopped by SIGINT (130) or SIGTERM (143) does."""
    terminated = _stopping[:1] == [signal.SIGTERM]
    _print_interrupted("stopped by SIGTERM" if terminated else "interrupted")
    sys.exit(143 if terminated else 130)


def entry() -> None:
    """The console script and ``python -m ming_eval``: :func:`main`, then the process ends."""
    main()
    # The interpreter's last garbage collection walks every object the command made: about 1 s once
    # torch and transformers are loaded (on every rank). What the command wrote is closed by now, so
    # that walk is skipped (objects are still released; only cycles left behind go with the process).
    # Not in main(), which a program or a test may call and carry on.
    import gc

    gc.freeze()
