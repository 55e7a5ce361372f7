"""``ming-eval run``: inference, scoring and the results table, resumable and torchrun-aware."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ming_eval.cli.display import breakdown_tables, exit_on_judge_outage, print_notes, results_table

EXAMPLES = """
[bold]Examples[/]

  ming-eval run geneval --model ming-lite-uni
  ming-eval run mmbench_dev_en mmstar --model qwen2.5-vl-7b --batch-size 8 --out runs/qwen7b
  ming-eval run geneval --model ming-lite-uni --checkpoint /ckpt/step-20000 --out runs/step-20000
  ming-eval run mmstar --model qwen2.5-vl-7b --ranks 8
  torchrun --nproc-per-node 8 -m ming_eval run geneval --model janus-pro-7b
"""


def _launch(ranks: int) -> None:
    """Run this command again (without ``--ranks``) as ``ranks`` ranks, and exit with their status."""
    from ming_eval.errors import MingEvalError
    from ming_eval.runner.launch import launch_ranks

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise MingEvalError(
            "--ranks is given but this is already one of several ranks (WORLD_SIZE is set)",
            hint="launch with torchrun or with --ranks, not both",
        )
    args, rest = [], sys.argv[1:]
    while rest:
        arg = rest.pop(0)
        if arg == "--ranks":
            rest.pop(0)
        elif not arg.startswith("--ranks="):
            args.append(arg)
    raise SystemExit(launch_ranks(["-m", "ming_eval", *args], ranks))


def register(app: typer.Typer) -> None:
    app.command("run", epilog=EXAMPLES, no_args_is_help=True)(run)


def run(
    tasks: Annotated[list[str], typer.Argument(help="Task names (see `ming-eval list tasks`) or card files.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model card name or card file.")],
    checkpoint: Annotated[
        str | None, typer.Option(help="Weights to use instead of the card's; the card's protocol is kept.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default runs/<model>[-<checkpoint>]); re-use it to resume.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N samples of each task (smoke run).")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Samples per model call (default: the card's).")] = None,
    score_batch_size: Annotated[int | None, typer.Option(min=1, help="Samples per scorer call.")] = None,
    seed: Annotated[int | None, typer.Option(help="Run seed (default: the card's protocol seed).")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N (default: cuda:LOCAL_RANK if present).")] = None,
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="Task option TASK.KEY=VALUE (repeatable).")
    ] = None,
    data: Annotated[list[str] | None, typer.Option(help="Use a local data file: FILE=PATH (repeatable).")] = None,
    protocol: Annotated[
        list[str] | None,
        typer.Option(
            help="Override the model card's protocol for this run: KEY=VALUE or TASK.KEY=VALUE (repeatable); "
            "recorded in the manifest, and the results are marked not comparable."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Resume into a run made with a different configuration, or with another model.")
    ] = False,
    wait: Annotated[
        bool, typer.Option(help="If another invocation is working in --out, wait for it to finish instead of stopping.")
    ] = False,
    retry_failed: Annotated[bool, typer.Option(help="Run again the samples that failed last time.")] = False,
    allow_incomplete: Annotated[bool, typer.Option(help="Report results even if samples are missing.")] = False,
    max_failures: Annotated[int, typer.Option(min=0, help="Stop after this many failed samples (0: never).")] = 0,
    show_breakdowns: Annotated[bool, typer.Option("--breakdowns/--no-breakdowns", help="Per-category tables.")] = False,
    ranks: Annotated[
        int,
        typer.Option(
            min=1,
            help="Run as N ranks on this machine (as torchrun --nproc-per-node N would, without its start-up "
            "and exit costs).",
        ),
    ] = 1,
) -> None:
    """Run TASKS with a model: generate or answer, score, and print the results with 95% intervals.

    Finished samples are skipped, so the same command resumes an interrupted run (and loads no model
    when nothing is left). Under torchrun every rank takes a shard; results do not depend on the
    number of ranks. One invocation at a time works in a run directory; a second one stops (or, with
    --wait, waits), and a directory holds the results of one model (another needs --force).
    """
    from rich.markup import escape

    from ming_eval.cli.app import console
    from ming_eval.cli.options import parse_data_overrides, parse_protocol_overrides, parse_task_options
    from ming_eval.devices import check_device
    from ming_eval.redaction import redact_text
    from ming_eval.runner.evaluate import RunConfig, evaluate

    check_device(device)  # before any data or model loads
    task_options = parse_task_options(option)
    data_overrides = parse_data_overrides(data)
    protocol_overrides = parse_protocol_overrides(protocol)
    if ranks > 1:  # (a bad option is said once, by this process, not once by every rank)
        _launch(ranks)
    config = RunConfig(
        tasks=list(tasks),
        model=model,
        checkpoint=checkpoint,
        out=out,
        limit=limit,
        batch_size=batch_size,
        score_batch_size=score_batch_size,
        seed=seed,
        device=device,
        force=force,
        wait=wait,
        retry_failed=retry_failed,
        allow_incomplete=allow_incomplete,
        max_failures=max_failures,
        task_options=task_options,
        data_overrides=data_overrides,
        protocol_overrides=protocol_overrides,
    )
    outcome = evaluate(config, console)
    if int(os.environ.get("RANK", "0")) != 0:
        return
    for summary in outcome.inference:
        if summary.already_done:
            console.print(f"{summary.task}: {summary.already_done} of {summary.total} samples already done (resumed)")
        if summary.stats and summary.stats.failed:
            console.print(
                f"[yellow]{summary.task}: {summary.stats.failed} samples failed[/]; first error: "
                f"{escape(redact_text(summary.stats.first_error or ''))}\n"
                "  re-run with --retry-failed to try them again",
                highlight=False,
            )
        if summary.stats and summary.stats.oom_splits:
            console.print(
                f"[yellow]{summary.task}: out of memory {summary.stats.oom_splits} times[/]; batch size "
                f"reduced to {summary.stats.final_batch_size}"
            )
    title = f"{model}" + (f" @ {checkpoint}" if checkpoint else "")
    if limit is not None:
        title += f" (--limit {limit}: not comparable to published numbers)"
    console.print(results_table(outcome.results, title=title, caption=f"run: {outcome.run_dir}"))
    if show_breakdowns:
        for table in breakdown_tables(outcome.results):
            console.print(table)
    for suite_summary in outcome.summaries.values():
        console.print(
            f"[bold]{escape(suite_summary.label)}[/] ({suite_summary.key}): "
            f"{suite_summary.metric.format(1, with_ci=True)}",
            highlight=False,
        )
    print_notes(console, outcome.results)
    exit_on_judge_outage(console, outcome.run_dir, outcome.results)
