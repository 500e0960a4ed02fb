"""Choose each concept's best units on the selection split and score them on the evaluation split.

The protocol, shared by the trained encoder, the random-weight control and every permutation of the
null: FAISS finds the `candidates` units whose responses correlate best with the concept's labels on
the selection frames; those are re-scored exactly (ROC AUC), ranked by it, and each kept unit's
threshold is the one with the best selection accuracy. The kept units are then scored, threshold
unchanged, on the evaluation frames (other videos).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from unitscope.probe.scores import accuracy_at, best_threshold, roc_auc
from unitscope.probe.search import UnitIndex


@dataclass
class UnitScore:
    unit: int  # column index in the activation matrix
    rank: int  # 1 = best on the selection split
    select_auc: float
    threshold: float
    select_accuracy: float
    auc: float  # held-out (evaluation split)
    accuracy: float  # held-out, at the selection threshold


def rank_candidates(
    index: UnitIndex, y_sel: np.ndarray, candidates: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per label column of `y_sel`: (candidate unit ids, their exact selection AUCs), best first."""
    y_sel = np.asarray(y_sel, dtype=bool)
    if y_sel.ndim == 1:
        y_sel = y_sel[:, None]
    _, ids = index.search(y_sel, candidates)
    out = []
    for j in range(y_sel.shape[1]):
        cand = ids[j][ids[j] >= 0]
        aucs = np.asarray(roc_auc(np.asarray(index.acts[:, cand], dtype=np.float32), y_sel[:, j]))
        order = np.argsort(-aucs, kind="stable")
        out.append((cand[order], aucs[order]))
    return out


def select_and_evaluate(
    index: UnitIndex,
    acts_eval: np.ndarray,
    y_sel: np.ndarray,
    y_eval: np.ndarray,
    candidates: int,
    keep: int,
) -> list[UnitScore]:
    """The `keep` best units for one concept, chosen on the selection split, scored on the other."""
    ids, sel_aucs = rank_candidates(index, y_sel, candidates)[0]
    units, sel_aucs = ids[:keep], sel_aucs[:keep]
    sel = np.asarray(index.acts[:, units], dtype=np.float32)
    thresholds, sel_acc = best_threshold(sel, y_sel)
    ev = np.asarray(acts_eval[:, units], dtype=np.float32)
    aucs = np.atleast_1d(roc_auc(ev, y_eval))
    accs = accuracy_at(ev, y_eval, thresholds)
    return [
        UnitScore(
            unit=int(u),
            rank=r + 1,
            select_auc=float(sel_aucs[r]),
            threshold=float(thresholds[r]),
            select_accuracy=float(sel_acc[r]),
            auc=float(aucs[r]),
            accuracy=float(accs[r]),
        )
        for r, u in enumerate(units)
    ]
