"""FAISS unit search against exhaustive exact correlation; the planted unit is found; the null holds."""

import numpy as np
from unitscope.probe.controls import permutation_null
from unitscope.probe.detector import DetectorRule
from unitscope.probe.search import EXACT_MAX_UNITS, UnitIndex, choose_index, correlations
from unitscope.probe.selection import select_and_evaluate
from unitscope.probe.splits import split_mask

from tests.probe.synthetic import planted_activations


def _recall_at_10(index, acts, labels):
    _, ids = index.search(labels, 10)
    exact = correlations(acts, labels)
    truth = np.argsort(-exact, axis=0)[:10].T
    return np.mean([len(set(truth[j]) & set(ids[j])) / 10 for j in range(labels.shape[1])])


def _labels(p, n=6, seed=0):
    rng = np.random.default_rng(seed)
    weak = [
        (p.acts[:, rng.integers(p.acts.shape[1])] > 0.3) ^ (rng.random(len(p.labels)) < 0.2) for _ in range(n)
    ]
    return np.stack([p.labels, *weak], axis=1)


def test_index_choice_by_size():
    assert choose_index(EXACT_MAX_UNITS, 5000).kind == "flat"
    assert choose_index(EXACT_MAX_UNITS + 1, 5000).kind == "sq8"


def test_exact_index_agrees_with_numpy():
    p = planted_activations(n_units=500)
    index = UnitIndex(p.acts)
    assert index.choice.kind == "flat"
    labels = _labels(p)
    corr, ids = index.search(labels, 10)
    exact = correlations(p.acts, labels)
    np.testing.assert_allclose(corr, np.take_along_axis(exact.T, ids, axis=1), atol=1e-4)
    assert _recall_at_10(index, p.acts, labels) == 1.0


def test_approximate_index_recall():
    p = planted_activations(n_videos=60, n_units=6000, n_factors=24, planted_units=(5, 900, 4000), seed=2)
    index = UnitIndex(p.acts, exact_max_units=1000)
    assert index.choice.kind == "sq8"
    assert _recall_at_10(index, p.acts, _labels(p, n=9, seed=1)) >= 0.95


def _run(p, seed=0, permutations=99):
    sel = split_mask(p.videos, 0.5, seed=seed)
    index = UnitIndex(p.acts[sel])
    best = select_and_evaluate(index, p.acts[~sel], p.labels[sel], p.labels[~sel], candidates=20, keep=3)
    null = permutation_null(
        index, p.acts[~sel], p.labels[sel], p.labels[~sel], best[0].auc, 20, permutations, seed
    )
    return best, null


def test_planted_unit_found_at_rank_1_and_is_a_detector():
    # The null picks an arbitrary unit, sometimes the planted one: with 1000 units and 199 shuffles
    # that happens at most once or twice, so p <= 2 / 200.
    p = planted_activations(n_units=1000)
    best, null = _run(p, permutations=199)
    assert best[0].unit == p.planted[0] and best[0].rank == 1
    assert best[0].auc > 0.75 and best[0].accuracy > 0.7
    assert len(null.null_aucs) == 199 and np.median(null.null_aucs) < 0.6
    assert null.p_value <= 0.01
    assert DetectorRule(min_auc=0.75, random_margin=0.05).holds(best[0].auc, 0.6, null.p_value)


def test_shuffled_labels_declare_no_detector():
    p = planted_activations()
    p.labels = np.random.default_rng(5).permutation(p.labels)
    best, null = _run(p)
    assert null.p_value > 0.01
    assert not DetectorRule(min_auc=0.5, random_margin=0.0).holds(best[0].auc, 0.5, null.p_value)
