"""Optimal stimuli against planted ground truth: a linear unit's optimum is its filter, a K-means unit's
de-whitened template is the pattern its dictionary was fitted on, and every encoder kind gets a seeded,
deterministic optimum within the norm bound."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from unitscope.probe.dissect.response import patch_unit, slim_dictionary, unit_function
from unitscope.probe.dissect.stimulus import StimulusConfig, optimal_stimulus
from unitscope.probe.dissect.template import unit_templates
from unitscope.train.encoder import EncoderSpec, build_encoder
from unitscope.train.models.patch import PatchDictionary
from unitscope.train.objectives import kmeans


def best_correlation(image: np.ndarray, patch: np.ndarray) -> float:
    """Largest Pearson r between `patch` (C, p, p) and any same-sized window of `image` (C, H, W)."""
    cols = F.unfold(torch.from_numpy(image)[None].double(), patch.shape[-1])[0].T
    cols = cols - cols.mean(1, keepdim=True)
    p = torch.from_numpy(patch).double().flatten()
    p = p - p.mean()
    return float(((cols @ p) / (cols.norm(dim=1) * p.norm() + 1e-12)).max())


def smooth_patch(side: int, seed: int) -> torch.Tensor:
    """A random colour patch with image-like (mostly low-frequency) structure."""
    g = torch.Generator().manual_seed(seed)
    return F.avg_pool2d(torch.randn(1, 3, side, side, generator=g), 3, 1, 1)[0]


def test_linear_unit_optimum_is_its_filter():
    patch = smooth_patch(9, 1)

    def unit(x):  # a linear filter, max over positions: the probe's max-pooled unit
        return F.conv2d(x, patch[None]).amax(dim=(1, 2, 3))

    cfg = StimulusConfig()
    s = optimal_stimulus(unit, 32, cfg)
    image = s.image.transpose(2, 0, 1)
    assert best_correlation(image, patch.numpy()) >= 0.9
    assert np.sqrt((image**2).mean()) <= cfg.rms * 1.0001  # projected onto the norm ball
    other = smooth_patch(9, 2).numpy()  # the filter it was not given matches it far less
    assert best_correlation(image, other) < best_correlation(image, patch.numpy()) - 0.2


@pytest.mark.parametrize("arch", ["conv4", "le3", "kmeans"])
def test_every_encoder_kind_is_seeded_and_deterministic(arch):
    spec = EncoderSpec.create(
        arch, 4, 2 if arch == "le3" else None, 32, patch=6, group=3 if arch == "kmeans" else 1
    )
    enc = build_encoder(spec, 3)
    layer = spec.layers[-1]
    fn = unit_function(enc, layer, 1)
    cfg = StimulusConfig(steps=20)
    a, b = optimal_stimulus(fn, 32, cfg), optimal_stimulus(fn, 32, cfg)
    assert np.array_equal(a.image, b.image) and a.response == b.response
    c = optimal_stimulus(fn, 32, StimulusConfig(steps=20, seed=1))
    assert not np.array_equal(a.image, c.image)
    with torch.no_grad():
        start = float(fn(torch.zeros(1, 3, 32, 32)))
    assert a.response > start  # the ascent went up


def test_slim_dictionary_gives_the_full_dictionary_s_responses():
    spec = EncoderSpec.create("kmeans", 10, None, 32, patch=6, group=3)
    enc = build_encoder(spec, 5).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        full = enc.features(x)
        for layer in spec.layers:
            slim, ch = slim_dictionary(enc, layer, 7)
            want = full[layer][:, 7].amax(dim=(1, 2))
            assert torch.allclose(slim.features(x)[layer][:, ch].amax(dim=(1, 2)), want, atol=1e-4)


@pytest.mark.parametrize("stride", [1, 2])
def test_patch_unit_matches_the_dictionary(stride):
    spec = EncoderSpec.create("kmeans", 10, None, 48, patch=6, stride=stride, group=3)
    enc = build_encoder(spec, 5).eval()
    x = torch.randn(3, 3, 48, 48)
    with torch.no_grad():
        full = enc.features(x)
        for layer in spec.layers:
            want = full[layer][:, 7].amax(dim=(1, 2))
            got = patch_unit(enc, layer, 7)(x)
            assert torch.allclose(got, want, rtol=1e-3, atol=1e-3), (layer, got, want)


def planted_frames(pattern: np.ndarray, n: int, side: int, copies: int, seed: int) -> torch.Tensor:
    """(n, 1, side, side) grey levels: faint noise and `copies` of `pattern` at random places."""
    rng = np.random.default_rng(seed)
    x = rng.normal(128, 6, (n, side, side))
    p = pattern.shape[0]
    for i in range(n):
        for _ in range(copies):
            r, c = rng.integers(0, side - p, 2)
            x[i, r : r + p, c : c + p] = 128 + 60 * pattern
    return torch.from_numpy(x[:, None]).float()


def test_kmeans_template_is_the_planted_pattern():
    pattern = np.array(
        [[1, 1, 1, 1, -1, -1], [1, -1, -1, 1, -1, -1], [1, -1, -1, 1, 1, 1],
         [1, 1, 1, 1, -1, 1], [-1, -1, 1, -1, -1, 1], [-1, -1, 1, 1, 1, 1]], dtype=np.float64
    )  # fmt: skip
    spec = EncoderSpec.create("kmeans", 16, None, 32, patch=6).model_copy(update={"scales": [32]})
    gen = torch.Generator().manual_seed(0)
    patches = kmeans.normalised_patches(planted_frames(pattern, 200, 32, 6, 0), spec, 40, gen)
    whiten, mean = kmeans.zca(*kmeans.moment_sums(patches), eps=0.1)
    points = kmeans.whitened(patches, whiten, mean)
    centroids = points[torch.randperm(len(points), generator=gen)[:16]]
    for _ in range(15):
        sums, counts, _ = kmeans.assignment_sums(points, centroids)
        centroids, _ = kmeans.update(sums, counts, centroids, points[:0])
    enc = PatchDictionary(spec)
    enc.whiten.copy_(whiten.float())
    enc.patch_mean.copy_(mean.float())
    enc.centroids.copy_(centroids)
    r = []
    for unit in range(16):
        _, t = unit_templates(enc, "kmeans1", unit)
        r.append(np.corrcoef(t[0, :, :, 0].ravel(), pattern.ravel())[0, 1])
    assert max(r) >= 0.8
    # the same dictionary with random centroids holds no such template
    control = enc.randomized(1)
    rc = [np.corrcoef(unit_templates(control, "kmeans1", u)[1][0, :, :, 0].ravel(), pattern.ravel())[0, 1]
          for u in range(16)]  # fmt: skip
    assert max(rc) < max(r) - 0.2


def test_group_unit_shows_each_member_template():
    spec = EncoderSpec.create("kmeans", 10, None, 32, patch=6, group=3)
    enc = build_encoder(spec, 5)
    idx, t = unit_templates(enc, "group1", 4)
    assert idx == enc.partners[4].tolist() and t.shape == (3, 6, 6, 1)
    assert np.allclose(t[1], unit_templates(enc, "kmeans1", idx[1])[1][0])
