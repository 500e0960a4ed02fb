"""Quality benchmark of the train stage: do concept detectors emerge in single units?

Synthesises a planted-concept training corpus and a held-out one (another seed), ingests both, trains each
objective with a step budget, then per concept finds the best single unit (channel of any named layer,
spatially max-pooled) by ROC AUC on half of the held-out videos and reports its AUC on the other half,
beside the same architecture with random weights (the probe issue's bar: >= 0.80 and >= +0.15).

    python tests/bench/train_quality.py [--out DIR] [--steps 600] [--objectives temporal,sparse]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch

from pipeline.dataset import Dataset
from train import augment, shards
from train.config import TrainConfig
from train.encoder import Encoder, build_encoder
from train.model_io import load_encoder
from train.train import run


def corpus(out: Path, name: str, videos: int, seed: int, size: int) -> str:
    from pipeline.config import IngestConfig
    from pipeline.ingest import run as ingest
    from pipeline.synth import SynthConfig
    from pipeline.synth import run as synth

    ds = out / f"{name}-ds"
    if not (ds / "dataset.json").exists():
        synth(SynthConfig(out=str(out / f"{name}-videos"), videos=videos, seconds=20, fps=10, size=144, seed=seed,
                          workers=0))  # fmt: skip
        ingest(IngestConfig(src=str(out / f"{name}-videos"), out=str(ds), fps=2, size=size, shard_frames=200,
                            workers=0, progress=False))  # fmt: skip
    return str(ds)


def held_out(ds: str) -> tuple[np.ndarray, list[str], list[list[str]], list[str]]:
    """Frames (uint8 NHWC), their video ids, label lists, and the concept names."""
    table = Dataset(ds).frames().to_pylist()
    meta = {r["key"]: r for r in table}
    ims, vids, labels = [], [], []
    for unit in shards.plan_units(shards.list_shards(ds), 1):
        for f in shards.read_unit(unit, 0, {}):
            ims.append(np.array(augment.decode(f.jpg, 10**4)))
            vids.append(f.video)
            labels.append(meta[f.key]["labels"])
    concepts = sorted({c for ls in labels for c in ls})
    return np.stack(ims), vids, labels, concepts


@torch.no_grad()
def unit_responses(enc: Encoder, frames: np.ndarray) -> np.ndarray:
    """(frames, units): every channel of every named layer, max-pooled over space."""
    out = []
    for i in range(0, len(frames), 128):
        feats = enc.features(enc.preprocess(frames[i : i + 128]))
        out.append(torch.cat([f.amax(dim=(2, 3)) for f in feats.values()], dim=1).numpy())
    return np.concatenate(out)


def auc_all(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ROC AUC of every column of x against boolean y (rank statistic, ties averaged)."""
    from scipy.stats import rankdata

    r = rankdata(x, axis=0)
    pos = y.sum()
    return (r[y].sum(axis=0) - pos * (pos + 1) / 2) / (pos * (len(y) - pos))


def score(resp: np.ndarray, vids: list[str], labels: list[list[str]], concepts: list[str]) -> dict:
    uniq = sorted(set(vids))
    half = set(uniq[::2])
    a = np.array([v in half for v in vids])
    out = {}
    for c in concepts:
        y = np.array([c in ls for ls in labels])
        best = int(np.argmax(auc_all(resp[a], y[a])))
        out[c] = round(float(auc_all(resp[~a][:, [best]], y[~a])[0]), 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/unitscope-train-quality")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--objectives", default="temporal,sparse")
    ap.add_argument("--size", type=int, default=96, help="ingest frame size")
    ap.add_argument("--set", action="append", default=[], help="extra TrainConfig KEY=VALUE (repeatable)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train_ds = corpus(out, "train", 32, 0, args.size)
    test_ds = corpus(out, "test", 16, 1, args.size)
    frames, vids, labels, concepts = held_out(test_ds)
    extra = {
        k: json.loads(v) if v[:1] in "0123456789-tf[{" else v for k, v in (s.split("=", 1) for s in args.set)
    }
    report = {"bench": "train_quality", "load_avg_before": round(os.getloadavg()[0], 2), "held_out_frames": len(frames),
              "prevalence": {c: round(float(np.mean([c in ls for ls in labels])), 3) for c in concepts}}  # fmt: skip
    for objective in args.objectives.split(","):
        tag = "-".join([objective, *(f"{k}{v}" for k, v in extra.items())])
        run_dir = out / f"run-{tag}-{args.steps}"
        cfg = TrainConfig(dataset=train_ds, run=str(run_dir), objective=objective, steps=args.steps, workers=0,
                          **extra)  # fmt: skip
        t0 = time.perf_counter()
        if not (run_dir / "encoder.pt").exists():
            run(cfg)
        trained = load_encoder(str(run_dir))
        random = build_encoder(trained.spec, seed=12345).eval()
        report[tag] = {
            "config": {k: v for k, v in cfg.model_dump().items() if k not in ("dataset", "run")},
            "train_s": round(time.perf_counter() - t0, 1),
            "trained_auc": score(unit_responses(trained, frames), vids, labels, concepts),
            "random_auc": score(unit_responses(random, frames), vids, labels, concepts),
        }
        print(json.dumps({tag: report[tag]}), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
