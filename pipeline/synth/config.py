"""Typed configuration of the planted-concept corpus and the ranges it is documented (and tested) to hold."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from unitscope.pipeline.synth.concepts import CONCEPT_KINDS

DISTRACTORS = ("dot", "dots", "oval", "arc", "ring", "triangle", "sticks", "blob")

# What the corpus promises, measured over a few hundred frames (tests check these; corpus.json carries them).
# Frequencies count frames whose sidecar lists the concept (visible >= VISIBLE_MIN).
RANGES = {
    "concept_frame_fraction": (0.15, 0.35),  # per concept: fraction of frames it is labelled in
    "concept_height_fraction": (0.2, 0.8),  # a concept's nominal height / frame height (4x range)
    "concept_rotation_degrees": {k.name: round(k.rotation) for k in CONCEPT_KINDS.values()},  # +- upright
    "distractors_per_frame": (1.5, 4.5),  # mean number of distractors on screen
    "frames_with_distractor": (0.75, 1.0),  # fraction of frames with at least one distractor on screen
    "concept_in_center_square": (0.6, 1.0),  # fraction of labelled boxes whose centre is in the centre square
}


class SynthConfig(BaseModel):
    """Parameters of `unitscope synth`: how many clips, their size and length, and what is planted."""

    model_config = ConfigDict(extra="forbid")

    out: str = Field(description="output directory (any fsspec URL)")
    videos: int = Field(8, ge=1, le=100_000, description="number of clips")
    seconds: float = Field(10.0, gt=0, le=3600, description="length of each clip")
    fps: float = Field(30.0, gt=0, le=120, description="frames per second")
    size: int = Field(360, ge=64, le=2160, description="frame height in pixels; width is 16:9")
    seed: int = Field(0, ge=0, description="corpus seed; clip i is seeded from (seed, i)")
    workers: int | None = Field(None, ge=0, description="Ray tasks at once (default: CPUs); 0 = in-process")
    preview: str | None = Field(None, description="write a contact sheet PNG of labelled frames here")
    concepts: list[str] = Field(default_factory=lambda: list(CONCEPT_KINDS), description="planted concepts")
    presence: float = Field(0.3, gt=0, le=1, description="fraction of each clip a concept is on screen")
    distractor_slots: int = Field(4, ge=0, le=16, description="distractor tracks running side by side")
    noise: float = Field(
        0.0, ge=0, le=64, description="per-frame sensor noise amplitude in grey levels (costs ~0.7 ms/frame)"
    )
    preset: str = Field("ultrafast", description="libx264 preset")
    crf: int = Field(26, ge=0, le=51, description="libx264 constant rate factor")
    prefix: str = Field("clip", description="clip file names: <prefix>-0000.mp4")

    @field_validator("size")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError(f"must be even (H.264 in yuv420p needs even frame sizes); try {v + 1}")
        return v

    @field_validator("concepts")
    @classmethod
    def _concepts(cls, v: list[str]) -> list[str]:
        unknown = [c for c in v if c not in CONCEPT_KINDS]
        if unknown or not v or len(set(v)) != len(v):
            raise ValueError(f"must be distinct names from {list(CONCEPT_KINDS)}; got {v}")
        return v

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not v or not all(c.isalnum() or c in "-_" for c in v):
            raise ValueError("must be letters, digits, '-' or '_' (it names files)")
        return v

    @model_validator(mode="after")
    def _frames(self) -> SynthConfig:
        if self.frames < 2:
            raise ValueError("seconds * fps must give at least 2 frames per clip")
        return self

    @property
    def width(self) -> int:
        return round(self.size * 16 / 9 / 2) * 2

    @property
    def height(self) -> int:
        return self.size

    @property
    def frames(self) -> int:
        return round(self.seconds * self.fps)

    def clip_name(self, index: int) -> str:
        return f"{self.prefix}-{index:04d}"
