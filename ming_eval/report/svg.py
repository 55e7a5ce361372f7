"""Grouped bar charts as plain inline SVG: no plotting library, no external file, prints anywhere."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
BASELINE_PALETTE = ("#9ecae1", "#c7c7c7", "#fdd0a2", "#c7e9c0", "#dadaeb", "#d9d9d9")


@dataclass(frozen=True)
class Series:
    """One bar per category; ``None`` leaves a gap. ``lo``/``hi`` draw an interval whisker."""

    name: str
    values: Sequence[float | None]
    lo: Sequence[float | None] | None = None
    hi: Sequence[float | None] | None = None
    ours: bool = True


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".") if abs(x) >= 1 else f"{x:.2f}".rstrip("0").rstrip(".") or "0"


def grouped_bars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    y_max: float | None = None,
    width: int = 760,
    height: int = 300,
) -> str:
    """An SVG chart with one group of bars per category and one bar per series."""
    if not categories or not series:
        return ""
    finite = [v for s in series for v in [*s.values, *(s.hi or [])] if v is not None and math.isfinite(v)]
    top = y_max if y_max is not None else _nice_max(max(finite, default=1.0))
    left, right, top_pad, legend_h = 48, 12, 28, 18 * ((len(series) + 2) // 3)
    bottom = 54 + legend_h
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    group_w = plot_w / len(categories)
    bar_w = max(2.0, min(28.0, group_w * 0.8 / len(series)))

    def y(v: float) -> float:
        return top_pad + plot_h * (1 - min(max(v, 0.0), top) / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" font-family="sans-serif" '
        'font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{width / 2:.1f}" y="16" text-anchor="middle" font-size="13" font-weight="bold">'
        f"{escape(title)}</text>",
    ]
    for i in range(5):
        tick = top * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{left - 4}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="#555">{_fmt(tick)}</text>')
    ours_i = base_i = 0
    colors = []
    for s in series:
        if s.ours:
            colors.append(PALETTE[ours_i % len(PALETTE)])
            ours_i += 1
        else:
            colors.append(BASELINE_PALETTE[base_i % len(BASELINE_PALETTE)])
            base_i += 1
    for ci, cat in enumerate(categories):
        x0 = left + ci * group_w + (group_w - bar_w * len(series)) / 2
        for si, s in enumerate(series):
            v = s.values[ci] if ci < len(s.values) else None
            if v is None or not math.isfinite(v):
                continue
            x = x0 + si * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bar_w - 1:.1f}" height="{y(0) - y(v):.1f}" '
                f'fill="{colors[si]}"><title>{escape(s.name)} — {escape(cat)}: {v:.4g}</title></rect>'
            )
            lo = s.lo[ci] if s.lo is not None and ci < len(s.lo) else None
            hi = s.hi[ci] if s.hi is not None and ci < len(s.hi) else None
            if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
                cx = x + (bar_w - 1) / 2
                parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(lo):.1f}" y2="{y(hi):.1f}" stroke="#222"/>')
                parts.extend(
                    f'<line x1="{cx - 3:.1f}" x2="{cx + 3:.1f}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#222"/>'
                    for yy in (y(lo), y(hi))
                )
        label_x = left + ci * group_w + group_w / 2
        parts.append(f'<text x="{label_x:.1f}" y="{y(0) + 14:.1f}" text-anchor="middle">{escape(cat)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#333"/>')
    legend_y = height - legend_h - 8
    col_w = (width - left) / 3
    for si, s in enumerate(series):
        lx = left + (si % 3) * col_w
        ly = legend_y + 18 * (si // 3)
        parts.append(f'<rect x="{lx:.1f}" y="{ly:.1f}" width="10" height="10" fill="{colors[si]}"/>')
        parts.append(f'<text x="{lx + 14:.1f}" y="{ly + 9:.1f}">{escape(s.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
