"""Quality benchmark of the train stage: does training beat the same architecture with random weights?

Synthesises (once, cached under --out) a planted-concept training corpus like the demo's (32 clips x 20 s,
ingested at 5 fps, 64 px; --train-videos for more clips) and a held-out one (another seed, --test-videos
clips x --test-seconds), trains with a step budget, and scores the encoder on the held-out frames two ways, each with the held-out videos
cut into two disjoint halves and the figure averaged over both directions (fit on one half, score on the
other):
- linear probe (the train issue's bar): logistic regression on every unit's spatially pooled activation
  (max and mean pooling), regularisation chosen by grouped cross-validation on the fitting half; ROC AUC;
- best single unit (the probe issue's bar: >= 0.80 and >= +0.15 over random): the max-pooled unit with
  the highest AUC on one half, its AUC on the other.
Both beside the same architecture with random weights (mean over --random-seeds initialisations).

    python tests/bench/train_quality.py [--out DIR] [--steps 1000] [--train-videos 32] [--set KEY=VALUE ...]
                                        [--tag T]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch
from unitscope.pipeline.dataset import Dataset
from unitscope.train import augment, metrics, shards
from unitscope.train.config import TrainConfig
from unitscope.train.encoder import EncoderBase as Encoder
from unitscope.train.model_io import load_encoder
from unitscope.train.train import run

SYNTH = {"fps": 10.0, "size": 160}  # the demo's corpus and ingest settings (infra/demo.py)
INGEST = {"fps": 5.0, "size": 64, "shard_frames": 500}
CS = (0.003, 0.01, 0.03, 0.1, 0.3)  # logistic regression C grid


def corpus(out: Path, name: str, videos: int, seconds: float, seed: int) -> str:
    from unitscope.pipeline.config import IngestConfig
    from unitscope.pipeline.ingest import run as ingest
    from unitscope.pipeline.synth import SynthConfig
    from unitscope.pipeline.synth import run as synth

    ds = out / f"{name}-ds"
    if not (ds / "dataset.json").exists():
        vids = str(out / f"{name}-videos")
        synth(SynthConfig(out=vids, videos=videos, seconds=seconds, seed=seed, workers=0, **SYNTH))
        ingest(IngestConfig(src=vids, out=str(ds), workers=0, progress=False, **INGEST))
    return str(ds)


def train_corpus(out: Path, videos: int) -> str:
    """The training corpus: `videos` clips of 20 s (seed 0); 32 is the demo's."""
    return corpus(out, "train" if videos == 32 else f"train{videos}", videos, 20.0, 0)


def test_corpus(out: Path, videos: int = 32, seconds: float = 10.0) -> str:
    """The held-out corpus (seed 1000: other backgrounds, objects and placements)."""
    return corpus(out, f"test{videos}x{seconds:g}", videos, seconds, 1000)


def held_out(ds: str) -> tuple[np.ndarray, np.ndarray, list[list[str]], list[str]]:
    """Frames (uint8 NHWC), their video ids, label lists, and the concept names."""
    meta = {r["key"]: r for r in Dataset(ds).frames().to_pylist()}
    ims, vids, labels = [], [], []
    for unit in shards.plan_units(shards.list_shards(ds), 1):
        for f in shards.read_unit(unit, 0, {}):
            ims.append(np.array(augment.decode(f.jpg, 10**4)))
            vids.append(f.video)
            labels.append(meta[f.key]["labels"])
    concepts = sorted({c for ls in labels for c in ls})
    return np.stack(ims), np.array(vids), labels, concepts


