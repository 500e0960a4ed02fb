"""The hand-written L-BFGS logistic regression of the linear probe against scikit-learn's on the same data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from unitscope.probe import linear


def _data(seed: int, n: int = 400, d: int = 30):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=d) * (rng.random(d) < 0.3)
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, d) + rng.normal(size=d)
    y = (x @ w + rng.logistic(size=n) * 2 > np.median(x @ w)).astype(bool)
    return x, y


@pytest.mark.parametrize("penalty", linear.PENALTIES)
def test_the_fit_is_sklearns_l2_logistic_regression(penalty):
    x, y = _data(1)
    xs, _ = linear._standardise(x, x)
    ours = linear._fit(xs, torch.from_numpy(y.astype(np.float32)), penalty).numpy()
    # ours: mean log loss + penalty |w|^2; sklearn: C * summed log loss + |w|^2 / 2
    theirs = LogisticRegression(C=1 / (2 * penalty * len(y)), tol=1e-10, max_iter=10_000).fit(xs.numpy(), y)
    np.testing.assert_allclose(ours[:-1], theirs.coef_[0], atol=2e-3 * max(1, np.abs(theirs.coef_).max()))
    assert ours[-1] == pytest.approx(theirs.intercept_[0], abs=5e-3)


def test_held_out_auc_matches_sklearn_at_the_chosen_penalty():
    x, y = _data(2, n=600)
    groups = np.repeat(np.arange(12), 50)
    sel, ev = groups < 8, groups >= 8
    auc = linear.linear_probe_auc(x[sel], y[sel], groups[sel], x[ev], y[ev])
    mean, std = x[sel].mean(axis=0), x[sel].std(axis=0) + 1e-6
    theirs = [
        roc_auc_score(y[ev], LogisticRegression(C=1 / (2 * p * sel.sum()), max_iter=10_000)
                      .fit((x[sel] - mean) / std, y[sel]).decision_function((x[ev] - mean) / std))
        for p in linear.PENALTIES
    ]  # fmt: skip
    assert min(theirs) - 1e-3 <= auc <= max(theirs) + 1e-3 and auc > 0.65


def test_a_missing_class_gives_nan():
    x, y = _data(3)
    assert np.isnan(linear.linear_probe_auc(x, np.zeros(len(y), bool), np.arange(len(y)), x, y))
