"""Screening harness for ways of pooling the K-means templates, on the seed sweep's runs, without a new fit.

For each seed folder of tests/bench/demo_seeds.py (OUT/t*-p*) it matches the run's fitted dictionary once
on the probe frames and on the training frame pairs the fit chose groups from (each pyramid level's map
max-pooled to a GRID x GRID grid, then maxed over levels; cached in the folder), and then scores pooling
variants that use no labels: groups of more units, pooling at the same place, partners chosen by coherence
at the same place, a second K-means layer over local unit descriptors. The face unit is chosen by exact AUC
over all units on the probe's selection half and scored on the other half, then the other way round (no
FAISS pre-selection and no permutation null: a screen, not the demo's verdict). With --random the
random-weights control (random centroids, random partners or second-layer centroids) is scored too.

    python tests/bench/pooling_screen.py OUT [--seeds 1-5] [--variants g2,pos4] [--random]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch
import torch.nn.functional as F

GRID = 6  # cells per side of the pooled maps: "the same place" is one cell, or 3 x 3 cells with `dilate`


@torch.no_grad()
def unit_maps(enc, pixels: torch.Tensor) -> np.ndarray:
    """(N, units, GRID, GRID) float16: every template's best match per cell, over all pyramid levels."""
    f, offset = enc.filters()
    out = []
    for i in range(0, len(pixels), 16):
        x = pixels[i : i + 16]
        levels = [F.adaptive_max_pool2d(enc.responses(x, s, f, offset), GRID) for s in enc.spec.scales]
        out.append(torch.stack(levels).amax(dim=0).half())
    return torch.cat(out).numpy()


