"""Unit maps and localization scores: a hand-built template unit must point at where it was planted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from unitscope.probe import localization
from unitscope.probe.boxes import BoxedFrame, check_objects
from unitscope.probe.maps import unit_maps
from unitscope.probe.overlay import overlay
from unitscope.train.encoder import EncoderSpec, build_encoder

from unitscope.core.errors import InputError

PATCH, INPUT, FRAME = 12, 64, 96  # frames larger than the encoder's input: maps come back at frame size


def template() -> np.ndarray:
    """A 12 x 12 grey pattern unlike noise: a dark ring with a bright centre."""
    yy, xx = np.mgrid[:PATCH, :PATCH] - (PATCH - 1) / 2
    r = np.hypot(yy, xx)
    return np.where(r < 2, 230.0, np.where(r < 4.5, 30.0, 140.0))


def planted(rng: np.random.Generator, n: int) -> tuple[list[Image.Image], list[list[float]]]:
    """Noise frames, each with the template planted once at 1.5x (18 px in the 96 px frame = 12 px in the
    encoder's 64 px input), and its box in frame pixels."""
    side = PATCH * FRAME // INPUT
    big = np.asarray(Image.fromarray(template().astype(np.uint8)).resize((side, side), Image.BILINEAR), float)
    images, boxes = [], []
    for _ in range(n):
        arr = rng.normal(128, 25, (FRAME, FRAME)).clip(0, 255)
        x, y = (int(v) for v in rng.integers(0, FRAME - side, 2))
        arr[y : y + side, x : x + side] = big
        images.append(Image.fromarray(arr.astype(np.uint8)).convert("RGB"))
        boxes.append([float(x), float(y), float(x + side), float(y + side)])
    return images, boxes


def template_encoder(group: int = 1):
    """A K-means encoder whose unit 0 is the template (identity whitening) and the rest random."""
    spec = EncoderSpec.create("kmeans", width=4, depth=None, input_size=INPUT, patch=PATCH, group=group)
    enc = build_encoder(spec, seed=3)
    t = template().ravel()
    t = (t - t.mean()) / np.linalg.norm(t - t.mean())
    with torch.no_grad():
        enc.centroids[0] = torch.as_tensor(t, dtype=torch.float32)
        if group > 1:
            enc.partners[1] = torch.tensor([1, 0])  # group1/1 = mean of kmeans1/1 and the template
    return enc.eval()


def test_template_map_points_at_planted_box():
    images, boxes = planted(np.random.default_rng(0), 40)
    maps = unit_maps(template_encoder(), images, [("kmeans1", 0), ("kmeans1", 2)])
    assert maps.shape == (40, 2, FRAME, FRAME)
    hits = [localization.points_inside(maps[i, 0], [boxes[i]]) for i in range(40)]
    assert np.mean(hits) >= 0.95
    # resampling between patch centres never exceeds the unit's pooled response (its best match)
    enc = template_encoder()
    pooled = enc.features(enc.preprocess(images))["kmeans1"].amax(dim=(2, 3))[:, 0].numpy()
    peak = maps[:, 0].max(axis=(1, 2))
    assert np.all(peak <= pooled + 1e-4) and np.all(peak >= 0.7 * pooled)
    s = localization.scores(maps[:, 0], [[b] for b in boxes], np.ones(40, bool))
    assert s["pointing"] >= 0.95 and s["frames"] == 40 and s["iou"] > 0
    # a random template does not point at the box, and neither does the centre prior as often
    assert localization.scores(maps[:, 1], [[b] for b in boxes], np.ones(40, bool))["pointing"] < 0.6
    assert (
        localization.centre_scores(40, FRAME, FRAME, [[b] for b in boxes], np.ones(40, bool))["pointing"]
        < 0.6
    )


def test_group_map_is_the_mean_of_its_members():
    images, _ = planted(np.random.default_rng(1), 4)
    enc = template_encoder(group=2)
    maps = unit_maps(enc, images, [("group1", 1), ("kmeans1", 0), ("kmeans1", 1)])
    assert np.allclose(maps[:, 0], (maps[:, 1] + maps[:, 2]) / 2, atol=1e-5)


def test_conv_maps_are_frame_sized():
    spec = EncoderSpec.create("conv4", width=4, depth=2, input_size=32)
    enc = build_encoder(spec, seed=0).eval()
    images, _ = planted(np.random.default_rng(2), 3)
    maps = unit_maps(enc, images, [("conv2", 5), ("conv1", 0)])
    feats = enc.features(enc.preprocess(images))
    assert maps.shape == (3, 2, FRAME, FRAME)
    # bilinear upsampling keeps the channel's range
    assert maps[:, 0].max() <= feats["conv2"][:, 5].max().item() + 1e-5


def test_unknown_units_are_refused():
    enc = template_encoder()
    with pytest.raises(InputError, match="no spatial maps"):
        unit_maps(enc, [], [("conv9", 0)])
    with pytest.raises(InputError, match="kmeans1/7 does not exist"):
        unit_maps(enc, [], [("kmeans1", 7)])


def test_iou_and_pointing_by_hand():
    # 4x4 maps, two frames; threshold 0.5: frame 0 fires on 2 pixels, frame 1 on 1 pixel
    maps = np.zeros((2, 4, 4), np.float32)
    maps[0, 0, 0] = maps[0, 0, 1] = 1.0
    maps[1, 3, 3] = 1.0
    masks = np.zeros((2, 4, 4), bool)
    masks[0, 0, 1:3] = True  # box over pixels (0,1), (0,2): intersection 1, union 3
    masks[1, :2, :2] = True  # box over 4 pixels far from the firing one: intersection 0, union 5
    assert localization.iou(maps, masks, 0.5) == pytest.approx(1 / 8)
    assert localization.box_mask([[1, 0, 3, 1]], 4, 4).tolist() == masks[0].tolist()
    assert localization.points_inside(maps[0], [[0, 0, 1, 1]])  # max at pixel (0,0), centre (0.5,0.5)
    assert not localization.points_inside(maps[1], [[0, 0, 2, 2]])
    assert localization.top_threshold(np.arange(1000.0).reshape(10, 10, 10)) == pytest.approx(994.005)


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        ([{"concept": "face", "box": [0, 0, 200, 20]}], "outside the 96x96 frame"),
        ([{"concept": "face", "box": [30, 10, 20, 40]}], "malformed object"),
        ([{"concept": "face", "box": "0 0 1 1"}], "malformed object"),
        ([{"box": [0, 0, 10, 10]}], "malformed object"),
        ("face", "is not a list"),
    ],
)
def test_bad_boxes_in_a_frame_are_refused(objects, message):
    with pytest.raises(InputError, match=message):
        check_objects("abc-1", objects, 96, 96)


def test_overlay_marks_label_and_draws_box():
    images, boxes = planted(np.random.default_rng(3), 1)
    frame = BoxedFrame("k-0", images[0], [{"concept": "ring", "box": boxes[0]}], ["ring"])
    m = unit_maps(template_encoder(), images, [("kmeans1", 0)])[0, 0]
    on = np.asarray(overlay(frame, m, "ring"))
    off = np.asarray(overlay(BoxedFrame("k-0", images[0], [], []), m, "ring"))
    assert on.shape == (FRAME, FRAME, 3)
    assert tuple(on[1, 1]) == (40, 200, 60) and tuple(off[1, 1]) == (230, 40, 40)  # carries the label or not
    x0, y0 = int(boxes[0][0]), int(boxes[0][1])
    assert tuple(on[y0 + 3, x0]) == (255, 255, 255)  # the concept's box is drawn
