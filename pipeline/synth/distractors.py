"""Distractors: shapes that share the concepts' parts without being them (dots, eyeless ovals, arcs,
spokeless rings, ear-like triangles, limb-like sticks) and large blobs that occlude.

Same interface as `concepts.py`: `params(rng)` and `figure(params, t)` in unit space.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from unitscope.pipeline.synth.concepts import colours
from unitscope.pipeline.synth.shapes import Prim, arc, disc, ellipse, line, poly, ring


def _params(rng: np.random.Generator) -> dict:
    return {"colours": colours(rng), "u": rng.random(8)}


def dot(p: dict, t: float) -> list[Prim]:
    return [disc(0, 0, 0.045 + 0.05 * p["u"][0], "feature")]


def dots(p: dict, t: float) -> list[Prim]:
    x, r = 0.12 + 0.07 * p["u"][0], 0.045 + 0.03 * p["u"][1]
    return [disc(-x, 0, r, "feature"), disc(x, 0, r, "feature")]


def oval(p: dict, t: float) -> list[Prim]:
    return [ellipse(0, 0, 0.3 + 0.14 * p["u"][0], 0.5, "fill")]


def arc_(p: dict, t: float) -> list[Prim]:
    span = 60 + 140 * p["u"][0]
    return [
        arc(0, 0, 0.25 + 0.2 * p["u"][1], 90 - span / 2, 90 + span / 2, 0.04 + 0.05 * p["u"][2], "feature")
    ]


def ring_(p: dict, t: float) -> list[Prim]:
    tyre = 0.06 + 0.06 * p["u"][0]
    prims = [ring(0, 0, 0.5 - tyre / 2, tyre, "feature")]
    if p["u"][1] < 0.5:
        prims.append(disc(0, 0, 0.06 + 0.05 * p["u"][2], "accent"))
    return prims


def triangle(p: dict, t: float) -> list[Prim]:
    w, h = 0.16 + 0.1 * p["u"][0], 0.38 + 0.12 * p["u"][1]
    if p["u"][2] < 0.5:
        return [poly([(-w, h / 2), (0, -h / 2), (w, h / 2)], "fill")]
    return [poly([(s * 0.34, 0.2), (s * 0.3, 0.2 - h), (s * (0.3 - w), -0.0)], "fill") for s in (-1, 1)]


def sticks(p: dict, t: float) -> list[Prim]:
    u = p["u"]
    pts, a = [(0.0, -0.4)], u[0] * 2 * np.pi
    for k in range(2 + int(u[1] * 3)):
        a += (u[2 + k] - 0.5) * 2.5
        x, y = pts[-1]
        pts.append((x + 0.25 * np.sin(a), y + 0.25 * np.cos(a)))
    return [line(pts, 0.045, "feature")]


def blob(p: dict, t: float) -> list[Prim]:
    a = np.linspace(0, 2 * np.pi, 9, endpoint=False)
    r = 0.3 + 0.2 * np.resize(p["u"], 9)
    return [poly(list(zip(r * np.cos(a), r * np.sin(a) * 0.8, strict=True)), "fill")]


# name -> (params, figure, rotation range either side, spin in degrees/s)
DISTRACTOR_KINDS: dict[str, tuple[Callable, Callable, float, float]] = {
    "dot": (_params, dot, 180.0, 0.0),
    "dots": (_params, dots, 30.0, 10.0),
    "oval": (_params, oval, 40.0, 10.0),
    "arc": (_params, arc_, 180.0, 20.0),
    "ring": (_params, ring_, 180.0, 0.0),
    "triangle": (_params, triangle, 40.0, 10.0),
    "sticks": (_params, sticks, 180.0, 30.0),
    "blob": (_params, blob, 180.0, 15.0),
}