def prepare(folder: Path, random: bool) -> dict:
    """The folder's cached maps (probe frames, training pair frames), face labels and probe split."""
    cache = folder / f"screen-maps{'-random' if random else ''}.npz"
    if cache.exists():
        return dict(np.load(cache))
    from unitscope.probe.activations import decode, read_shard
    from unitscope.probe.concepts import dataset_labels
    from unitscope.probe.config import ProbeConfig
    from unitscope.probe.encoders import open_encoder
    from unitscope.probe.splits import split_mask
    from unitscope.probe.store import ActivationStore
    from unitscope.train import shards
    from unitscope.train.clustering import sample_frames
    from unitscope.train.config import TrainConfig
    from unitscope.train.distributed import Dist
    from unitscope.train.objectives import coherence

    run = str(folder / "run")
    cfg = ProbeConfig(run=run, dataset=str(folder / "data-probe"))
    cs = dataset_labels(cfg.dataset, ActivationStore(run), cfg.max_labelled_frames, cfg.seed)
    where = {k: i for i, k in enumerate(cs.items)}
    images = [None] * len(where)
    for record in shards.list_records(cfg.dataset):
        for key, data in read_shard(record)[0]:
            if key in where:
                images[where[key]] = decode(data)
    enc = open_encoder(run, "random" if random else "trained", cfg.seed, "cpu")
    pixels = torch.cat([enc.pixels(enc.preprocess(images[i : i + 64])) for i in range(0, len(images), 64)])
    tc = TrainConfig(**json.loads((folder / "run" / "config.json").read_text()))
    train, stamps, _ = sample_frames(tc, shards.list_shards(tc.dataset), Dist(0, 1, torch.device("cpu")))
    pairs = coherence.pair_index(stamps, tc.pair_max_gap_s, tc.group_frames // 2)
    frames = pairs.flatten().unique()
    out = {"probe": unit_maps(enc, pixels.contiguous()), "train": unit_maps(enc, train[frames].contiguous()),
           "pairs": torch.searchsorted(frames, pairs).numpy(), "face": cs.labels["face"],
           "sel": split_mask(cs.groups, cfg.select_fraction, cfg.seed, cs.strata)}  # fmt: skip
    np.savez(cache, **out)
    return out


def best(maps: np.ndarray) -> np.ndarray:
    return maps.max(axis=(2, 3)).astype(np.float64)


def dilate(maps: np.ndarray, k: int) -> np.ndarray:
    t = torch.from_numpy(maps.astype(np.float32))
    return F.max_pool2d(t, k, stride=1, padding=k // 2).numpy() if k > 1 else t.numpy()


def partners(d: dict, group: int, trained: bool, place: bool = False) -> np.ndarray:
    """The fit's rule (coherence.partners) on the training pairs: lagged correlation of each unit's best
    match (or, with `place`, of its cells against the next frame's cells max-pooled 3 x 3); random for the
    control, as the control's partners are."""
    from unitscope.train.models.patch import random_partners
    from unitscope.train.objectives import coherence

    units = d["train"].shape[1]
    if not trained:
        return random_partners(units, group, 0).numpy()
    a, b = d["train"][d["pairs"][:, 0]], d["train"][d["pairs"][:, 1]]
    if place:
        a = a.transpose(0, 2, 3, 1).reshape(-1, units)
        b = dilate(b, 3).transpose(0, 2, 3, 1).reshape(-1, units)
    else:
        a, b = best(a), best(b)
    sums = coherence.lagged_sums(torch.from_numpy(np.asarray(a)), torch.from_numpy(np.asarray(b)))
    return coherence.partners(*sums, group).numpy()


def grouped(d: dict, group: int, trained: bool, place: bool = False, same_place: int = 0) -> np.ndarray:
    """Each unit pooled with its partners: the mean of their best matches, or (`same_place` k) the spatial
    max of the mean of their maps after a k x k max-pool, so the partners must fire at one place."""
    p = partners(d, group, trained, place)
    if not same_place:
        return best(d["probe"])[:, p].mean(axis=2)
    maps = dilate(d["probe"], same_place)
    return np.concatenate(
        [maps[:, p[i : i + 64]].mean(axis=2).max(axis=(2, 3)) for i in range(0, len(p), 64)], 1
    )


def second_layer(d: dict, k: int, trained: bool, iters: int = 20) -> np.ndarray:
    """Spherical K-means (k centroids) on the rectified, mean-removed, L2-normalised 512-unit descriptor of
    every cell of the training pair frames; a unit's response is its best cosine over the frame's cells.
    The control draws its centroids at random."""

    def descriptors(maps: np.ndarray) -> torch.Tensor:
        v = torch.from_numpy(maps.astype(np.float32)).flatten(2).transpose(1, 2)  # N, cells, units
        v = (v - v.mean(dim=2, keepdim=True)).clamp_min(0)
        return v / v.norm(dim=2, keepdim=True).clamp_min(1e-6)

    g = torch.Generator().manual_seed(0)
    units = d["train"].shape[1]
    if trained:
        x = descriptors(d["train"]).reshape(-1, units)
        c = x[torch.randperm(len(x), generator=g)[:k]].clone()
        for _ in range(iters):
            a = (x @ c.T).argmax(dim=1)
            s = torch.zeros_like(c).index_add_(0, a, x)
            empty = torch.bincount(a, minlength=k) == 0
            s[empty] = x[torch.randint(len(x), (int(empty.sum()),), generator=g)]
            c = s / s.norm(dim=1, keepdim=True).clamp_min(1e-6)
    else:
        c = F.normalize(torch.randn(k, units, generator=g), dim=1)
    return (descriptors(d["probe"]) @ c.T).amax(dim=1).numpy()


VARIANTS = {
    "kmeans1": lambda d, t: best(d["probe"]),
    "g2": lambda d, t: grouped(d, 2, t),  # the demo's group1
    "g3": lambda d, t: grouped(d, 3, t),
    "g4": lambda d, t: grouped(d, 4, t),
    "g6": lambda d, t: grouped(d, 6, t),
    "pos2": lambda d, t: grouped(d, 2, t, same_place=1),
    "pos2d3": lambda d, t: grouped(d, 2, t, same_place=3),
    "pos3d3": lambda d, t: grouped(d, 3, t, same_place=3),
    "pos4d3": lambda d, t: grouped(d, 4, t, same_place=3),
    "place2": lambda d, t: grouped(d, 2, t, place=True),
    "place4": lambda d, t: grouped(d, 4, t, place=True),
    "place4pos": lambda d, t: grouped(d, 4, t, place=True, same_place=3),
    "layer2_256": lambda d, t: second_layer(d, 256, t),
}


def halves(acts: np.ndarray, y: np.ndarray, sel: np.ndarray) -> list[float]:
    """[AUC of the unit chosen on `sel` scored on the rest, the same the other way round]."""
    from unitscope.probe.scores import roc_auc

    acts = np.asarray(acts, dtype=np.float32)
    a_sel = np.nan_to_num(np.atleast_1d(roc_auc(acts[sel], y[sel])))
    a_eval = np.nan_to_num(np.atleast_1d(roc_auc(acts[~sel], y[~sel])))
    return [round(float(a_eval[a_sel.argmax()]), 3), round(float(a_sel[a_eval.argmax()]), 3)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seeds", default="1-5")
    ap.add_argument("--probe-offset", type=int, default=1000)
    ap.add_argument("--variants", default=None, help="comma-separated names (default all)")
    ap.add_argument("--random", action="store_true", help="score the random-weights control too")
    a = ap.parse_args()
    from demo_seeds import seed_list

    torch.set_num_threads(1)
    names = a.variants.split(",") if a.variants else list(VARIANTS)
    for s in seed_list(a.seeds):
        folder = Path(a.out) / f"t{s}-p{s + a.probe_offset}"
        if not (folder / "run" / "probe" / "activations").exists():
            continue
        nets = {"trained": prepare(folder, False), **({"random": prepare(folder, True)} if a.random else {})}
        for name in names:
            row = {"seeds": folder.name, "variant": name}
            for net, d in nets.items():
                row[net] = halves(VARIANTS[name](d, net == "trained"), d["face"], d["sel"])
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
