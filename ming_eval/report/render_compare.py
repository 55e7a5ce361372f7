"""A comparison of two runs, as a Markdown summary (for a CI job's comment) and as terminal tables."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ming_eval.report.compare import RunComparison, TaskComparison
from ming_eval.report.render_term import print_whole
from ming_eval.stats.headline import CLUSTER_SWAP_EXACT, CLUSTER_SWAP_MC
from ming_eval.stats.paired import MCNEMAR_CHI2, MCNEMAR_EXACT, SIGN_FLIP_EXACT, SIGN_FLIP_MC, PairedComparison

TEST_NAMES = {
    MCNEMAR_EXACT: "McNemar (exact)",
    MCNEMAR_CHI2: "McNemar (χ²)",
    SIGN_FLIP_EXACT: "paired permutation (exact)",
    SIGN_FLIP_MC: "paired permutation",
    CLUSTER_SWAP_EXACT: "paired cluster permutation (exact)",
    CLUSTER_SWAP_MC: "paired cluster permutation",
}
SHORT_TEST_NAMES = {
    MCNEMAR_EXACT: "McNemar",
    MCNEMAR_CHI2: "McNemar χ²",
    SIGN_FLIP_EXACT: "perm.",
    SIGN_FLIP_MC: "perm. (MC)",
    CLUSTER_SWAP_EXACT: "cluster perm.",
    CLUSTER_SWAP_MC: "cluster perm. (MC)",
}


def _digits(c: PairedComparison) -> int:
    return 3 if c.scale <= 1 else 2


def _p(p: float) -> str:
    if math.isnan(p):
        return "-"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _delta(c: PairedComparison) -> str:
    return f"{c.delta:+.{_digits(c)}f}"


def _ci(c: PairedComparison) -> str:
    d = _digits(c)
    return f"[{c.ci_low:+.{d}f}, {c.ci_high:+.{d}f}]"


def _verdict_word(t: TaskComparison) -> str:
    if t.regression:
        return "▼ regression"
    if t.improvement:
        return "▲ improvement"
    if t.significant:
        return "below --min-delta"
    return ""


def headline(comp: RunComparison) -> str:
    if comp.regressions:
        names = ", ".join(t.task for t in comp.regressions)
        return f"Significant regression in {len(comp.regressions)} of {len(comp.tasks)} benchmarks: {names}"
    n = len(comp.tasks)
    return f"No significant regression ({n} benchmark{'' if n == 1 else 's'} compared)"


def method_line(comp: RunComparison) -> str:
    corr = f", Holm-corrected across {len(comp.tasks)} benchmarks" if comp.correction == "holm" else ""
    return (
        f"Paired comparison on the samples both runs scored: 95% paired bootstrap interval of the delta, "
        f"McNemar's test for per-sample binary outcomes, else a paired permutation test; "
        f"α = {comp.alpha}{corr}; a regression must also be at least {comp.min_delta:g} percentage points."
    )


def render_markdown(comp: RunComparison, *, categories: bool = True) -> str:
    b, n = comp.base, comp.new
    lines = [
        "## ming-eval compare",
        "",
        f"**{headline(comp)}**",
        "",
        f"- base: `{b.path}` ({b.label}, checkpoint `{b.checkpoint or '-'}`)",
        f"- new: `{n.path}` ({n.label}, checkpoint `{n.checkpoint or '-'}`)",
        "",
        "| Benchmark | n | Base | New | Δ | 95% CI | p | p (adj.) | Test | |",
        "|:--|--:|--:|--:|--:|:--|--:|--:|:--|:--|",
    ]
    for t in comp.tasks:
        c = t.overall
        d = _digits(c)
        lines.append(
            f"| {t.task} | {c.n} | {c.base:.{d}f} | {c.new:.{d}f} | {_delta(c)} | {_ci(c)} | {_p(c.p_value)} | "
            f"{_p(t.p_adjusted)} | {TEST_NAMES.get(c.test, c.test)} | {_verdict_word(t)} |"
        )
    if categories:
        for t in comp.tasks:
            for bd, per in t.categories.items():
                lines += [
                    "",
                    f"<details><summary>{t.task} by {bd}</summary>",
                    "",
                    f"| {bd} | n | Base | New | Δ | 95% CI | p | Test |",
                    "|:--|--:|--:|--:|--:|:--|--:|:--|",
                ]
                for key, c in per.items():
                    d = _digits(c)
                    flag = " ▼" if c.p_value < comp.alpha and c.delta < 0 else (" ▲" if c.p_value < comp.alpha else "")
                    lines.append(
                        f"| {key} | {c.n} | {c.base:.{d}f} | {c.new:.{d}f} | {_delta(c)}{flag} | {_ci(c)} | "
                        f"{_p(c.p_value)} | {TEST_NAMES.get(c.test, c.test)} |"
                    )
                lines += ["", "Per-category p-values are not corrected and do not decide the verdict.", "</details>"]
    notes = notes_of(comp)
    lines += ["", method_line(comp)]
    if notes:
        lines += ["", "**Notes**", ""] + [f"- {x}" for x in notes]
    return "\n".join(lines) + "\n"


def notes_of(comp: RunComparison) -> list[str]:
    notes: list[str] = []
    for task, diffs in comp.forced_differences.items():
        notes.append(f"{task}: compared with --force although the protocols differ: " + "; ".join(diffs))
    for t in comp.tasks:
        notes += [f"{t.task}: {x}" for x in t.notes]
    if comp.only_base:
        notes.append("only in base (not compared): " + ", ".join(comp.only_base))
    if comp.only_new:
        notes.append("only in new (not compared): " + ", ".join(comp.only_new))
    if comp.versions:
        notes.append("package versions differ: " + "; ".join(comp.versions))
    return notes


def print_comparison(console: Console, comp: RunComparison, *, categories: bool = True) -> None:
    table = Table(
        title=f"{comp.base.label} ({comp.base.path}) → {comp.new.label} ({comp.new.path})", title_style="bold"
    )
    for name in ("benchmark", "n", "base", "new", "Δ", "95% CI", "p adj.", "test", ""):
        table.add_column(name, justify="left" if name in ("benchmark", "test", "") else "right", no_wrap=True)
    for t in comp.tasks:
        c = t.overall
        d = _digits(c)
        style = "bold red" if t.regression else ("bold green" if t.improvement else "")
        table.add_row(
            t.task,
            str(c.n),
            f"{c.base:.{d}f}",
            f"{c.new:.{d}f}",
            Text(_delta(c), style=style),
            _ci(c),
            _p(t.p_adjusted),
            SHORT_TEST_NAMES.get(c.test, c.test),
            Text(_verdict_word(t), style=style),
        )
    print_whole(console, table)
    if categories:
        for t in comp.tasks:
            for bd, per in t.categories.items():
                sub = Table(title=f"{t.task} by {bd} (uncorrected)", title_style="bold")
                for name in (bd, "n", "base", "new", "Δ", "95% CI", "p"):
                    sub.add_column(name, justify="left" if name == bd else "right")
                for key, c in per.items():
                    d = _digits(c)
                    style = "red" if c.p_value < comp.alpha and c.delta < 0 else ""
                    sub.add_row(
                        key,
                        str(c.n),
                        f"{c.base:.{d}f}",
                        f"{c.new:.{d}f}",
                        Text(_delta(c), style=style),
                        _ci(c),
                        _p(c.p_value),
                    )
                print_whole(console, sub)
    style = "bold red" if comp.regressions else "bold green"
    console.print(Text(headline(comp), style=style))
    console.print(Text(method_line(comp), style="dim"))
    for note in notes_of(comp):
        console.print(Text("note: " + note, style="yellow"))
