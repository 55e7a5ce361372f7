"""Published numbers, each with where it comes from and whether it was checked against that source.

A baselines file (``reports/baselines/<set>.yaml``) holds named *sources* (a paper's table, a README
at a commit, a secondary quotation) and *entries*: one model's published values for one table, with
the evidence for them. Evidence is a source plus the columns it covers (all by default) and whether
the value was verified against that source; a value counts as verified when any of its evidence is.
A ``rewritten`` entry was produced with LLM-rewritten prompts (GenEval's "†").

Users pick baselines with ``--baselines``: ``paper`` (the Ming-Lite-Uni report's own tables),
``all``, ``none``, a set name, an entry key (or a key prefix such as ``bagel/geneval``), or a YAML
file of their own in the same format; several, separated by commas.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ming_eval.errors import CardError, UnknownNameError
from ming_eval.report.data import load_yaml_model, reports_root

PAPER_SET = "ming-lite-uni"
SPECIAL_SELECTIONS = ("paper", "all", "none")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


@dataclass(frozen=True)
class Link:
    """A source as reports cite it: its text, where to read it (None when nowhere), and whether the
    values cited were checked against it."""

    text: str
    url: str | None = None
    verified: bool = True

    def plain(self) -> str:
        """The citation as plain text (CSV, terminal): the text, the address in <>, "(not verified)"."""
        return self.text + (f" <{self.url}>" if self.url else "") + ("" if self.verified else " (not verified)")


_ARXIV = re.compile(r"arXiv:(\d{4}\.\d{4,5})(v\d+)?")


class BaselineSource(_Strict):
    """Where numbers were read: a paper's table, a file of a repository at a commit, or a quotation.

    ``note`` is for whoever maintains the file (how it was read); reports show the citation only."""

    kind: Literal["paper", "readme", "page", "secondary"]
    #: the paper's title, as it is published
    title: str | None = None
    ref: str | None = None
    table: str | None = None
    repo: str | None = None
    path: str | None = None
    commit: str | None = None
    url: str | None = None
    note: str = ""

    def href(self) -> str | None:
        """Where a reader finds the source: ``url``, else the arXiv abstract of ``ref``, else the file
        of the GitHub repository at the commit."""
        if self.url:
            return self.url
        arxiv = _ARXIV.fullmatch(self.ref or "")
        if arxiv:
            return f"https://arxiv.org/abs/{arxiv[1]}"
        if self.repo and self.commit:
            return f"https://github.com/{self.repo}/" + (
                f"blob/{self.commit}/{self.path}" if self.path else f"tree/{self.commit}"
            )
        return None

    def cite(self) -> str:
        """E.g. "Janus-Pro: ... (arXiv:2501.17811), Table 4; deepseek-ai/Janus janus_pro_tech_report.pdf @ 1daa72f"."""
        parts: list[str] = []
        paper = self.title or ""
        if self.ref:
            paper = f"{paper} ({self.ref})" if paper else self.ref
        if paper:
            parts.append(paper + (f", {self.table}" if self.table else ""))
        if self.repo or self.path:
            where = " ".join(p for p in (self.repo, self.path) if p)
            parts.append(where + (f" @ {self.commit[:7]}" if self.commit else ""))
        return "; ".join(parts) or self.url or self.kind

    def link(self, *, verified: bool = True) -> Link:
        return Link(self.cite(), self.href(), verified)


class Evidence(_Strict):
    source: str
    columns: list[str] | None = None
    verified: bool


class BaselineEntry(_Strict):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*(/[a-z0-9][a-z0-9_.\-]*)+$")
    model: str
    table: str
    group: str = ""
    rewritten: bool = False
    values: dict[str, float] = Field(min_length=1)
    from_: list[Evidence] = Field(alias="from", min_length=1)
    note: str = ""
    #: the judge that produced the published numbers, as its source names it (judged tables show it)
    judge: str = ""


class BaselineFile(_Strict):
    format: Literal["ming-eval-baselines/1"]
    set: str = Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$")
    title: str = ""
    paper: str = ""
    order: int = 100
    sources: dict[str, BaselineSource]
    entries: list[BaselineEntry]


@dataclass(frozen=True)
class Citation:
    source: BaselineSource
    verified: bool


@dataclass(frozen=True)
class Baseline:
    """One published row: ``values`` by column key, and each value's citations."""

    key: str
    set: str
    model: str
    table: str
    group: str
    rewritten: bool
    values: dict[str, float]
    citations: dict[str, tuple[Citation, ...]]
    note: str = ""
    file: Path | None = None
    judge: str = ""

    def verified(self, column: str) -> bool:
        return any(c.verified for c in self.citations.get(column, ()))

    def sources(self) -> list[Link]:
        """Every source cited for this row, verified ones first, without repeats."""
        ordered = sorted((c for cs in self.citations.values() for c in cs), key=lambda c: not c.verified)
        return list(dict.fromkeys(c.source.link(verified=c.verified) for c in ordered))

    @property
    def label(self) -> str:
        return self.model + ("†" if self.rewritten else "")


