"""Drawing primitives of the planted figures: unit-space shapes, their pose transform, and rasterisation.

A figure is a list of primitives in unit coordinates (y down, nominal height 1, centred on 0). Each
primitive is drawn twice: in colour onto the frame and as the object's id onto an id map, so that the
pixels an object owns after occlusion are known exactly (see `labels.py`).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np
from PIL import ImageDraw


@dataclass(frozen=True)
class Prim:
    """One primitive: 'poly' (filled polygon), 'line' (polyline of `width`), 'disc' or 'ring' (circle)."""

    kind: str
    pts: np.ndarray  # (N, 2) points; circles: one point, the centre
    role: str  # which of the object's colours: 'fill', 'feature', 'accent'
    width: float = 0.0  # line or ring stroke width (unit space)
    r: float = 0.0  # circle radius (unit space)


def ellipse(cx: float, cy: float, rx: float, ry: float, role: str, n: int = 28) -> Prim:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return Prim("poly", np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], 1), role)


def arc(cx: float, cy: float, r: float, a0: float, a1: float, width: float, role: str, n: int = 12) -> Prim:
    a = np.radians(np.linspace(a0, a1, n))
    return Prim("line", np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], 1), role, width=width)


def line(points: list[tuple[float, float]], width: float, role: str) -> Prim:
    return Prim("line", np.asarray(points, dtype=float), role, width=width)


def poly(points: list[tuple[float, float]], role: str) -> Prim:
    return Prim("poly", np.asarray(points, dtype=float), role)


def disc(cx: float, cy: float, r: float, role: str) -> Prim:
    return Prim("disc", np.array([[cx, cy]], dtype=float), role, r=r)


def ring(cx: float, cy: float, r: float, width: float, role: str) -> Prim:
    return Prim("ring", np.array([[cx, cy]], dtype=float), role, width=width, r=r)


def pose(prims: list[Prim], x: float, y: float, size: float, angle_deg: float) -> list[Prim]:
    """The primitives in pixel coordinates: scaled by `size`, rotated by `angle_deg`, centred on (x, y)."""
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * size
    off = np.array([x, y])
    return [Prim(p.kind, p.pts @ rot.T + off, p.role, p.width * size, p.r * size) for p in prims]


def bounds(prims: list[Prim]) -> tuple[float, float, float, float]:
    """Bounding box (x0, y0, x1, y1) of posed primitives, strokes and radii included."""
    lo, hi = np.full(2, np.inf), np.full(2, -np.inf)
    for p in prims:
        pad = p.r + p.width / 2
        lo = np.minimum(lo, p.pts.min(0) - pad)
        hi = np.maximum(hi, p.pts.max(0) + pad)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def draw(
    canvas: ImageDraw.ImageDraw,
    prims: list[Prim],
    colours: dict[str, object],
    dx: float = 0.0,
    dy: float = 0.0,
) -> None:
    """Rasterise posed primitives onto `canvas`, shifted by (dx, dy); colours maps role to a fill value."""
    shift = np.array([dx, dy])
    for p in prims:
        c = colours[p.role]
        pts = p.pts + shift
        if p.kind == "poly":
            canvas.polygon(pts.ravel().tolist(), fill=c)
        elif p.kind == "line":
            canvas.line(pts.ravel().tolist(), fill=c, width=max(1, round(p.width)))
        else:
            (cx, cy), r = pts[0], max(p.r, 0.75)
            box = (cx - r, cy - r, cx + r, cy + r)
            if p.kind == "disc":
                canvas.ellipse(box, fill=c)
            else:
                canvas.ellipse(box, outline=c, width=max(1, round(p.width)))


def random_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """A fill colour: any hue, moderate saturation, mid to high value."""
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.15, 0.8), rng.uniform(0.45, 0.95))
    return int(r * 255), int(g * 255), int(b * 255)


def contrast_colour(rng: np.random.Generator, fill: tuple[int, int, int]) -> tuple[int, int, int]:
    """A feature colour that stands out against `fill`: usually dark, sometimes light."""
    lum = 0.3 * fill[0] + 0.59 * fill[1] + 0.11 * fill[2]
    v = rng.uniform(0.0, 0.25) if lum > 110 or rng.random() < 0.8 else rng.uniform(0.85, 1.0)
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0, 0.5), v)
    return int(r * 255), int(g * 255), int(b * 255)
