"""Label sidecars (`x.mp4.labels.json` next to `x.mp4`): finding and reading them, checking each box
against the source frame, and carrying a frame's objects into the output crop, where visibility is
recomputed for the part of each box that survives the crop. The format is in docs/outputs.md."""

from __future__ import annotations

import glob
import json
import math
import posixpath
from dataclasses import dataclass, field

from unitscope.pipeline import schema
from unitscope.pipeline.decode import Geometry

FORMAT_HINT = "see 'Label sidecars' in docs/outputs.md"
# Boxes may overshoot the frame by this share of its side (annotation tools round outwards); such boxes
# are clipped. Anything further out is refused: it is almost always a box in other units (percent,
# normalised, another resolution), and clipping it would silently change what the label means.
BOX_SLACK = 0.02


@dataclass
class Sidecar:
    concepts: list[str]
    frames: dict[int, list[dict]] = field(default_factory=dict)
    name: str = ""  # the sidecar's file name, for messages


def sidecar_path(video_path: str) -> str:
    """`x.mp4` -> `x.mp4.labels.json`: named after the whole file name, so x.avi and x.mp4 differ."""
    return video_path + schema.LABELS_SUFFIX


def stem_sidecar_path(video_path: str) -> str:
    """The older form `x.mp4` -> `x.labels.json`, read when the video is the only one of that stem."""
    return posixpath.splitext(video_path)[0] + schema.LABELS_SUFFIX


def find_sidecar(fs, video_path: str) -> str | None:
    """The sidecar of a video: `x.mp4.labels.json`, else `x.labels.json` when no other video shares the
    stem `x`; ValueError naming both videos when one does (the labels could belong to either)."""
    from unitscope.pipeline.sources import VIDEO_EXTENSIONS

    path = sidecar_path(video_path)
    if fs.exists(path):
        return path
    legacy = stem_sidecar_path(video_path)
    if not fs.exists(legacy):
        return None
    stem = posixpath.splitext(video_path)[0]
    twins = sorted(
        p
        for p in fs.glob(glob.escape(stem) + ".*")
        if p != video_path
        and posixpath.splitext(p)[0] == stem
        and posixpath.splitext(p)[1].lower() in VIDEO_EXTENSIONS
    )
    if twins:
        name, twin = posixpath.basename(video_path), posixpath.basename(twins[0])
        raise ValueError(
            f"label sidecar {posixpath.basename(legacy)} could belong to {name} or {twin}; rename it "
            f"{name}{schema.LABELS_SUFFIX} (or {twin}{schema.LABELS_SUFFIX})"
        )
    return legacy


def read_sidecar(fs, video_path: str) -> Sidecar | None:
    """The sidecar of a video, None when it has none; ValueError naming the file when it is malformed."""
    path = find_sidecar(fs, video_path)
    if path is None:
        return None
    name = posixpath.basename(path)
    try:
        doc = json.loads(fs.cat_file(path))
        if doc.get("version") != schema.LABELS_VERSION:
            raise ValueError(f"version {doc.get('version')!r}, expected {schema.LABELS_VERSION}")
        frames: dict[int, list[dict]] = {}
        for entry in doc.get("frames", []):
            objects = []
            for o in entry.get("objects", []):
                box = [float(v) for v in o["box"]]
                if len(box) != 4 or not all(math.isfinite(v) for v in box):
                    raise ValueError(f"box {o['box']!r} must be [x0, y0, x1, y1]")
                if box[0] >= box[2] or box[1] >= box[3]:
                    raise ValueError(f"box {o['box']!r} must have x0 < x1 and y0 < y1")
                objects.append(
                    {"concept": str(o["concept"]), "box": box, "visible": float(o.get("visible", 1.0))}
                )
            frames[int(entry["frame"])] = objects
        return Sidecar([str(c) for c in doc.get("concepts", [])], frames, name)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"label sidecar {name} is malformed ({exc}); {FORMAT_HINT}, or remove it") from exc


def frame_objects(sidecar: Sidecar, frame: int, geometry: Geometry) -> list[dict]:
    """The objects of one frame with their boxes checked against the source frame: clipped when they
    overshoot it by at most BOX_SLACK of its size, ValueError naming the sidecar and the frame otherwise
    (a box that lies outside would otherwise vanish from the labels without a word)."""
    w, h = geometry.width, geometry.height
    out = []
    for o in sidecar.frames.get(frame, []):
        x0, y0, x1, y1 = o["box"]
        sx, sy = BOX_SLACK * w, BOX_SLACK * h
        if not (x0 < x1 and y0 < y1):
            raise ValueError(
                f"label sidecar {sidecar.name}, frame {frame}: box {o['box']} of {o['concept']!r} is empty "
                f"or reversed; boxes are [x0, y0, x1, y1] with x0 < x1 and y0 < y1 ({FORMAT_HINT})"
            )
        if x0 < -sx or y0 < -sy or x1 > w + sx or y1 > h + sy:
            raise ValueError(
                f"label sidecar {sidecar.name}, frame {frame}: box {o['box']} of {o['concept']!r} lies "
                f"outside the {w}x{h} frame; boxes are in source pixels, within [0, {w}] x [0, {h}] "
                f"({FORMAT_HINT})"
            )
        box = [max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)]
        out.append({**o, "box": box})
    return out


def crop_objects(objects: list[dict], geometry: Geometry) -> tuple[list[dict], list[str]]:
    """Objects mapped into output-crop pixels (those with any part inside), and the sorted names of the
    concepts whose visible fraction inside the crop reaches schema.VISIBLE_MIN."""
    n = float(geometry.size)
    mapped, visible = [], set()
    for o in objects:
        b = o["box"]
        if b[2] <= 0 or b[3] <= 0 or b[0] >= geometry.width or b[1] >= geometry.height:
            raise ValueError(
                f"label sidecar box {b} of {o['concept']!r} lies outside the {geometry.width}x"
                f"{geometry.height} video: boxes are in source pixels; fix the sidecar"
            )
        x0, y0, x1, y1 = geometry.map_box(b)
        area = max(0.0, x1 - x0) * max(0.0, y1 - y0)
        cx0, cy0, cx1, cy1 = max(0.0, x0), max(0.0, y0), min(n, x1), min(n, y1)
        inside = max(0.0, cx1 - cx0) * max(0.0, cy1 - cy0)
        if area <= 0 or inside <= 0:
            continue
        vis = o["visible"] * inside / area
        mapped.append(
            {
                "concept": o["concept"],
                "box": [round(v, 2) for v in (cx0, cy0, cx1, cy1)],
                "visible": round(vis, 4),
            }
        )
        if vis >= schema.VISIBLE_MIN:
            visible.add(o["concept"])
    return mapped, sorted(visible)
