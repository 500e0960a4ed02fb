"""Synthetic concept kinds are one entry each: a kind added to CONCEPT_KINDS is accepted by the config,
planted by the tracks, labelled in the sidecar entries and coloured in the preview, with no other edit."""

from __future__ import annotations

import pytest
from unitscope.pipeline.synth import concepts, labels
from unitscope.pipeline.synth.config import RANGES, SynthConfig
from unitscope.pipeline.synth.scene import Scene
from unitscope.pipeline.synth.shapes import disc


@pytest.fixture
def moon_kind(monkeypatch):
    kind = concepts.ConceptKind(
        "moon", lambda rng: {"colours": concepts.colours(rng)}, lambda p, t: [disc(0.0, 0.0, 0.5, "fill")], 0.0, 0.0,
        (10, 20, 30),
    )  # fmt: skip
    monkeypatch.setitem(concepts.CONCEPT_KINDS, "moon", kind)
    return kind


def test_a_new_kind_is_planted_and_labelled(moon_kind):
    cfg = SynthConfig(out="memory://unused", seconds=3, fps=10, seed=3, concepts=["moon"], presence=0.9)
    scene = Scene(cfg, 0)
    assert {t.kind for t in scene.tracks if t.concept} == {"moon"}
    seen = [
        o["concept"] for i in range(cfg.frames) for o in labels.frame_entry(i, scene.render(i)[1])["objects"]
    ]
    assert seen and set(seen) == {"moon"}


def test_unknown_kinds_are_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"must be distinct names from \['face', 'wheel', 'cat', 'walker'\]"):
        SynthConfig(out="x", concepts=["moon"])


def test_the_documented_ranges_come_from_the_kinds():
    assert RANGES["concept_rotation_degrees"] == {
        k.name: round(k.rotation) for k in concepts.CONCEPT_KINDS.values()
    }
