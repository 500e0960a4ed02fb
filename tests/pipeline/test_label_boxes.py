"""Label sidecar boxes that cannot be right are refused with a message naming the box and the fix."""

from __future__ import annotations

import json

import fsspec
import pytest
from unitscope.pipeline.decode import Geometry
from unitscope.pipeline.labels import crop_objects, read_sidecar


def _sidecar(box) -> fsspec.AbstractFileSystem:
    fs = fsspec.filesystem("memory")
    doc = {"version": 1, "concepts": ["face"], "frames": [{"frame": 0, "objects": [
        {"concept": "face", "box": box, "visible": 1.0}]}]}  # fmt: skip
    fs.pipe("/v/clip.labels.json", json.dumps(doc).encode())
    return fs


@pytest.mark.parametrize("box", [[10, 10, 5, 20], [1, 2, 3], [0, 0, float("nan"), 4]])
def test_malformed_boxes_are_refused(box):
    with pytest.raises(ValueError, match=r"clip\.labels\.json is malformed"):
        read_sidecar(_sidecar(box), "/v/clip.mp4")


def test_a_box_outside_the_video_is_refused_and_one_inside_is_mapped():
    g = Geometry(width=200, height=100, rotation=0, size=50)
    with pytest.raises(ValueError, match="outside the 200x100 video"):
        crop_objects([{"concept": "face", "box": [210, 10, 240, 40], "visible": 1.0}], g)
    mapped, visible = crop_objects([{"concept": "face", "box": [50, 0, 150, 100], "visible": 1.0}], g)
    assert mapped[0]["box"] == [0.0, 0.0, 50.0, 50.0] and visible == ["face"]
