"""The two controls every detector claim is checked against.

Random weights: the same architecture with random weights goes through the same pipeline and the
same selection protocol (random networks have face-like units too); its best unit's held-out AUC is
the bar to beat. Permutation null: the selection split's labels are shuffled, the selection re-run
(FAISS search, exact re-scoring, best unit), and the chosen unit scored on the real held-out labels;
the p-value is the fraction of shuffles whose held-out AUC reaches the real one (lower units of a
concept's ranking are tested against the same null of best units, which is conservative).
The rule that combines them with the held-out AUC is `probe.detector.DetectorRule`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from unitscope.probe.scores import roc_auc
from unitscope.probe.search import UnitIndex
from unitscope.probe.selection import rank_candidates

from unitscope.core.heartbeat import Heartbeat

PERMUTATION_BATCH = 64  # shuffled label vectors searched in one FAISS call


@dataclass
class NullResult:
    p_value: float
    null_aucs: np.ndarray  # held-out AUC of the unit chosen under each shuffle


def permutation_null(
    index: UnitIndex,
    acts_eval: np.ndarray,
    y_sel: np.ndarray,
    y_eval: np.ndarray,
    observed_auc: float,
    candidates: int,
    permutations: int,
    seed: int,
    beat: Heartbeat | None = None,
) -> NullResult:
    """p-value of `observed_auc` (the best unit's held-out AUC) under shuffled selection labels; `beat`
    says how far the shuffles are every few seconds."""
    rng = np.random.default_rng(seed)
    y_sel = np.asarray(y_sel, dtype=bool)
    null = np.empty(permutations, dtype=np.float64)
    for start in range(0, permutations, PERMUTATION_BATCH):
        if beat:
            beat.tick(lambda start=start: f"permutation null: {start} of {permutations} shuffles")
        n = min(PERMUTATION_BATCH, permutations - start)
        shuffled = np.stack([rng.permutation(y_sel) for _ in range(n)], axis=1)
        best = [int(ids[0]) for ids, _ in rank_candidates(index, shuffled, candidates)]
        null[start : start + n] = np.atleast_1d(
            roc_auc(np.asarray(acts_eval[:, best], dtype=np.float32), y_eval)
        )
    return NullResult(p_value=p_value(null, observed_auc), null_aucs=null)


def p_value(null_aucs: np.ndarray, auc: float) -> float:
    """(1 + shuffles reaching `auc`) / (1 + shuffles): never 0, at least 1 / (permutations + 1)."""
    return (1.0 + float(np.sum(null_aucs >= auc))) / (1.0 + len(null_aucs))
