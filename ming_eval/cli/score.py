"""``ming-eval score``: score a finished run again, or a folder of outputs made by another tool."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ming_eval.cli.display import breakdown_tables, exit_on_judge_outage, print_notes, results_table

if TYPE_CHECKING:
    from rich.console import Console

EXAMPLES = """
[bold]Examples[/]

  ming-eval score runs/ming-lite-uni
  ming-eval score runs/ming-lite-uni --task geneval -o geneval.threshold=0.35
  ming-eval score geneval --images outputs/geneval_images --out runs/sdxl-external
  ming-eval score geneval --upstream-results geneval_outputs/results.jsonl
  ming-eval score mmstar --predictions outputs/Qwen2-VL-7B/Qwen2-VL-7B_MMStar.xlsx --out runs/qwen2vl-vk
  ming-eval score ocrbench --predictions logs/qwen2vl/20260101_120000_samples_ocrbench.jsonl --out runs/qwen2vl-lmms
  ming-eval score mmstar --predictions outputs/Q/Q_MMStar.xlsx --verdicts outputs/Q/Q_MMStar_gpt-4o-mini_result.xlsx
"""


def register(app: typer.Typer) -> None:
    app.command("score", epilog=EXAMPLES, no_args_is_help=True)(score)


def score(
    target: Annotated[str, typer.Argument(help="A run directory, or a task name (with --images).")],
    images: Annotated[
        Path | None, typer.Option(help="Score this folder of outputs (e.g. GenEval's layout) made by any tool.")
    ] = None,
    predictions: Annotated[
        Path | None,
        typer.Option(
            help="Score this VLMEvalKit prediction file ({model}_{dataset}.xlsx/.tsv/.csv) as a run; "
            "needs neither images nor the benchmark TSV (checked against it when present). Also an "
            "lmms-eval --log_samples file (*_samples_<task>.jsonl: mmstar, mmbench_{en,cn}_dev, "
            "hallusion_bench_image, ai2d, mmmu_val, mathvista_testmini*, mmvet, ocrbench; needs the TSV)."
        ),
    ] = None,
    verdicts: Annotated[
        Path | None,
        typer.Option(
            help="With --predictions: VLMEvalKit's judge file for it ({model}_{dataset}_{judge}_result.xlsx for "
            "multiple choice, _auxmatch.xlsx for HallusionBench, _{judge}.xlsx for MathVista and MM-Vet); its "
            "verdicts are the scores of the samples it covers, labelled as VLMEvalKit's, not judged again."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Run directory for --images/--predictions (default runs/<name>-scored)."),
    ] = None,
    task: Annotated[list[str] | None, typer.Option("--task", "-t", help="Only these tasks of the run.")] = None,
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="Scoring option TASK.KEY=VALUE (repeatable).")
    ] = None,
    data: Annotated[list[str] | None, typer.Option(help="Use a local data file: FILE=PATH (repeatable).")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Samples per scorer call.")] = None,
    device: Annotated[
        str | None,
        typer.Option(help="Where local graders run: cpu, cuda, cuda:N (default: cuda:LOCAL_RANK if present)."),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="With --images: import into a run directory made from another model or folder.")
    ] = False,
    wait: Annotated[
        bool, typer.Option(help="If another invocation is working in the run directory, wait for it to finish.")
    ] = False,
    allow_incomplete: Annotated[bool, typer.Option(help="Report results even if samples are missing.")] = False,
    show_breakdowns: Annotated[bool, typer.Option("--breakdowns/--no-breakdowns", help="Per-category tables.")] = False,
    crosscheck: Annotated[
        str | None,
        typer.Option(
            help="With a run directory: also score its predictions with VLMEvalKit's own code ('vlmevalkit'; "
            "a checkout named by $MING_EVAL_VLMEVALKIT_SRC, or an installed vlmeval) and print per-sample "
            "agreement (exit 1 if any verdict differs)."
        ),
    ] = None,
    upstream_results: Annotated[
        Path | None,
        typer.Option(
            help="GenEval only: re-derive the decisions of GenEval's own results.jsonl from its recorded "
            "detections and report how many agree (exit 1 if any differs); with --out, also score the "
            "images it names as a run."
        ),
    ] = None,
) -> None:
    """Score predictions without the model.

    Scores already stored under the same scoring settings are reused; changed settings (e.g. a
    threshold) re-score everything, and the old scores are kept beside the new ones.
    """
    from ming_eval.cli.app import console
    from ming_eval.cli.options import parse_data_overrides, parse_task_options
    from ming_eval.devices import check_device
    from ming_eval.runner.rescore import rescore, score_external

    options = parse_task_options(option)
    check_device(device)  # before any data, grader or detector loads
    agreed = True
    if upstream_results is not None:
        from ming_eval.tasks.geneval.upstream import run_upstream_check

        agreed = run_upstream_check(target, upstream_results, options.get(target), console)
        if out is None:
            if not agreed:
                raise typer.Exit(1)
            return
        from ming_eval.tasks.geneval.upstream import image_folder_of

        images = images or image_folder_of(upstream_results)  # with --out: its images become a run
    overrides = parse_data_overrides(data)
    target_path = Path(target)
    if images is not None and predictions is not None:
        raise typer.BadParameter("pass --images or --predictions, not both")
    if verdicts is not None and predictions is None:
        raise typer.BadParameter(
            "--verdicts goes with --predictions FILE: VLMEvalKit's judge file is read with the predictions it judged"
        )
    source = images if images is not None else predictions
    if force and source is None:
        raise typer.BadParameter(
            "--force applies to --images and --predictions only: re-scoring a run never changes its model"
        )
    if crosscheck is not None:
        if crosscheck != "vlmevalkit":
            raise typer.BadParameter(f"--crosscheck {crosscheck}: the only tool known is 'vlmevalkit'")
        if source is not None:
            raise typer.BadParameter(
                "--crosscheck applies to a run directory; import the file first, then check the run"
            )
    if source is not None:
        run_dir = out or Path("runs") / f"{source.resolve().name if images is not None else source.stem}-scored"
        results = score_external(
            target,
            source,
            run_dir,
            predictions=predictions is not None,
            task_options=options.get(target),
            allow_incomplete=allow_incomplete,
            batch_size=batch_size,
            data_overrides=overrides,
            device=device,
            console=console,
            force=force,
            wait=wait,
            verdicts=verdicts,
        )
    else:
        if not (target_path / "manifest.json").is_file():
            raise typer.BadParameter(
                f"{target} is not a run directory (no manifest.json); to score outputs of another tool pass "
                f"a task name and --images DIR or --predictions FILE"
            )
        run_dir = target_path
        results = rescore(
            run_dir,
            tasks=task,
            task_options=options,
            allow_incomplete=allow_incomplete,
            batch_size=batch_size,
            data_overrides=overrides,
            device=device,
            console=console,
            wait=wait,
        )
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 reports for every rank
        return
    if predictions is not None and verdicts is None:
        _mention_verdict_files(console, target, predictions)
    if results:
        console.print(results_table(results, title=f"scores of {run_dir}", caption=f"run: {run_dir}"))
        if show_breakdowns:
            for table in breakdown_tables(results):
                console.print(table)
        print_notes(console, results)
    if crosscheck is not None:
        from ming_eval.tasks.vlm.vlmevalkit_check import run_kit_crosscheck

        agreed = run_kit_crosscheck(run_dir, task, console) and agreed
    if not agreed:
        raise typer.Exit(1)
    if results:
        exit_on_judge_outage(console, run_dir, results)


def _mention_verdict_files(console: Console, task_name: str, predictions: Path) -> None:
    """Name VLMEvalKit's judge files lying beside an imported prediction file (``--verdicts`` reuses one)."""
    from ming_eval.runner.plan import resolve_task
    from ming_eval.tasks.vlm.base import VlmTask
    from ming_eval.tasks.vlm.kit_verdicts import sibling_verdict_files
    from ming_eval.tasks.vlm.vlmevalkit_check import family_of

    task = resolve_task(task_name)
    if not isinstance(task, VlmTask) or predictions.suffix.lower() == ".jsonl":
        return
    for path in sibling_verdict_files(predictions, family_of(task)):
        console.print(
            f"note: VLMEvalKit's judge file {path} lies beside the predictions; they were judged by ming-eval. "
            f"--verdicts {path} would keep VLMEvalKit's verdicts instead (labelled as such)"
        )
