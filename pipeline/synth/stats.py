"""Label statistics of clips and of a whole corpus, in the terms of the documented `RANGES`."""

from __future__ import annotations

from collections.abc import Iterable

from unitscope.pipeline import schema
from unitscope.pipeline.synth.config import SynthConfig


class ClipStats:
    """Counts over the frames of one clip, fed one frame's observations at a time."""

    def __init__(self, cfg: SynthConfig):
        self.cfg = cfg
        self.c = {
            "frames": 0,
            "labelled": dict.fromkeys(cfg.concepts, 0),
            "distractors": 0,
            "frames_with_distractor": 0,
            "frames_with_two_concepts": 0,
            "boxes": 0,
            "boxes_in_center": 0,
            "boxes_occluded": 0,
            "height_min": None,
            "height_max": None,
        }

    def add(self, observations: Iterable) -> None:
        c, w, h = self.c, self.cfg.width, self.cfg.height
        c["frames"] += 1
        shown = [o for o in observations if o.concept and o.visible >= schema.VISIBLE_MIN]
        distractors = sum(1 for o in observations if not o.concept)
        c["distractors"] += distractors
        c["frames_with_distractor"] += distractors > 0
        c["frames_with_two_concepts"] += len({o.kind for o in shown}) >= 2
        for o in shown:
            c["labelled"][o.kind] += 1
            c["boxes"] += 1
            c["boxes_in_center"] += abs((o.box[0] + o.box[2]) / 2 - w / 2) <= h / 2
            c["boxes_occluded"] += o.visible < 0.99
            frac = o.size / h
            c["height_min"] = frac if c["height_min"] is None else min(c["height_min"], frac)
            c["height_max"] = frac if c["height_max"] is None else max(c["height_max"], frac)

    def as_dict(self) -> dict:
        return {**self.c, "labelled": dict(self.c["labelled"])}


def summarize(clips: list[dict]) -> dict:
    """Corpus-wide figures from per-clip counts (the keys of RANGES, plus a few more)."""
    frames = sum(c["frames"] for c in clips)
    if not frames:
        return {"frames": 0}
    labelled: dict[str, int] = {}
    for c in clips:
        for k, v in c["labelled"].items():
            labelled[k] = labelled.get(k, 0) + v
    boxes = sum(c["boxes"] for c in clips)
    lows = [c["height_min"] for c in clips if c["height_min"] is not None]
    highs = [c["height_max"] for c in clips if c["height_max"] is not None]
    return {
        "frames": frames,
        "concept_frame_fraction": {k: round(v / frames, 4) for k, v in labelled.items()},
        "concept_height_fraction": [round(min(lows), 4), round(max(highs), 4)] if lows else None,
        "distractors_per_frame": round(sum(c["distractors"] for c in clips) / frames, 4),
        "frames_with_distractor": round(sum(c["frames_with_distractor"] for c in clips) / frames, 4),
        "concept_in_center_square": round(sum(c["boxes_in_center"] for c in clips) / max(1, boxes), 4),
        "frames_with_two_concepts": round(sum(c["frames_with_two_concepts"] for c in clips) / frames, 4),
        "labelled_partly_hidden": round(sum(c["boxes_occluded"] for c in clips) / max(1, boxes), 4),
    }
