"""The label sidecar the corpus writes next to each clip, and the visibility rule that decides what it lists.

Visibility rule: an object's `visible` is the number of frame pixels it still owns after everything in
front of it is drawn (so pixels outside the frame and pixels covered by occluders do not count), divided
by the pixels it would cover drawn alone on an unbounded canvas. A concept is listed in a frame's
`objects` when `visible >= pipeline.schema.VISIBLE_MIN`. Its `box` is the bounding box of its whole
figure, clipped to the frame, in source pixels [x0, y0, x1, y1) (x1, y1 exclusive).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from unitscope.pipeline import schema

VISIBILITY_RULE = (
    "visible = pixels of the concept's figure inside the frame and not covered by anything drawn in front "
    "of it / pixels of the whole figure drawn alone; a concept is listed in a frame's objects when "
    f"visible >= {schema.VISIBLE_MIN}; box = the whole figure's bounding box clipped to the frame, "
    "[x0, y0, x1, y1) in source pixels"
)


def visible_fraction(owned: int, area: int) -> float:
    """Fraction of an object's figure that shows: `owned` pixels out of its full `area` (capped at 1)."""
    if area <= 0:
        return 0.0
    return min(1.0, owned / area)


def frame_entry(frame: int, objects: Iterable) -> dict:
    """One element of the sidecar's `frames`: the concepts visible by the rule, in drawing order."""
    return {
        "frame": frame,
        "objects": [
            {"concept": o.kind, "box": list(o.box), "visible": round(o.visible, 3)}
            for o in objects
            if o.concept and o.visible >= schema.VISIBLE_MIN
        ],
    }


def sidecar_bytes(concepts: Sequence[str], frames: list[dict]) -> bytes:
    """The sidecar file's content: compact, key-sorted JSON, so the same labels give the same bytes."""
    doc = {"version": schema.LABELS_VERSION, "concepts": list(concepts), "frames": frames}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sidecar_name(video_name: str) -> str:
    """`clip-0000.mp4` -> `clip-0000.mp4.labels.json` (named after the whole file name, as ingest reads it)."""
    return video_name + schema.LABELS_SUFFIX
