"""The self-test: every task that can generate its own data, run with a tiny random model of every
family that has one, through the real runner, offline. Scores mean nothing; the plumbing is checked.

Tiny checkpoints and generated data come from :mod:`ming_eval.testing`, looked up by adapter and task
class in :mod:`ming_eval.testing.registry`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import time
import warnings
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from ming_eval.cards.schema import ModelCard, TaskCard
from ming_eval.core.results import TaskResult
from ming_eval.registry import list_model_cards, list_task_cards
from ming_eval.runner.evaluate import RunConfig, evaluate
from ming_eval.runner.plan import load_model_class, load_task
from ming_eval.testing.registry import SelftestSetup, selftest_data_builder, tiny_card


@dataclass
class SelftestReport:
    results: dict[str, TaskResult] = field(default_factory=dict)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    resume_ok: bool = False
    elapsed_s: float = 0.0


def tiny_families(folder: Path) -> list[ModelCard]:
    """One card per adapter class that has a tiny variant, pointed at a freshly built checkpoint."""
    cards: list[ModelCard] = []
    seen: set[type] = set()
    for card in list_model_cards():
        cls = load_model_class(card)
        if cls in seen:
            continue
        tiny = tiny_card(card, folder / "models" / card.name)
        if tiny is not None:
            seen.add(cls)
            cards.append(tiny)
    return cards


def selftest_tasks(folder: Path, only: list[str] | None) -> list[tuple[TaskCard, SelftestSetup]]:
    out = []
    for card in list_task_cards():
        if only and card.name not in only:
            continue
        builder = selftest_data_builder(type(load_task(card)))
        setup = builder(card, folder / "data" / card.name) if builder is not None else None
        if setup is not None:
            out.append((card, setup))
    return out


def assign(tasks: list[tuple[TaskCard, SelftestSetup]], models: list[ModelCard]) -> list[tuple[int, int]]:
    """Pairs (task index, model index): every task once, and every model on each capability it has."""
    pairs: list[tuple[int, int]] = []
    load: dict[int, int] = defaultdict(int)
    for ti, (tcard, _) in enumerate(tasks):
        fits = [mi for mi, m in enumerate(models) if tcard.capability in m.capabilities]
        if fits:
            mi = min(fits, key=lambda i: load[i])
            load[mi] += 1
            pairs.append((ti, mi))
    for mi, m in enumerate(models):
        for cap in m.capabilities:
            if any(models[pm].name == m.name and tasks[pt][0].capability == cap for pt, pm in pairs):
                continue
            ti_fit = next((ti for ti, (tc, _) in enumerate(tasks) if tc.capability == cap), None)
            if ti_fit is not None:
                pairs.append((ti_fit, mi))
    return pairs


def _quiet_library_progress_bars() -> None:
    """diffusers and transformers draw their own bars ("Loading pipeline components...") whatever the hub's
    variable says; the self-test shows its own progress only."""
    for module in ("diffusers.utils.logging", "transformers.utils.logging"):
        if importlib.util.find_spec(module.split(".")[0]) is not None:
            importlib.import_module(module).disable_progress_bar()


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Every model of the self-test is tiny: there, torch's intra-op threads cost more in hand-offs
    than they save (on 2 busy cores the self-test took 10x the CPU time in the detector alone)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_selftest(folder: Path, console: Console | None, only: list[str] | None = None) -> SelftestReport:
    with _one_torch_thread():
        return _run_selftest(folder, console, only)


def _run_selftest(folder: Path, console: Console | None, only: list[str] | None) -> SelftestReport:
    os.environ.setdefault("MING_EVAL_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # tiny checkpoints are written and read dozens of times: keep the libraries' bars and advice quiet
    for name, value in (
        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
        ("TRANSFORMERS_VERBOSITY", "error"),
        ("DIFFUSERS_VERBOSITY", "error"),
        ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1"),
    ):
        os.environ.setdefault(name, value)
    _quiet_library_progress_bars()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    started = time.perf_counter()
    report = SelftestReport()
    models = tiny_families(folder)
    tasks = selftest_tasks(folder, only)
    if not tasks:
        report.problems.append("no registered task can run in the self-test")
    if not models:
        report.problems.append("no registered model has a tiny variant")
    first: tuple[RunConfig, dict[str, TaskResult]] | None = None
    for ti, mi in assign(tasks, models):
        tcard, setup = tasks[ti]
        mcard = models[mi]
        config = RunConfig(
            tasks=[tcard],
            model=mcard,
            out=folder / "runs" / f"{mcard.name}" / tcard.name,
            limit=setup.limit,
            batch_size=2,
            device="cpu",
            task_options={tcard.name: setup.options},
            data_overrides=setup.data,
            protocol_overrides={tcard.name: setup.protocol} if setup.protocol else {},
            argv=["ming-eval", "selftest"],
        )
        report.pairs.append((tcard.name, mcard.name))
        try:
            outcome = evaluate(config, console)
        except Exception as exc:
            report.problems.append(f"{tcard.name} x {mcard.name}: {type(exc).__name__}: {exc}")
            continue
        for name, result in outcome.results.items():
            report.results[f"{name} × {mcard.name}"] = result
            if result.counts.get("inference_failed") or result.counts.get("scoring_failed"):
                report.problems.append(f"{name} x {mcard.name}: some samples failed: {result.notes}")
        if first is None:
            first = (config, outcome.results)
    if first is not None:
        again = evaluate(first[0], None)
        same = {k: v.to_dict() for k, v in again.results.items()} == {k: v.to_dict() for k, v in first[1].items()}
        report.resume_ok = same and not again.model_loaded
        if not report.resume_ok:
            report.problems.append("re-running a finished run loaded the model or changed its results")
    report.elapsed_s = time.perf_counter() - started
    return report
