"""The synthetic scene: the visibility rule on staged scenes, and labels that agree with the pixels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from unitscope.pipeline import schema
from unitscope.pipeline.synth import labels
from unitscope.pipeline.synth.config import SynthConfig
from unitscope.pipeline.synth.scene import Scene
from unitscope.pipeline.synth.tracks import Planner

CFG = SynthConfig(out="memory://unused", seconds=1, fps=10, seed=5)


def staged(kind: str, concept: bool, x: float, y: float, size: float, z: float):
    """A still object at (x, y), upright, drawn at depth z."""
    track = Planner(np.random.default_rng(7), CFG).track(kind, concept, (0, CFG.frames), size)
    track.path, track.sizes, track.angle, track.spin, track.z = (
        np.array([[x, y]] * 3),
        (size, size),
        0.0,
        0.0,
        z,
    )
    return track


def face_visible(*others) -> float:
    face = staged("face", True, 320, 180, 150, 0.5)
    scene = Scene(CFG, 0, tracks=sorted([face, *others], key=lambda t: t.z))
    _, observations = scene.render(0)
    return next((o.visible for o in observations if o.kind == "face"), 0.0)


def test_visible_alone_in_frame_is_one():
    assert face_visible() == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("x", [0.0, -30.0, 25.0, 640.0, 600.0])
def test_visible_counts_only_the_part_inside_the_frame(x):
    face = staged("face", True, x, 180, 150, 0.5)
    _, observations = Scene(CFG, 0, tracks=[face]).render(0)
    (obs,) = observations
    # the face's silhouette is its oval: the inside share of an ellipse cut by a vertical line
    rx = face.params["rx"] * 150
    u = np.clip((min(x, CFG.width - x)) / rx, -1, 1)
    expected = 1 - (np.arccos(u) - u * np.sqrt(1 - u * u)) / np.pi
    assert obs.visible == pytest.approx(expected, abs=0.03)
    assert obs.box[0] >= 0 and obs.box[2] <= CFG.width  # boxes are clipped to the frame


def test_visible_subtracts_occluders_in_front_but_not_behind():
    blob_front = staged("blob", False, 320, 180, 400, 0.9)
    blob_behind = staged("blob", False, 320, 180, 400, 0.1)
    assert face_visible(blob_front) < 0.05
    assert face_visible(blob_behind) == pytest.approx(1.0, abs=0.01)
    half = staged("oval", False, 250, 180, 200, 0.9)  # an eyeless oval over the face's left part
    assert 0.2 < face_visible(half) < 0.8


def test_frame_entry_lists_only_concepts_visible_by_the_rule():
    from unitscope.pipeline.synth.scene import Observation

    obs = [
        Observation(0, "face", True, (1, 2, 30, 40), 40.0, schema.VISIBLE_MIN),
        Observation(1, "cat", True, (5, 5, 50, 50), 40.0, schema.VISIBLE_MIN - 0.01),
        Observation(2, "oval", False, (5, 5, 50, 50), 40.0, 1.0),
    ]
    entry = labels.frame_entry(7, obs)
    assert entry == {"frame": 7, "objects": [{"concept": "face", "box": [1, 2, 30, 40], "visible": 0.5}]}
    doc = json.loads(labels.sidecar_bytes(["face", "cat"], [entry]))
    assert doc["version"] == schema.LABELS_VERSION and doc["concepts"] == ["face", "cat"]
    assert labels.sidecar_name("clip-0003.mp4") == "clip-0003.mp4" + schema.LABELS_SUFFIX


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a != b).any(-1)


@pytest.mark.parametrize("index", [0, 1])
def test_labels_agree_with_pixels(index):
    """Leaving a concept out changes about `visible` of its figure's pixels, all inside its labelled box;
    for one on screen but unlabelled, fewer than the rule's minimum; off screen, nothing."""
    cfg = SynthConfig(out="memory://unused", seconds=6, seed=11)
    scene = Scene(cfg, index)
    checked = {"labelled": 0, "unlabelled": 0, "absent": 0}
    for i in range(0, cfg.frames, 9):
        rgb, observations = scene.render(i)
        entry = labels.frame_entry(i, observations)
        listed = {o.track: o for o in observations if o.concept and o.visible >= schema.VISIBLE_MIN}
        assert [o["concept"] for o in entry["objects"]] == [o.kind for o in listed.values()]
        on_screen = {o.track: o for o in observations if o.concept}
        for k, track in enumerate(scene.tracks):
            if not track.concept or not track.start <= i < track.end:
                continue
            diff = changed(rgb, scene.render(i, without=frozenset([k]))[0])
            obs = on_screen.get(k)
            if obs is None:  # drawn entirely outside the frame or behind others
                assert not diff.any()
                checked["absent"] += 1
            elif k in listed:
                x0, y0, x1, y1 = obs.box
                assert diff[y0:y1, x0:x1].sum() == diff.sum() > 0  # every changed pixel is in the box
                assert 0.6 * obs.visible <= diff.sum() / obs.area <= obs.visible + 0.01
                checked["labelled"] += 1
            else:
                assert diff.sum() / obs.area < schema.VISIBLE_MIN
                checked["unlabelled"] += 1
        for concept in cfg.concepts:
            present = [t for t in scene.tracks if t.kind == concept and t.start <= i < t.end]
            if not present and concept not in [o["concept"] for o in entry["objects"]]:
                everywhere = frozenset(k for k, t in enumerate(scene.tracks) if t.kind == concept)
                assert not changed(rgb, scene.render(i, without=everywhere)[0]).any()
                checked["absent"] += 1
    assert checked["labelled"] >= 5 and checked["absent"] >= 5, checked
