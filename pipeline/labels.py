"""Label sidecars (`x.labels.json` next to `x.mp4`): reading them, and carrying a frame's objects into the
output crop, where visibility is recomputed for the part of each box that survives the crop."""

from __future__ import annotations

import json
import math
import posixpath
from dataclasses import dataclass, field

from unitscope.pipeline import schema
from unitscope.pipeline.decode import Geometry


@dataclass
class Sidecar:
    concepts: list[str]
    frames: dict[int, list[dict]] = field(default_factory=dict)


def sidecar_path(video_path: str) -> str:
    return posixpath.splitext(video_path)[0] + schema.LABELS_SUFFIX


def read_sidecar(fs, video_path: str) -> Sidecar | None:
    """The sidecar of a video, None when it has none; ValueError naming the file when it is malformed."""
    path = sidecar_path(video_path)
    if not fs.exists(path):
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
                objects.append({"concept": str(o["concept"]), "box": box, "visible": float(o["visible"])})
            frames[int(entry["frame"])] = objects
        return Sidecar([str(c) for c in doc.get("concepts", [])], frames)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"label sidecar {name} is malformed ({exc}); fix it to the format in DESIGN.md or remove it"
        ) from exc


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
