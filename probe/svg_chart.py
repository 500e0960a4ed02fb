"""Inline SVG charts for the HTML pages (report, gallery, dissection): a histogram of one or more series
over shared bins, and a curve with its band. Plain strings, so every page stays one self-contained file."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LABEL_STRIP = 16  # pixels under the bars for the axis labels
CURVE, BAND, REF = "#1c7ed6", "#a5d8ff", "#e03131"


@dataclass(frozen=True)
class Bars:
    """One series: a bar height per bin (counts or fractions), drawn in `color`."""

    heights: Sequence[float]
    color: str
    opacity: float = 1.0


@dataclass(frozen=True)
class Mark:
    """A vertical line at `x`, in the bins' units."""

    x: float
    color: str = "#000"
    dashed: bool = False
    width: float = 1.0


def histogram(
    series: Sequence[Bars],
    edges: Sequence[float],
    *,
    width: int = 340,
    height: int = 110,
    marks: Sequence[Mark] = (),
    ticks: Sequence[float] | None = None,
    label: str = "histogram",
) -> str:
    """Every series' bars over the bins `edges` (one more edge than heights), all to one scale and
    overlaid in order; each mark inside the bins as a vertical line; axis labels at `ticks` (the two
    end edges by default). No bins or no series gives an empty string."""
    series = [s for s in series if len(s.heights)]
    if len(edges) < 2 or not series:
        return ""
    lo, hi = float(edges[0]), float(edges[-1])
    span = hi - lo if hi > lo else 1.0
    base, room = height - LABEL_STRIP + 2, height - LABEL_STRIP
    top = max(max(float(v) for v in s.heights) for s in series) or 1.0
    bw = width / (len(edges) - 1)
    parts = []
    for s in series:
        fill = f'fill="{s.color}"' + (f' fill-opacity="{s.opacity:g}"' if s.opacity < 1 else "")
        for i, v in enumerate(s.heights):
            bh = room * float(v) / top
            parts.append(
                f'<rect x="{i * bw:.1f}" y="{base - bh:.1f}" width="{max(bw - 1, 1):.1f}" height="{bh:.1f}" '
                f"{fill}><title>{edges[i]:.3g}..{edges[i + 1]:.3g}: {float(v):.3g}</title></rect>"
            )
    for m in marks:
        if math.isfinite(m.x) and lo <= m.x <= hi:
            x = width * (m.x - lo) / span
            dash = ' stroke-dasharray="3 2"' if m.dashed else ""
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{base}" stroke="{m.color}" '
                f'stroke-width="{m.width:g}"{dash}/>'
            )
    for v in (lo, hi) if ticks is None else ticks:
        x = width * (v - lo) / span
        anchor = "start" if x <= 0 else "end" if x >= width else "middle"
        parts.append(
            f'<text x="{x:.0f}" y="{height - 2}" font-size="10" text-anchor="{anchor}">{v:.3g}</text>'
        )
    return _svg(width, height, label, parts)


def curve(
    xs: Sequence[float],
    mean: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
    reference: float,
    *,
    title: str,
    note: str = "",
    span: Sequence[float] | None = None,
    log_x: bool = False,
    width: int = 300,
    height: int = 150,
) -> str:
    """`mean` over `xs` as a line inside its `low`..`high` band, `reference` as a dashed line, the x range
    `span` (if any) as a bar under the axis, `note` (the unit) in the corner. `log_x` spaces x by log2.
    Fewer than two points gives an empty string."""
    xs = np.asarray(xs, float)
    if len(xs) < 2:
        return ""
    xv = np.log2(xs) if log_x else xs
    ys = [np.asarray(y, float) for y in (mean, low, high)]
    lo = min(min(float(y.min()) for y in ys), reference)
    hi = max(max(float(y.max()) for y in ys), reference)
    hi = hi if hi > lo else lo + 1.0
    x_span = xv[-1] - xv[0] if xv[-1] != xv[0] else 1.0
    pl, pr, pt, pb = 34, 8, 18, 28

    def px(v: float) -> float:
        return pl + (width - pl - pr) * (v - xv[0]) / x_span

    def py(v: float) -> float:
        return pt + (height - pt - pb) * (hi - v) / (hi - lo)

    band = [f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xv, ys[2], strict=True)]
    band += [f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xv[::-1], ys[1][::-1], strict=True)]
    line = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xv, ys[0], strict=True))
    parts = [
        f'<text x="{pl}" y="12" font-size="12" font-weight="600">{html.escape(title)}</text>',
        f'<polygon points="{" ".join(band)}" fill="{BAND}" fill-opacity="0.7"/>',
        f'<polyline points="{line}" fill="none" stroke="{CURVE}" stroke-width="2"/>',
        f'<line x1="{pl}" x2="{width - pr}" y1="{py(reference):.1f}" y2="{py(reference):.1f}" stroke="{REF}" '
        'stroke-dasharray="4 3"/>',
        f'<text x="{pl - 3}" y="{pt + 4}" font-size="9" text-anchor="end">{hi:.2g}</text>',
        f'<text x="{pl - 3}" y="{height - pb}" font-size="9" text-anchor="end">{lo:.2g}</text>',
    ]
    if span:
        a, b = (np.log2(span[0]), np.log2(span[1])) if log_x else span
        parts.append(f'<rect x="{px(a):.1f}" y="{height - pb + 2}" width="{max(px(b) - px(a), 2):.1f}" '
                     f'height="4" fill="{CURVE}"/>')  # fmt: skip
    for v, shown in ((xv[0], xs[0]), (xv[len(xv) // 2], xs[len(xs) // 2]), (xv[-1], xs[-1])):
        parts.append(
            f'<text x="{px(v):.1f}" y="{height - pb + 16}" font-size="9" text-anchor="middle">{shown:g}</text>'
        )
    parts.append(
        f'<text x="{width - pr}" y="{height - 2}" font-size="9" text-anchor="end">{html.escape(note)}</text>'
    )
    return _svg(width, height, title, parts)


def _svg(width: int, height: int, label: str, parts: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(label)}">{"".join(parts)}</svg>'
    )
