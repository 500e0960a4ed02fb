"""Exact scores against scikit-learn and brute force, ties included."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from unitscope.probe.scores import accuracy_at, average_ranks, best_threshold, roc_auc


@pytest.mark.parametrize("levels", [3, 1000])  # 3 levels: many ties
def test_auc_matches_sklearn(levels):
    rng = np.random.default_rng(levels)
    y = rng.random(500) < 0.3
    x = rng.integers(0, levels, size=(500, 20)).astype(np.float32) + y[:, None] * rng.random(20) * levels / 3
    ours = roc_auc(x, y)
    ref = [roc_auc_score(y, x[:, j]) for j in range(20)]
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    assert roc_auc(x[:, 3], y) == pytest.approx(ref[3])


def test_auc_one_class_is_nan():
    assert np.isnan(roc_auc(np.arange(5.0), np.zeros(5, bool)))


def test_average_ranks_ties():
    np.testing.assert_array_equal(average_ranks(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1.0, 3.5, 2.0])


def test_best_threshold_matches_brute_force():
    rng = np.random.default_rng(1)
    y = rng.random(200) < 0.4
    x = np.round(rng.standard_normal((200, 8)) + y[:, None] * 0.8, 1)
    t, acc = best_threshold(x, y)
    for j in range(8):
        cands = [np.inf, *np.unique(x[:, j])]
        brute = max(((x[:, j] >= c) == y).mean() for c in cands)
        assert acc[j] == pytest.approx(brute)
        assert accuracy_at(x[:, j], y, t[j : j + 1])[0] == pytest.approx(brute)


def test_best_threshold_never_below_always_no():
    y = np.array([False] * 9 + [True])
    x = np.linspace(0, 1, 10)[::-1].copy()  # the positive has the lowest value
    t, acc = best_threshold(x, y)
    assert t[0] == np.inf and acc[0] == pytest.approx(0.9)
