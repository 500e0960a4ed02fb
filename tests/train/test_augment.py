"""Augmentation: the colour jitter, applied as one PIL colour matrix, matches the float pipeline it stands for."""

from __future__ import annotations

import numpy as np
import pytest

from train import augment, shards


def _float_jitter(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The reference: brightness, contrast about the mean, saturation about grey, maybe greyscale, in float32,
    clipped and truncated to uint8 once at the end."""
    x = x.astype(np.float32)
    if rng.random() < 0.8:
        x = x * rng.uniform(0.6, 1.4)
        mean = x.mean()
        x = (x - mean) * rng.uniform(0.6, 1.4) + mean
        grey = x.mean(axis=2, keepdims=True)
        x = (x - grey) * rng.uniform(0.6, 1.4) + grey
    if rng.random() < 0.2:
        x = np.repeat(x.mean(axis=2, keepdims=True), 3, axis=2)
    return np.clip(x, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def images(dataset):
    units = shards.plan_units(shards.list_shards(str(dataset)), 1)
    return [augment.decode(f.jpg, 40) for u in units[:2] for f in shards.read_unit(u, 0, {})]


def test_colour_matrix_matches_the_float_pipeline(images):
    changed = 0
    for seed, im in enumerate(images * 3):
        geometric = np.random.default_rng(seed)
        plain = augment.view(im, 32, 0.35, False, geometric)  # leaves `geometric` where colour draws start
        assert plain.shape == (32, 32, 3) and plain.dtype == np.uint8
        want = _float_jitter(plain, geometric)
        got = augment.view(im, 32, 0.35, True, np.random.default_rng(seed))
        assert got.shape == want.shape and got.dtype == np.uint8
        diff = np.abs(got.astype(int) - want.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01, seed  # float32 vs float64 rounding
        changed += not np.array_equal(got, plain)
    assert changed >= len(images) * 3 // 2  # most views were jittered, so the comparison meant something


def test_views_of_one_image_differ_and_cover_the_output_range(images):
    rng = np.random.default_rng(0)
    views = [augment.view(images[0], 32, 0.35, True, rng) for _ in range(8)]
    assert len({v.tobytes() for v in views}) == 8
    assert all(v.shape == (32, 32, 3) for v in views)
