"""The crop geometry: the square cut from the coded frame, once rotated for display, is exactly the centred
square of the displayed frame, and label boxes map into it."""

from __future__ import annotations

import numpy as np
import pytest
from unitscope.pipeline.decode import Geometry

# FFmpeg filters per rotation, as numpy: transpose=cclock is rot90 k=1, hflip+vflip k=2, transpose=clock k=3
TURNS = {0: 0, 90: 1, 180: 2, 270: 3}


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize(("coded_w", "coded_h"), [(7, 4), (4, 7), (9, 9), (322, 179)])
def test_coded_crop_rotated_is_the_displayed_centre_square(rotation, coded_w, coded_h):
    coded = np.arange(coded_w * coded_h).reshape(coded_h, coded_w)  # every pixel distinct
    display = np.rot90(coded, TURNS[rotation])
    g = Geometry(width=display.shape[1], height=display.shape[0], rotation=rotation, size=16)
    m = g.side
    x, y = g.coded_crop()
    assert 0 <= x <= coded_w - m and 0 <= y <= coded_h - m
    dx, dy = g.offset
    assert np.array_equal(
        np.rot90(coded[y : y + m, x : x + m], TURNS[rotation]), display[dy : dy + m, dx : dx + m]
    )


def test_boxes_map_into_the_crop():
    g = Geometry(width=200, height=100, rotation=0, size=64)  # square of 100 px from x=50, scaled by 0.64
    assert g.map_box([50, 0, 150, 100]) == [0, 0, 64, 64]
    assert g.map_box([100, 25, 125, 50]) == [32, 16, 48, 32]
