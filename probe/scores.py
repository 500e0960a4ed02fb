"""Exact detector scores of unit responses against binary labels: ROC AUC and best-threshold accuracy.

Both work column-wise on a matrix `x` (frames x units) so that a batch of candidate units is scored
in one vectorised pass. AUC is the Mann-Whitney statistic on average ranks (ties count one half);
the accuracy is Le et al.'s (2012): the best accuracy of any threshold `x >= t`, the threshold chosen
on one set of frames and applied unchanged to another.
"""

from __future__ import annotations

import numpy as np


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of each column of `x` (frames x units), ties given the mean of their ranks."""
    x = np.asarray(x)
    squeeze = x.ndim == 1
    if squeeze:
        x = x[:, None]
    n, m = x.shape
    order = np.argsort(x, axis=0, kind="stable")
    s = np.take_along_axis(x, order, axis=0)
    pos = np.arange(n)[:, None]
    new_run = np.ones((n, m), dtype=bool)
    new_run[1:] = s[1:] != s[:-1]
    # First and last sorted position of the tie run each element belongs to.
    start = np.maximum.accumulate(np.where(new_run, pos, 0), axis=0)
    end_run = np.ones((n, m), dtype=bool)
    end_run[:-1] = new_run[1:]
    end = np.minimum.accumulate(np.where(end_run, pos, n - 1)[::-1], axis=0)[::-1]
    sorted_ranks = (start + end) / 2.0 + 1.0
    ranks = np.empty((n, m), dtype=np.float64)
    np.put_along_axis(ranks, order, sorted_ranks, axis=0)
    return ranks[:, 0] if squeeze else ranks


def roc_auc(x: np.ndarray, y: np.ndarray) -> np.ndarray | float:
    """ROC AUC of each column of `x` for the boolean labels `y` (NaN when a class is absent)."""
    y = np.asarray(y, dtype=bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    x = np.asarray(x)
    if n_pos == 0 or n_neg == 0:
        return float("nan") if x.ndim == 1 else np.full(x.shape[1], np.nan)
    ranks = average_ranks(x)
    rank_sum = ranks[y].sum(axis=0)
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def best_threshold(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of `x`: the threshold t maximising the accuracy of `x >= t` on labels `y`, and
    that accuracy. t = +inf ("never fires") is a candidate, so accuracy >= the majority "no" rate."""
    y = np.asarray(y, dtype=bool)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        t, a = best_threshold(x[:, None], y)
        return t[:1], a[:1]
    n, m = x.shape
    n_pos = int(y.sum())
    order = np.argsort(-x, axis=0, kind="stable")
    s = np.take_along_axis(x, order, axis=0)
    tp = np.cumsum(y[order], axis=0)
    fp = np.arange(1, n + 1)[:, None] - tp
    acc = (tp + (n - n_pos - fp)) / n
    # Only the last element of a run of ties is a valid cut (x >= t takes the whole run).
    valid = np.ones((n, m), dtype=bool)
    valid[:-1] = s[:-1] != s[1:]
    acc = np.where(valid, acc, -1.0)
    best = np.argmax(acc, axis=0)
    best_acc = acc[best, np.arange(m)]
    thresholds = s[best, np.arange(m)]
    none_acc = (n - n_pos) / n
    never = none_acc >= best_acc
    thresholds = np.where(never, np.inf, thresholds)
    return thresholds, np.where(never, none_acc, best_acc)


def accuracy_at(x: np.ndarray, y: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Accuracy of `x >= threshold` per column of `x` against labels `y`."""
    y = np.asarray(y, dtype=bool)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    pred = x >= np.asarray(thresholds, dtype=np.float64)[None, :]
    return (pred == y[:, None]).mean(axis=0)
