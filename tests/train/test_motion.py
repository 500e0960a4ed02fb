"""Motion-centred crops: the camera's pan is removed, the crop lands on what moved, stills fall back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from unitscope.train import motion
from unitscope.train.config import TrainConfig
from unitscope.train.stream import ShardStream, StreamSpec

from tests.train.conftest import TINY

SIZE = 64
PAN = (4, -6)  # the background moves this far (y, x) from frame a to frame b, in frame pixels
OBJECT = [
    (14, 36, 30, 52),
    (22, 40, 38, 56),
]  # the moving square in frame a, then in frame b (x0, y0, x1, y1)


def _pair(pan: tuple[int, int] = PAN, seed: int = 7) -> list[Image.Image]:
    """Two frames of a cluttered background seen through a panning camera, with one square that moves."""
    rng = np.random.default_rng(seed)
    canvas = Image.fromarray(rng.integers(0, 255, (SIZE // 4 + 4, SIZE // 4 + 4, 3), dtype=np.uint8))
    canvas = canvas.resize(((SIZE // 4 + 4) * 4,) * 2, Image.NEAREST)
    frames = []
    for (oy, ox), box in zip([(8, 8), (8 - pan[0], 8 - pan[1])], OBJECT, strict=True):
        im = canvas.crop((ox, oy, ox + SIZE, oy + SIZE))
        ImageDraw.Draw(im).rectangle(box, fill=(255, 255, 40))
        frames.append(im)
    return frames


def test_camera_shift_is_recovered_from_the_background():
    a, b = motion.standardised(_pair())
    scale = motion.SIDE / SIZE
    assert motion.camera_shift(a, b) == (
        round(-PAN[0] * scale),
        round(-PAN[1] * scale),
    )  # rolls b back onto a


def test_crop_centres_land_on_the_moving_object():
    a, b = _pair()
    energy = motion.motion_map(a, b)
    rng = np.random.default_rng(0)
    centres = [motion.centre(energy, rng) for _ in range(200)]
    x0, y0 = (min(v) / SIZE for v in zip(*(box[:2] for box in OBJECT), strict=True))
    x1, y1 = (max(v) / SIZE for v in zip(*(box[2:] for box in OBJECT), strict=True))
    pad = 1 / motion.CELLS  # a centre is drawn anywhere in a cell the object touches
    inside = [x0 - pad <= x <= x1 + pad and y0 - pad <= y <= y1 + pad for x, y in centres]
    assert np.mean(inside) >= 0.9  # the union of both positions covers only ~14% of the frame
    boxes = motion.centred_boxes([a, b], rng)
    assert boxes is not None
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= SIZE and 0 <= y0 < y1 <= SIZE and x1 - x0 < SIZE
    views = motion.views([a, b], 32, rng)
    assert views is not None and [(v.shape, v.dtype) for v in views] == [((32, 32, 3), np.uint8)] * 2


def test_a_still_pair_falls_back_to_random_crops():
    a = _pair()[0]
    assert motion.centred_boxes([a, a.copy()], np.random.default_rng(0)) is None
    assert motion.views([a, a.copy()], 32, np.random.default_rng(0)) is None


def _motion_map(a: np.ndarray, b: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """What `motion_maps` computes for one pair, written plainly: b rolled onto a by the camera's shift,
    the smallest difference within SLACK pixels of it, zero where the shift leaves no counterpart, and the
    mean of each cell."""
    side, slack, cells = motion.SIDE, motion.SLACK, motion.CELLS
    best = np.full((side, side), np.inf)
    for ey in range(-slack, slack + 1):
        for ex in range(-slack, slack + 1):
            best = np.minimum(best, np.abs(a - np.roll(b, (dy + ey, dx + ex), axis=(1, 2))).sum(axis=0))
    i = np.arange(side)
    rows = (i >= max(dy, 0) + slack) & (i < side + min(dy, 0) - slack)
    cols = (i >= max(dx, 0) + slack) & (i < side + min(dx, 0) - slack)
    best *= rows[:, None] & cols[None, :]
    return best.reshape(cells, side // cells, cells, side // cells).mean(axis=(1, 3))


def test_batched_motion_matches_the_planted_pans_and_a_plain_reference():
    still = _pair()[0]
    pairs = [
        _pair(),
        [still, still.copy()],
        _pair((-6, 2), 3),
        _pair((0, 8), 5),
        [still, still.resize((48, 48))],
    ]
    x = motion.standardised([im for p in pairs[:4] for im in p])
    shifts = motion.camera_shifts(x[0::2], x[1::2])
    scale = motion.SIDE / SIZE
    planted = [PAN, (0, 0), (-6, 2), (0, 8)]
    assert shifts.tolist() == [[round(-py * scale), round(-px * scale)] for py, px in planted]
    maps = motion.motion_maps(x[0::2], x[1::2])
    reference = [_motion_map(x[2 * i], x[2 * i + 1], *shifts[i]) for i in range(4)]
    np.testing.assert_allclose(maps, reference, rtol=1e-5, atol=1e-5)
    one = np.random.default_rng(1)
    assert [
        None if np.isnan(c[0]) else tuple(c) for c in motion.centres(maps, np.random.default_rng(1)).tolist()
    ] == [motion.centre(m, one) for m in maps]  # the same draws, pair by pair
    made = motion.batch_views(pairs, 32, np.random.default_rng(2))
    single = [motion.views(p, 32, np.random.default_rng(2)) for p in pairs]
    assert [m is None for m in made] == [s is None for s in single] == [False, True, False, False, True]


def test_stream_cuts_motion_crops_and_the_run_records_the_knob(dataset, tmp_path):
    from unitscope.train import shards

    spec = StreamSpec(shard_urls=tuple(shards.list_shards(str(dataset))), rank=0, world=1, batch=6, temporal=True,
                      input_size=32, crop_scale_min=0.35, max_gap_s=1.0, shuffle_buffer=8, seed=0, group=2,
                      motion_crops=1.0)  # fmt: skip
    batch = next(iter(ShardStream(spec)))
    assert [tuple(v.shape) for v in batch["views"]] == [(6, 3, 32, 32)] * 2
    cfg = TrainConfig(
        dataset=str(dataset), run=str(tmp_path / "run"), workers=0, steps=2, motion_crops=0.5, **TINY
    )
    from unitscope.train.train import run

    run(cfg)
    assert json.loads(Path(cfg.run, "config.json").read_text())["motion_crops"] == 0.5
