"""Screening harness for `group1` recipes on the seed sweep's stored runs, in seconds per recipe.

For each seed folder of tests/bench/demo_seeds.py (OUT/t*-p*) it reuses the probe's stored `kmeans1`
activations (trained and random) on the probe frames and, once per seed (cached in that folder), the trained
dictionary's best matches on blocks of consecutive training frames read the way the fit reads them. A recipe
(group size, pairs, frame gaps, duplicate handling) then only changes how `kmeans1` units are pooled, and is
scored with the probe's own selection, random control and permutation null, in both directions.

    python tests/bench/group_screen.py OUT [--seeds 1-5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch

BLOCK = 4  # consecutive frames per block: pairs at gaps 1..3 within a block


def train_best(folder: Path) -> tuple[np.ndarray, list]:
    cache = folder / "screen-train-best.npz"
    if cache.exists():
        z = np.load(cache, allow_pickle=True)
        return z["best"], list(z["stamps"])
    from unitscope.train.clustering import sample_frames
    from unitscope.train.config import TrainConfig
    from unitscope.train.distributed import Dist
    from unitscope.train.model_io import load_encoder
    from unitscope.train.shards import list_shards

    run = folder / "run"
    cfg = TrainConfig(**json.loads((run / "config.json").read_text()))
    enc = load_encoder(str(run)).eval()
    pixels, stamps, _ = sample_frames(cfg, list_shards(cfg.dataset), Dist(0, 1, torch.device("cpu")))
    starts = np.linspace(0, len(pixels) - BLOCK, 200).astype(int)
    idx = (starts[:, None] + np.arange(BLOCK)).ravel()
    with torch.no_grad():
        best = torch.cat(
            [enc.match(pixels[idx[i : i + 64]]).amax(dim=(2, 3)) for i in range(0, len(idx), 64)]
        )
    st = [stamps[i] for i in idx]
    np.savez(cache, best=best.numpy(), stamps=np.array(st, dtype=object))
    return best.numpy(), st


def pairs_of(stamps: list, gaps: tuple[int, ...], per_block: int, max_gap_s: float) -> np.ndarray:
    out = []
    for b in range(0, len(stamps), BLOCK):
        got = 0
        for g in gaps:
            for i in range(b, b + BLOCK - g):
                if (
                    got < per_block
                    and stamps[i][0] == stamps[i + g][0]
                    and 0 < float(stamps[i + g][1]) - float(stamps[i][1]) <= max_gap_s * g
                ):
                    out.append((i, i + g))
                    got += 1
    return np.array(out)


def partners(best: np.ndarray, pairs: np.ndarray, group: int, dedupe: bool) -> np.ndarray:
    """The fit's partners (no two units with the same group), or plain top-k correlation (`dedupe` off)."""
    from unitscope.train.objectives import coherence

    a, b = torch.from_numpy(best[pairs[:, 0]]), torch.from_numpy(best[pairs[:, 1]])
    sums = coherence.lagged_sums(a, b)
    count, total, squares, cross = sums
    mean = total / (2 * count)
    sd = (squares / (2 * count) - mean * mean).clamp_min(1e-12).sqrt()
    corr = torch.nan_to_num(
        (cross / (2 * count) - torch.outer(mean, mean)) / torch.outer(sd, sd), nan=-torch.inf
    )
    corr.fill_diagonal_(torch.inf)
    if not dedupe:
        return corr.topk(group, dim=1).indices.numpy()
    taken, out = set(), []
    for row in corr.topk(group + 8, dim=1).indices.tolist():  # as coherence.partners: no repeated group
        keep, k = row[:group], group
        while frozenset(keep) in taken and k < len(row):
            keep, k = [*keep[:-1], row[k]], k + 1
        taken.add(frozenset(keep))
        out.append(keep)
    return np.array(out)


