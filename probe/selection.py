"""Choose each concept's best units on the selection split and score them on the evaluation split.

The protocol, shared by the trained encoder, the random-weight control and every permutation of the
null: FAISS finds the `candidates` units whose responses correlate best with the concept's labels on
the selection frames; those are re-scored exactly (ROC AUC), ranked by it, and each kept unit's
threshold is the one with the best selection accuracy. The kept units are then scored, threshold
unchanged, on the evaluation frames (other videos). Units whose responses are identical on every probed
frame are one unit: the lowest-numbered is kept and the others listed as its aliases, so no ranking
shows the same detector twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    aliases: list[int] = field(default_factory=list)  # units with the very same responses, folded in


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


def distinct(
    ids: np.ndarray, aucs: np.ndarray, acts_sel: np.ndarray, acts_eval: np.ndarray, keep: int
) -> tuple[list[int], list[list[int]], list[float]]:
    """The first `keep` of the ranked `ids` that differ in their responses (both splits), each the
    lowest-numbered of its identical twins, with the twins' ids (aliases) and its selection AUC."""
    reps: list[int] = []
    twins: list[list[int]] = []
    scores: list[float] = []
    for u, auc in zip(ids.tolist(), np.asarray(aucs).tolist(), strict=True):
        col = (acts_sel[:, u], acts_eval[:, u])
        j = next(
            (i for i, r in enumerate(reps)
             if np.array_equal(col[0], acts_sel[:, r]) and np.array_equal(col[1], acts_eval[:, r])),
            None,
        )  # fmt: skip
        if j is not None:
            twins[j].append(u)
            if u < reps[j]:
                reps[j], twins[j] = u, sorted([*twins[j][:-1], reps[j]])
            continue
        if len(reps) < keep:
            reps.append(u)
            twins.append([])
            scores.append(auc)
    return reps, [sorted(t) for t in twins], scores


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
    units, aliases, kept_aucs = distinct(ids, sel_aucs, index.acts, acts_eval, keep)
    units, sel_aucs = np.asarray(units, dtype=np.int64), np.asarray(kept_aucs)
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
            aliases=aliases[r],
        )
        for r, u in enumerate(units)
    ]