@torch.no_grad()
def unit_responses(enc: Encoder, frames: np.ndarray) -> dict[str, np.ndarray]:
    """{"max", "mean"} -> (frames, units): every channel of every named layer, pooled over space."""
    out: dict[str, list[np.ndarray]] = {"max": [], "mean": []}
    enc.eval()
    for i in range(0, len(frames), 128):
        feats = enc.features(enc.preprocess(frames[i : i + 128])).values()
        out["max"].append(torch.cat([f.amax(dim=(2, 3)) for f in feats], dim=1).numpy())
        out["mean"].append(torch.cat([f.mean(dim=(2, 3)) for f in feats], dim=1).numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def auc_all(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ROC AUC of every column of x against boolean y (rank statistic, ties averaged)."""
    from scipy.stats import rankdata

    r = rankdata(x, axis=0)
    pos = y.sum()
    return (r[y].sum(axis=0) - pos * (pos + 1) / 2) / (pos * (len(y) - pos))


def halves(vids: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two directions (fit, score) over held-out videos cut into two disjoint halves."""
    uniq = sorted(set(vids.tolist()))
    a = np.isin(vids, uniq[::2])
    return [(a, ~a), (~a, a)]


def best_unit(x: np.ndarray, y: np.ndarray, vids: np.ndarray) -> float:
    out = []
    for fit, test in halves(vids):
        best = int(np.argmax(auc_all(x[fit], y[fit])))
        out.append(auc_all(x[test][:, [best]], y[test])[0])
    return float(np.mean(out))


def linear_probe(x: np.ndarray, y: np.ndarray, vids: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def model(c: float):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))

    out = []
    for fit, test in halves(vids):
        cv = GroupKFold(n_splits=4)
        cvs = [cross_val_score(model(c), x[fit], y[fit], groups=vids[fit], cv=cv, scoring="roc_auc").mean()
               for c in CS]  # fmt: skip
        m = model(CS[int(np.argmax(cvs))]).fit(x[fit], y[fit])
        out.append(roc_auc_score(y[test], m.decision_function(x[test])))
    return float(np.mean(out))


def scores(enc: Encoder, frames: np.ndarray, vids: np.ndarray, labels: list, concepts: list[str]) -> dict:
    resp = unit_responses(enc, frames)
    out: dict[str, dict[str, float]] = {"linear_max": {}, "linear_mean": {}, "unit_max": {}}
    for c in concepts:
        y = np.array([c in ls for ls in labels])
        out["linear_max"][c] = linear_probe(resp["max"], y, vids)
        out["linear_mean"][c] = linear_probe(resp["mean"], y, vids)
        out["unit_max"][c] = best_unit(resp["max"], y, vids)
    return out


def averaged(runs: list[dict]) -> dict:
    return {m: {c: round(float(np.mean([r[m][c] for r in runs])), 3) for c in runs[0][m]} for m in runs[0]}


def random_scores(out: Path, trained: Encoder, seeds: int, data: tuple) -> dict:
    """The random-weight control's scores, cached per architecture (they do not depend on training)."""
    spec = trained.spec.model_dump_json()
    cache = out / f"random-{hashlib.sha1(f'{spec}{seeds}{len(data[0])}'.encode()).hexdigest()[:12]}.json"
    if not cache.exists():
        encs = [trained.randomized(12345 + s) for s in range(seeds)]
        cache.write_text(json.dumps(averaged([scores(e, *data) for e in encs])))
    return json.loads(cache.read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/unitscope-train-quality")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--objective", default="temporal")
    ap.add_argument("--train-videos", type=int, default=32, help="clips of 20 s in the training corpus")
    ap.add_argument("--test-videos", type=int, default=32)
    ap.add_argument("--test-seconds", type=float, default=10.0)
    ap.add_argument("--random-seeds", type=int, default=3)
    ap.add_argument("--tag", default=None, help="run name (default: from objective, steps and --set)")
    ap.add_argument("--set", action="append", default=[], help="extra TrainConfig KEY=VALUE (repeatable)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train_ds = train_corpus(out, args.train_videos)
    frames, vids, labels, concepts = held_out(test_corpus(out, args.test_videos, args.test_seconds))
    extra = {
        k: json.loads(v) if v[:1] in "0123456789-tfn[{" else v for k, v in (s.split("=", 1) for s in args.set)
    }
    tag = args.tag or "-".join([args.objective, str(args.steps), *(f"{k}{v}" for k, v in extra.items())])
    tag += "" if args.train_videos == 32 else f"-videos{args.train_videos}"
    run_dir = out / f"run-{tag}"
    cfg = TrainConfig(dataset=train_ds, run=str(run_dir), objective=args.objective, steps=args.steps, workers=0,
                      **extra)  # fmt: skip
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    if not (run_dir / "encoder.pt").exists():
        run(cfg)
    wall = time.perf_counter() - t0
    rows = metrics.read(str(run_dir))
    trained = load_encoder(str(run_dir))
    random = random_scores(out, trained, args.random_seeds, (frames, vids, labels, concepts))
    report = {
        "bench": "train_quality",
        "tag": tag,
        "changed": extra,
        "train_videos": args.train_videos,
        "steps": cfg.steps,
        "train_wall_s": round(wall, 1),
        "step_s_median": round(float(np.median([r["step_s"] for r in rows])), 3),
        "load_avg_before": round(load0, 2),
        "final_pair_acc": round(float(np.mean([r.get("pair_acc", np.nan) for r in rows[-20:]])), 3),
        "held_out": {"frames": len(frames), "videos": len(set(vids.tolist()))},
        "prevalence": {c: round(float(np.mean([c in ls for ls in labels])), 3) for c in concepts},
        "trained": averaged([scores(trained, frames, vids, labels, concepts)]),
        "random": random,
    }
    report["gain"] = {m: {c: round(report["trained"][m][c] - report["random"][m][c], 3) for c in concepts}
                      for m in report["trained"]}  # fmt: skip
    print(json.dumps(report, indent=1))
    with (out / "results.jsonl").open("a") as f:
        f.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