def score(folder: Path, recipe: dict, cache: dict) -> dict:
    from unitscope.probe.concepts import dataset_labels
    from unitscope.probe.config import ProbeConfig
    from unitscope.probe.controls import permutation_null
    from unitscope.probe.search import UnitIndex
    from unitscope.probe.selection import select_and_evaluate
    from unitscope.probe.splits import split_mask
    from unitscope.probe.store import ActivationStore
    from unitscope.train.models.patch import random_partners

    if folder not in cache:
        run = str(folder / "run")
        cfg = ProbeConfig(run=run, dataset=str(folder / "data-probe"))
        store = ActivationStore(run)
        cs = dataset_labels(cfg.dataset, store, cfg.max_labelled_frames, cfg.seed)
        acts = {n: store.gather(n, cs.items)[:, :512].astype(np.float32) for n in ("trained", "random")}
        sel = split_mask(cs.groups, cfg.select_fraction, cfg.seed, cs.strata)
        cache[folder] = (cfg, cs, acts, sel, *train_best(folder))
    cfg, cs, acts, sel, best, stamps = cache[folder]
    g = recipe["group"]
    pairs = pairs_of(stamps, recipe["gaps"], recipe["per_block"], 0.5)
    if recipe.get("demo"):  # the partners the demo's fit chose (checks this harness against the demo)
        from unitscope.train.model_io import load_encoder

        part = {
            "trained": load_encoder(str(folder / "run")).partners.numpy(),
            "random": random_partners(512, g, 0).numpy(),
        }
    else:
        part = {"trained": partners(best, pairs, g, recipe.get("dedupe", False)),
            "random": random_partners(512, g, 0).numpy()}  # fmt: skip
    if recipe.get("z"):  # pool z-scores (each unit's mean and spread over the training frames)
        mu, sd = best.mean(axis=0), best.std(axis=0) + 1e-6
        acts = {n: (a - mu) / sd if n == "trained" else a for n, a in acts.items()}
    full = {n: np.concatenate([a, a[:, part[n]].mean(axis=2)], axis=1) for n, a in acts.items()}
    out = {}
    y = cs.labels["face"]
    for name, s in (("", sel), ("flip_", ~sel)):
        idx = {n: UnitIndex(a[s], cfg.exact_max_units, cfg.seed) for n, a in full.items()}
        t = select_and_evaluate(idx["trained"], full["trained"][~s], y[s], y[~s], cfg.candidates, 1)[0]
        r = select_and_evaluate(idx["random"], full["random"][~s], y[s], y[~s], cfg.candidates, 1)[0]
        null = permutation_null(
            idx["trained"], full["trained"][~s], y[s], y[~s], t.auc, cfg.candidates, 199, 0
        )
        det = t.auc >= 0.8 and t.auc >= r.auc + 0.15 and null.p_value <= 0.01
        out.update({f"{name}unit": t.unit, f"{name}auc": round(t.auc, 3), f"{name}random": round(r.auc, 3),
                    f"{name}p": round(null.p_value, 3), f"{name}det": det})  # fmt: skip
    return out


RECIPES = {  # 200 blocks of 4 frames: x1 = 200 pairs (the demo's fit uses 300), x3 = 600
    "demo": {"group": 2, "gaps": (1,), "per_block": 1, "demo": True},
    "g2 x1": {"group": 2, "gaps": (1,), "per_block": 1},
    "g2 x1 dedupe": {"group": 2, "gaps": (1,), "per_block": 1, "dedupe": True},
    "g2 x3": {"group": 2, "gaps": (1,), "per_block": 3},
    "g2 x3 dedupe": {"group": 2, "gaps": (1,), "per_block": 3, "dedupe": True},
    "g2 gaps123 x6 dedupe": {"group": 2, "gaps": (1, 2, 3), "per_block": 6, "dedupe": True},
    "g3 x3 dedupe": {"group": 3, "gaps": (1,), "per_block": 3, "dedupe": True},
    "g4 x3 dedupe": {"group": 4, "gaps": (1,), "per_block": 3, "dedupe": True},
    "g2 x3 z dedupe": {"group": 2, "gaps": (1,), "per_block": 3, "z": True, "dedupe": True},
    "g3 x3 z dedupe": {"group": 3, "gaps": (1,), "per_block": 3, "z": True, "dedupe": True},
    "g4 x3 z dedupe": {"group": 4, "gaps": (1,), "per_block": 3, "z": True, "dedupe": True},
    "g3 gaps123 x6 z dedupe": {"group": 3, "gaps": (1, 2, 3), "per_block": 6, "z": True, "dedupe": True},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seeds", default="1-5")
    ap.add_argument("--recipes", default=None, help="comma-separated names (default all)")
    a = ap.parse_args()
    from demo_seeds import seed_list

    folders = [Path(a.out) / f"t{s}-p{s + 1000}" for s in seed_list(a.seeds)]
    folders = [f for f in folders if (f / "run" / "probe" / "activations").exists()]
    names = a.recipes.split(",") if a.recipes else list(RECIPES)
    cache: dict = {}
    for name in names:
        rows = {f.name: score(f, RECIPES[name], cache) for f in folders}
        summ = {"auc_median": statistics.median(r["auc"] for r in rows.values()),
                "flip_median": statistics.median(r["flip_auc"] for r in rows.values()),
                "det": sum(r["det"] for r in rows.values()), "flip_det": sum(r["flip_det"] for r in rows.values())}  # fmt: skip
        print(json.dumps({"recipe": name, **summ, "rows": rows}), flush=True)


if __name__ == "__main__":
    main()
