"""Benchmark: unit search over 50,000 units x 10,000 labelled frames, FAISS path vs exhaustive NumPy AUC.

Both run in this process on the same activations (float16, units that share latent factors, 12
planted units of graded strength following the concept). The FAISS path is what `unitscope probe`
does: index the z-scored unit profiles, fetch the top candidates by correlation, re-score them with
exact ROC AUC. The baseline computes the exact ROC AUC of every unit. Prints JSON: times, the speed-up
(target >= 10x) and the overlap of the two top-10 lists (target: identical).

    python tests/bench/probe_search.py [--units 50000] [--frames 10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from unitscope.probe.scores import roc_auc
from unitscope.probe.search import UnitIndex
from unitscope.probe.selection import rank_candidates

from tests.probe.synthetic import planted_activations

CANDIDATES = 50  # ProbeConfig.candidates' default


def exhaustive_top10(acts: np.ndarray, y: np.ndarray, chunk: int = 2000) -> np.ndarray:
    aucs = np.concatenate(
        [roc_auc(acts[:, j : j + chunk].astype(np.float32), y) for j in range(0, acts.shape[1], chunk)]
    )
    return np.argsort(-aucs, kind="stable")[:10]


def faiss_top10(acts: np.ndarray, y: np.ndarray, exact_max_units: int | None) -> tuple[np.ndarray, str]:
    index = UnitIndex(acts) if exact_max_units is None else UnitIndex(acts, exact_max_units=exact_max_units)
    ids, _ = rank_candidates(index, y, CANDIDATES)[0]
    return ids[:10], index.choice.kind


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=50_000)
    ap.add_argument("--frames", type=int, default=10_000)
    a = ap.parse_args()
    planted = tuple(range(1000, a.units, a.units // 12))[:12]
    p = planted_activations(
        n_videos=a.frames // 50, frames_per_video=50, n_units=a.units, planted_units=planted, strength=1.2
    )
    t0 = time.perf_counter()
    ref = exhaustive_top10(p.acts, p.labels)
    t_numpy = time.perf_counter() - t0
    out = {"units": a.units, "frames": a.frames, "numpy_auc_s": round(t_numpy, 3)}
    for name, limit in (("faiss_default", None), ("faiss_approximate_sq8", 0)):
        t0 = time.perf_counter()
        top, kind = faiss_top10(p.acts, p.labels, limit)
        dt = time.perf_counter() - t0
        out[name] = {
            "index": kind,
            "seconds": round(dt, 3),
            "speedup_vs_numpy": round(t_numpy / dt, 1),
            "top10_overlap": len(set(top.tolist()) & set(ref.tolist())) / 10,
            "same_order": top.tolist() == ref.tolist(),
        }
    out["target_speedup"] = 10
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
