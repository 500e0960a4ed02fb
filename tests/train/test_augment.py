"""Augmentation: the batched colour matrices match the float pipeline they stand for; the channel shuffle."""

from __future__ import annotations

import numpy as np
import pytest
from unitscope.train import augment, shards


def _float_colour(x: np.ndarray, jitter: bool, grey: bool, bcs: np.ndarray) -> np.ndarray:
    """The reference for one view: brightness, contrast about the mean, saturation about grey, maybe
    greyscale, step by step in float64, clipped and truncated to uint8 once at the end."""
    x = x.astype(np.float64)
    if jitter:
        x = x * bcs[0]
        mean = x.mean()
        x = (x - mean) * bcs[1] + mean
        g = x.mean(axis=2, keepdims=True)
        x = (x - g) * bcs[2] + g
    if grey:
        x = np.repeat(x.mean(axis=2, keepdims=True), 3, axis=2)
    return np.clip(x, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def images(dataset):
    parts = shards.plan_parts(shards.list_shards(str(dataset)), 1)
    return [augment.decode(f.jpg, 40) for u in parts[:2] for f in shards.read_part(u, 0, {})]


def test_batch_colour_matches_the_float_pipeline_view_by_view(images):
    rng = np.random.default_rng(0)
    plain = np.stack([augment.view(im, 32, 0.35, rng) for im in images * 3])
    assert plain.shape == (len(images) * 3, 32, 32, 3) and plain.dtype == np.uint8
    draws = np.random.default_rng(1)  # the draws `colour` makes, in its order
    jitter, grey = draws.random((2, len(plain))) < np.array([[0.8], [0.2]])
    bcs = draws.uniform(0.6, 1.4, (3, len(plain))).T
    got = plain.copy()
    augment.colour(got, np.random.default_rng(1))
    for i, view in enumerate(plain):
        diff = np.abs(got[i].astype(int) - _float_colour(view, jitter[i], grey[i], bcs[i]).astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01, i  # float32 vs float64 rounding
    changed = (got != plain).any(axis=(1, 2, 3))
    assert changed.sum() >= len(plain) // 2  # most views were changed, so the comparison meant something


def test_shuffle_permutes_the_channels_of_the_views_it_marks():
    base = np.zeros((200, 8, 8, 3), np.uint8)
    base[..., 0], base[..., 1], base[..., 2] = 250, 120, 10  # red > green > blue
    shuffle = np.arange(200) % 2 == 0
    out = base.copy()
    augment.colour(out, np.random.default_rng(0), shuffle)
    lowest = out.reshape(200, -1, 3).mean(axis=1).argmin(axis=1)
    coloured = np.ptp(out.reshape(200, -1, 3).mean(axis=1), axis=1) > 1  # leave out views made grey
    assert set(lowest[shuffle & coloured]) == {0, 1, 2}
    assert set(lowest[~shuffle & coloured]) == {2}  # jitter alone keeps the channels' order


def test_views_of_one_image_differ_and_cover_the_output_range(images):
    rng = np.random.default_rng(0)
    views = np.stack([augment.view(images[0], 32, 0.35, rng) for _ in range(8)])
    augment.colour(views, rng)
    assert len({v.tobytes() for v in views}) == 8
    assert views.shape == (8, 32, 32, 3)
