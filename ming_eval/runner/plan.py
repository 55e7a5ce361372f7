"""Resolve names into a checked plan before any work: cards, classes, capabilities, protocols.

Everything that can be wrong with a request (an unknown name, a capability the model lacks, a
protocol the card leaves incomplete, a protocol extra the adapter does not take, a prompt style the
task does not know) is found here, on every
rank alike, before a directory is written or a weight is loaded.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ming_eval.cards.schema import PROTOCOL_OF, GenerateProtocol, ModelCard, TaskCard, UnderstandProtocol
from ming_eval.core.model import BaseModelAdapter
from ming_eval.core.sample import Capability
from ming_eval.core.task import BaseTask, TaskContext
from ming_eval.data.files import DataFiles
from ming_eval.errors import CapabilityError, CardError, ProtocolError
from ming_eval.graders.service import GraderService
from ming_eval.registry import (
    MODEL_ENTRY_POINTS,
    TASK_ENTRY_POINTS,
    expand_task_names,
    get_model_card,
    get_task_card,
    list_task_cards,
    load_class,
)


@dataclass
class TaskPlan:
    task: BaseTask
    protocol: UnderstandProtocol | GenerateProtocol
    seed: int
    #: the protocol fields ``--protocol`` set for this task (already applied to ``protocol``)
    protocol_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.task.name


@dataclass
class Plan:
    model_card: ModelCard
    model_cls: type[BaseModelAdapter]
    checkpoint: str | None
    tasks: list[TaskPlan] = field(default_factory=list)

    def model_config(self) -> dict[str, Any]:
        card = self.model_card.model_dump(mode="json", by_alias=True, exclude={"description"})
        return {"card": card, "checkpoint": self.checkpoint or self.model_card.checkpoint}


def load_model_class(card: ModelCard) -> type[BaseModelAdapter]:
    where = f"model card {card.source or card.name}"
    cls = load_class(card.class_, MODEL_ENTRY_POINTS, where)
    if not (isinstance(cls, type) and issubclass(cls, BaseModelAdapter)):
        raise CardError(f"{where}: {card.class_} is not a ming_eval model adapter (BaseModelAdapter)")
    return cls


def load_task(card: TaskCard, overrides: dict[str, Any] | None = None) -> BaseTask:
    where = f"task card {card.source or card.name}"
    cls = load_class(card.class_, TASK_ENTRY_POINTS, where)
    if not (isinstance(cls, type) and issubclass(cls, BaseTask)):
        raise CardError(f"{where}: {card.class_} is not a ming_eval task (BaseTask)")
    if cls.capability != card.capability:
        raise CardError(
            f"{where}: capability {card.capability.value!r} does not match {cls.__name__}'s {cls.capability.value!r}"
        )
    return cls.from_card(card, overrides)


def resolve_task(name: str | TaskCard, overrides: dict[str, Any] | None = None) -> BaseTask:
    card = name if isinstance(name, TaskCard) else get_task_card(name)
    return load_task(card, overrides)


def make_plan(
    tasks: list[str | TaskCard],
    model: str | ModelCard,
    *,
    checkpoint: str | None = None,
    seed: int | None = None,
    task_options: dict[str, dict[str, Any]] | None = None,
    data_overrides: dict[str, Path] | None = None,
    protocol_overrides: dict[str, dict[str, Any]] | None = None,
) -> Plan:
    card = model if isinstance(model, ModelCard) else get_model_card(model)
    model_cls = load_model_class(card)
    model_cls.check_card_extras(card)
    check_card_task_overrides(card)
    plan = Plan(card, model_cls, checkpoint)
    seen: set[str] = set()
    entries: list[str | TaskCard] = []
    for t in tasks:
        entries.extend(expand_task_names([t]) if isinstance(t, str) else [t])
    for entry in entries:
        name = entry.name if isinstance(entry, TaskCard) else entry
        task = resolve_task(entry, (task_options or {}).get(name))
        if task.name in seen:
            continue
        seen.add(task.name)
        cap = task.capability
        if cap not in card.capabilities or cap not in model_cls.capabilities:
            can = sorted(c.value for c in set(card.capabilities) & set(model_cls.capabilities))
            raise CapabilityError(
                f"task {task.name} needs a model that can {cap.value}; model {card.name} can: "
                f"{', '.join(can) or 'nothing'}",
                hint="pick a model card whose capabilities include it (ming-eval list models)",
            )
        protocol = card.protocol_for(task.name, cap)
        # a field for every task applies where the task's protocol has it; one for this task must fit
        overrides = protocol_overrides or {}
        given = {k: v for k, v in overrides.get(ALL_TASKS, {}).items() if fits_protocol(k, cap)}
        given.update(overrides.get(task.name, {}))
        if given:
            protocol = override_protocol(protocol, given, cap, task.name)
        problems = model_cls.check_protocol(cap, protocol) + task.check_protocol(protocol)
        if problems:
            raise ProtocolError(
                f"model card {card.source or card.name} has an incomplete protocol for task {task.name}:\n"
                + "\n".join(f"  - {p}" for p in problems),
                hint=f"set these under protocol.{cap.value} or tasks.{task.name}.{cap.value} in the card",
            )
        run_seed = seed if seed is not None else (protocol.seed if isinstance(protocol, GenerateProtocol) else 0)
        plan.tasks.append(TaskPlan(task, protocol, run_seed, given))
    check_options_used(plan, task_options or {}, data_overrides or {})
    check_protocol_overrides_used(plan, protocol_overrides or {})
    return plan


ALL_TASKS = "*"


def _protocol_field(key: str) -> str:
    return key.partition(".")[0]


def fits_protocol(key: str, cap: Capability) -> bool:
    """Whether ``--protocol KEY=...`` names a field of the protocol of ``cap`` (``extra.X`` fits all)."""
    return _protocol_field(key) in PROTOCOL_OF[cap].model_fields


def override_protocol(
    protocol: UnderstandProtocol | GenerateProtocol, given: dict[str, Any], cap: Capability, task: str
) -> UnderstandProtocol | GenerateProtocol:
    """``protocol`` with the ``--protocol`` fields set; an error names the ``--protocol`` value."""
    known = list(PROTOCOL_OF[cap].model_fields)
    merged = protocol.model_dump(exclude_unset=True)
    for key, value in given.items():
        head, _, sub = key.partition(".")
        if head not in known or (sub and head != "extra"):
            close = difflib.get_close_matches(head, known, n=1, cutoff=0.6)
            raise ProtocolError(
                f"--protocol {key}={value}: the {cap.value} protocol of task {task} has no field {key!r}; its "
                f"fields: {', '.join(known)}",
                hint=f"did you mean --protocol {close[0]}=...?" if close else None,
            )
        if sub:
            merged["extra"] = {**(merged.get("extra") or {}), sub: value}
        else:
            merged[key] = value
    try:
        return PROTOCOL_OF[cap].model_validate(merged)
    except ValidationError as exc:
        shown = ", ".join(f"--protocol {k}={v}" for k, v in given.items())
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ProtocolError(f"{shown}: not a valid protocol for task {task}: {problems}") from None


def check_protocol_overrides_used(plan: Plan, overrides: dict[str, dict[str, Any]]) -> None:
    """A ``--protocol`` value that sets nothing in this run is an error, not silently ignored."""
    in_run = [tp.name for tp in plan.tasks]
    for task, fields in overrides.items():
        if task != ALL_TASKS and task not in in_run:
            given = ", ".join(f"--protocol {task}.{k}={v}" for k, v in fields.items())
            raise ProtocolError(
                f"{given}: task {task!r} is not in this run (its tasks: {', '.join(in_run)})",
                hint=_did_you_mean(task, in_run, "--protocol {}.KEY=VALUE"),
            )
    for key, value in overrides.get(ALL_TASKS, {}).items():
        if not any(key in tp.protocol_overrides for tp in plan.tasks):
            raise ProtocolError(
                f"--protocol {key}={value}: no task of this run has a protocol field {_protocol_field(key)!r}",
                hint="understanding tasks: "
                + ", ".join(UnderstandProtocol.model_fields)
                + "; generation tasks: "
                + ", ".join(GenerateProtocol.model_fields),
            )


def _did_you_mean(name: str, known: list[str], shown: str = "{}") -> str | None:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"did you mean {shown.format(close[0])}?" if close else None


def check_card_task_overrides(card: ModelCard) -> None:
    """Every key of the model card's ``tasks:`` block names (or, as a glob, matches) a task of the
    catalog: a misspelt one would silently leave its task on the default protocol. A key for a task
    that is not in this run is fine."""
    names = sorted(c.name for c in list_task_cards())
    for pattern in card.tasks:
        if any(fnmatch.fnmatchcase(name, pattern) for name in names):
            continue
        raise CardError(
            f"model card {card.source or card.name}: tasks.{pattern} matches no task card (known tasks: "
            f"{', '.join(names)})",
            hint=_did_you_mean(pattern, names, "tasks.{}") or "fix the name, or remove the block",
        )


def check_options_used(plan: Plan, task_options: dict[str, dict[str, Any]], data_overrides: dict[str, Path]) -> None:
    """``-o TASK.KEY=VALUE`` for a task not in the run and ``--data NAME=PATH`` for a file no task card
    declares are errors, not silently ignored."""
    in_run = [tp.name for tp in plan.tasks]
    for task, options in task_options.items():
        if task in in_run:
            continue
        given = ", ".join(f"-o {task}.{k}={v}" for k, v in options.items())
        raise CardError(
            f"{given}: task {task!r} is not in this run (its tasks: {', '.join(in_run)})",
            hint=_did_you_mean(task, in_run, "-o {}.KEY=VALUE") or f"add {task} to the tasks, or drop the option",
        )
    # a file of another task of the catalog is fine (one list of --data for several runs)
    declared = sorted({f.name for tp in plan.tasks for f in tp.task.data_files()})
    catalog = {f.name for card in list_task_cards() for f in card.data}
    for name, path in data_overrides.items():
        if name not in declared and name not in catalog:
            raise CardError(
                f"--data {name}={path}: no task card declares a data file {name!r} (the files of this run's "
                f"tasks: {', '.join(declared) or 'none'})",
                hint=_did_you_mean(name, declared, "--data {}=PATH") or "check the file name the task card gives",
            )


def config_entry(
    model_config: dict[str, Any],
    task: BaseTask,
    protocol: UnderstandProtocol | GenerateProtocol,
    seed: int,
    protocol_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The configuration of one task in a run, as the manifest records it; a resume must match it."""
    card = task.card.model_dump(mode="json", by_alias=True, exclude={"description", "paper"})
    return {
        "model": model_config,
        "task": card,
        "options": task.options.model_dump(mode="json"),
        "protocol": protocol.model_dump(mode="json"),
        **({"protocol_overrides": dict(protocol_overrides)} if protocol_overrides else {}),
        "seed": seed,
    }


