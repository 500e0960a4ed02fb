"""The planted concepts: a face-like figure, a spoked wheel, a cat-like head and a walking stick figure.

Each concept is one `ConceptKind`: `params(rng)` (per-instance shape variation and colours), `figure(params,
t)` (its primitives in unit space at time `t` seconds; nominal height 1), the poses it may take and its
preview colour. Poses (position, scale, rotation) are applied by the scene, not here. The config's choices,
the tracks, the preview and `synth --help` read `CONCEPT_KINDS`, so a new kind is one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from unitscope.pipeline.synth.shapes import (
    Prim,
    arc,
    contrast_colour,
    disc,
    ellipse,
    line,
    poly,
    random_colour,
    ring,
)


def colours(rng: np.random.Generator) -> dict:
    """An instance's colours by role: a random fill, a feature colour that contrasts with it, an accent."""
    fill = random_colour(rng)
    return {"fill": fill, "feature": contrast_colour(rng, fill), "accent": random_colour(rng)}


def face_params(rng: np.random.Generator) -> dict:
    return {
        "colours": colours(rng),
        "rx": rng.uniform(0.32, 0.42),
        "eye_x": rng.uniform(0.12, 0.18),
        "eye_y": rng.uniform(-0.13, -0.04),
        "eye_r": rng.uniform(0.045, 0.075),
        "eye_aspect": rng.uniform(0.7, 1.4),
        "mouth": int(rng.integers(3)),  # smile, straight, open
        "nose": bool(rng.random() < 0.5),
    }


def face(p: dict, t: float) -> list[Prim]:
    er = p["eye_r"]
    prims = [
        ellipse(0, 0, p["rx"], 0.5, "fill"),
        ellipse(-p["eye_x"], p["eye_y"], er, er * p["eye_aspect"], "feature", n=12),
        ellipse(p["eye_x"], p["eye_y"], er, er * p["eye_aspect"], "feature", n=12),
    ]
    if p["mouth"] == 0:
        prims.append(arc(0, 0.1, 0.17, 30, 150, 0.05, "feature"))
    elif p["mouth"] == 1:
        prims.append(line([(-0.14, 0.26), (0.14, 0.26)], 0.05, "feature"))
    else:
        prims.append(ellipse(0, 0.26, 0.1, 0.06, "feature", n=14))
    if p["nose"]:
        prims.append(line([(0, -0.02), (0.03, 0.1)], 0.035, "feature"))
    return prims


def wheel_params(rng: np.random.Generator) -> dict:
    return {
        "colours": colours(rng),
        "spokes": int(rng.integers(4, 9)),
        "tyre": rng.uniform(0.06, 0.12),
        "hub": rng.uniform(0.06, 0.11),
    }


def wheel(p: dict, t: float) -> list[Prim]:
    r = 0.5 - p["tyre"] / 2
    prims = [ring(0, 0, r, p["tyre"], "feature")]
    for a in np.linspace(0, 2 * np.pi, p["spokes"], endpoint=False):
        prims.append(line([(0, 0), (r * np.cos(a), r * np.sin(a))], 0.035, "fill"))
    prims.append(disc(0, 0, p["hub"], "accent"))
    return prims


def cat_params(rng: np.random.Generator) -> dict:
    return {
        "colours": colours(rng),
        "ear_h": rng.uniform(0.38, 0.5),
        "ear_w": rng.uniform(0.16, 0.26),
        "eye_x": rng.uniform(0.12, 0.17),
        "whisker": rng.uniform(0.45, 0.6),
        "inner_ears": bool(rng.random() < 0.5),
    }


def cat(p: dict, t: float) -> list[Prim]:
    top, ew = 0.02 - p["ear_h"], p["ear_w"]
    prims = [
        poly([(-0.36, 0.05), (-0.32, top), (-0.32 + ew, -0.14)], "fill"),
        poly([(0.36, 0.05), (0.32, top), (0.32 - ew, -0.14)], "fill"),
        ellipse(0, 0.12, 0.37, 0.3, "fill"),
    ]
    if p["inner_ears"]:
        prims += [
            poly([(-0.3, -0.05), (-0.3, top + 0.12), (-0.3 + ew * 0.6, -0.12)], "accent"),
            poly([(0.3, -0.05), (0.3, top + 0.12), (0.3 - ew * 0.6, -0.12)], "accent"),
        ]
    for s in (-1, 1):
        prims.append(ellipse(s * p["eye_x"], 0.06, 0.055, 0.075, "accent", n=12))
        prims.append(line([(s * p["eye_x"], 0.0), (s * p["eye_x"], 0.12)], 0.025, "feature"))
        for dy in (-0.07, 0.0, 0.07):
            prims.append(line([(s * 0.08, 0.26), (s * p["whisker"], 0.26 + dy * 1.6)], 0.016, "feature"))
    prims.append(poly([(-0.05, 0.18), (0.05, 0.18), (0, 0.24)], "feature"))
    return prims


def walker_params(rng: np.random.Generator) -> dict:
    return {
        "colours": colours(rng),
        "hz": rng.uniform(0.8, 1.8),
        "phase": rng.uniform(0, 2 * np.pi),
        "swing": rng.uniform(0.35, 0.6),
        "width": rng.uniform(0.04, 0.06),
    }


def _limb(start: tuple[float, float], a1: float, a2: float, length: float) -> list[tuple[float, float]]:
    x0, y0 = start
    x1, y1 = x0 + length * np.sin(a1), y0 + length * np.cos(a1)
    return [(x0, y0), (x1, y1), (x1 + length * np.sin(a2), y1 + length * np.cos(a2))]


def walker(p: dict, t: float) -> list[Prim]:
    phi = 2 * np.pi * p["hz"] * t + p["phase"]
    s, w = p["swing"] * np.sin(phi), p["width"]
    hip, shoulder = (0.0, 0.06), (0.0, -0.24)
    knee = 0.35 * max(0.0, np.cos(phi))
    return [
        disc(0, -0.4, 0.1, "fill"),
        line([(0, -0.3), hip], w, "feature"),
        line(_limb(hip, s, s - knee - 0.1, 0.22), w, "feature"),
        line(_limb(hip, -s, -s - 0.45 + knee, 0.22), w, "feature"),
        line(_limb(shoulder, -0.8 * s, -0.8 * s + 0.5, 0.15), w * 0.9, "feature"),
        line(_limb(shoulder, 0.8 * s, 0.8 * s + 0.5, 0.15), w * 0.9, "feature"),
    ]


@dataclass(frozen=True)
class ConceptKind:
    name: str
    params: Callable[[np.random.Generator], dict]
    figure: Callable[[dict, float], list[Prim]]
    rotation: float  # degrees either side of upright
    spin: float  # degrees per second
    colour: tuple[int, int, int]  # of its boxes in the preview sheet
    animated: bool = False  # its shape, not just its pose, changes over time


# In this order the corpus draws them: a new kind goes last, or every existing corpus changes.
CONCEPT_KINDS: dict[str, ConceptKind] = {
    k.name: k
    for k in (
        ConceptKind("face", face_params, face, 30.0, 10.0, (255, 230, 0)),
        ConceptKind("wheel", wheel_params, wheel, 180.0, 240.0, (0, 230, 255)),
        ConceptKind("cat", cat_params, cat, 30.0, 10.0, (255, 80, 200)),
        ConceptKind("walker", walker_params, walker, 15.0, 5.0, (120, 255, 90), animated=True),
    )
}