def _check_file(data: BaselineFile, path: Path) -> list[Baseline]:
    out: list[Baseline] = []
    for entry in data.entries:
        where = f"baselines file {path}, entry {entry.key}"
        citations: dict[str, list[Citation]] = {col: [] for col in entry.values}
        for ev in entry.from_:
            source = data.sources.get(ev.source)
            if source is None:
                raise CardError(f"{where}: unknown source {ev.source!r}; sources: {', '.join(sorted(data.sources))}")
            cols = ev.columns if ev.columns is not None else list(entry.values)
            for col in cols:
                if col not in entry.values:
                    raise CardError(f"{where}: evidence from {ev.source!r} names column {col!r}, which has no value")
                citations[col].append(Citation(source, ev.verified))
        for col, value in entry.values.items():
            if not math.isfinite(value):
                raise CardError(f"{where}: value of {col!r} is not a finite number")
            if not citations[col]:
                raise CardError(f"{where}: value of {col!r} has no source", hint="add it to an entry of `from:`")
        out.append(
            Baseline(
                key=entry.key,
                set=data.set,
                model=entry.model,
                table=entry.table,
                group=entry.group,
                rewritten=entry.rewritten,
                values=dict(entry.values),
                citations={k: tuple(v) for k, v in citations.items()},
                note=entry.note,
                file=path,
                judge=entry.judge,
            )
        )
    return out


def load_baselines_file(path: Path) -> tuple[BaselineFile, list[Baseline]]:
    data = load_yaml_model(path, BaselineFile, "baselines file")
    return data, _check_file(data, path)


@dataclass
class BaselineCatalog:
    """Every known baseline, by set and by key."""

    sets: dict[str, list[Baseline]] = field(default_factory=dict)
    by_key: dict[str, Baseline] = field(default_factory=dict)

    def add(self, data: BaselineFile, entries: list[Baseline], path: Path) -> None:
        if data.set in self.sets:
            raise CardError(f"baselines file {path}: set {data.set!r} is already defined by another file")
        for b in entries:
            if b.key in self.by_key:
                raise CardError(f"baselines file {path}: key {b.key!r} is already defined")
            self.by_key[b.key] = b
        self.sets[data.set] = entries

    def known_names(self) -> list[str]:
        return [*SPECIAL_SELECTIONS, *self.sets, *self.by_key]

    def select(self, selection: str | None) -> list[Baseline]:
        """The baselines named by ``selection`` (see the module docstring), in a stable order."""
        chosen: dict[str, Baseline] = {}
        for item in [s.strip() for s in (selection or "none").split(",") if s.strip()]:
            for b in self._resolve(item):
                chosen.setdefault(b.key, b)
        return list(chosen.values())

    def _resolve(self, item: str) -> list[Baseline]:
        if item == "none":
            return []
        if item == "all":
            return [b for entries in self.sets.values() for b in entries]
        if item == "paper":
            return list(self.sets.get(PAPER_SET, []))
        if item in self.sets:
            return list(self.sets[item])
        if item in self.by_key:
            return [self.by_key[item]]
        prefixed = [b for key, b in self.by_key.items() if key.startswith(item.rstrip("/") + "/")]
        if prefixed:
            return prefixed
        path = Path(item).expanduser()
        if path.suffix in (".yaml", ".yml") or path.is_file():
            if not path.is_file():
                raise CardError(f"baselines file {path} does not exist")
            data, entries = load_baselines_file(path)
            if data.set not in self.sets:
                self.add(data, entries, path)
            return list(self.sets[data.set])
        raise self._unknown(item)

    def _unknown(self, item: str) -> UnknownNameError:
        err = UnknownNameError("baseline", item, [*SPECIAL_SELECTIONS, *self.sets])
        close = difflib.get_close_matches(item, self.known_names(), n=3, cutoff=0.5)
        err.suggestions = close
        err.hint = (f"did you mean {' or '.join(repr(c) for c in close)}? " if close else "") + (
            "an entry key (e.g. bagel/geneval/bagel) or a YAML file of baselines also works; "
            "`ming-eval report --list-baselines` lists every key"
        )
        return err


def load_catalog(folder: Path | None = None) -> BaselineCatalog:
    """The baselines shipped with ming-eval (or those in ``folder``), ordered by each file's ``order``."""
    folder = folder or reports_root() / "baselines"
    loaded = [(*load_baselines_file(p), p) for p in sorted(folder.glob("*.yaml"))]
    catalog = BaselineCatalog()
    for data, entries, path in sorted(loaded, key=lambda t: (t[0].order, t[0].set)):
        catalog.add(data, entries, path)
    return catalog