def task_config(plan: Plan, tp: TaskPlan) -> dict[str, Any]:
    return config_entry(plan.model_config(), tp.task, tp.protocol, tp.seed, tp.protocol_overrides)


def task_data_files(task: BaseTask, overrides: dict[str, Path] | None = None) -> DataFiles:
    """The task's data files, with the user's ``--data FILE=PATH`` overrides that concern it."""
    names = {f.name for f in task.data_files()}
    return DataFiles(
        task.name,
        task.data_files(),
        overrides={k: v for k, v in (overrides or {}).items() if k in names},
        search_dirs=task.data_search_dirs(),
    )


def task_context(
    task: BaseTask,
    protocol: UnderstandProtocol | GenerateProtocol,
    work_dir: Path,
    *,
    model_name: str,
    seed: int,
    graders: GraderService | None = None,
    data_overrides: dict[str, Path] | None = None,
    protocol_overrides: dict[str, Any] | None = None,
) -> TaskContext:
    """The context of ``task`` in a run; without ``graders`` it gets a grader service of its own."""
    ctx = TaskContext(
        protocol=protocol,
        protocol_overrides=dict(protocol_overrides or {}),
        data=task_data_files(task, data_overrides),
        model_name=model_name,
        run_seed=seed,
        work_dir=work_dir,
    )
    return ctx if graders is None else dataclasses.replace(ctx, graders=graders)
