"""`unitscope demo`: the whole experiment on the embedded default, in one command, in minutes on a laptop.

Synthesize a training corpus and a held-out probe corpus (different seed: other backgrounds, other
placements), ingest both, train an encoder without labels on the first, probe its units on the second
(units chosen on half of the probe corpus' videos, scored on the other half), print the concept table.
Local Ray, local folders, no network. Every stage's options can be overridden (`synth`, `ingest`,
`train`, `probe` mappings in the config file), so the demo shrinks to a smoke test or grows to an
experiment. A stage whose output already exists is reused (delete OUT to start over).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import fsspec
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)

# The default budget: under 10 minutes on 2 CPU cores, most of it training (1000 steps x 64 pairs of
# 32 px views at ~1100 images/s: 114 s of a 137 s run on 2 quiet cores); tests/bench/demo_quality.py
# measures it.
SYNTH = {"seconds": 20.0, "fps": 10.0, "size": 160}
INGEST = {"fps": 5.0, "size": 64, "shard_frames": 500}
TRAIN = {"objective": "temporal", "steps": 1000, "batch_size": 64, "workers": 0}
PROBE = {"permutations": 199}


class DemoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    out: str = Field("unitscope-demo", description="folder for the corpora, datasets, run and report")
    train_videos: int = Field(32, ge=2, description="clips in the training corpus")
    probe_videos: int = Field(16, ge=2, description="clips in the held-out probe corpus")
    train_seed: int = 0
    probe_seed: int = 1000
    synth: dict[str, Any] = Field(default_factory=dict, description="SynthConfig overrides (both corpora)")
    ingest: dict[str, Any] = Field(default_factory=dict, description="IngestConfig overrides")
    train: dict[str, Any] = Field(default_factory=dict, description="TrainConfig overrides")
    probe: dict[str, Any] = Field(default_factory=dict, description="ProbeConfig overrides")
    address: str | None = Field(None, description="Ray cluster address (default: local Ray)")


class DemoResult(BaseModel):
    out: str
    report: str
    table: list[dict]
    seconds: dict[str, float]  # per stage


def _exists(url: str) -> bool:
    fs, path = fsspec.core.url_to_fs(url)
    return fs.exists(path)


def run(cfg: DemoConfig) -> DemoResult:
    from pipeline.config import IngestConfig
    from pipeline.ingest import run as ingest
    from pipeline.synth import SynthConfig
    from pipeline.synth import run as synth
    from probe.config import ProbeConfig
    from probe.probe import run as probe
    from train.config import TrainConfig
    from train.train import run as train

    out = cfg.out.rstrip("/")
    if "://" not in out:
        Path(out).mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    def stage(name: str, done_marker: str, fn, config) -> None:
        t0 = time.perf_counter()
        if _exists(done_marker):
            log.info("demo: %s: reusing %s", name, done_marker)
        else:
            log.info("demo: %s ...", name)
            fn(config)
        seconds[name] = round(time.perf_counter() - t0, 1)

    corpora = {"train": (cfg.train_videos, cfg.train_seed), "probe": (cfg.probe_videos, cfg.probe_seed)}
    for split, (videos, seed) in corpora.items():
        vids = f"{out}/videos-{split}"
        opts = {**SYNTH, **cfg.synth, "out": vids, "videos": videos, "seed": seed}
        stage(f"synth {split}", f"{vids}/corpus.json", synth, SynthConfig(**opts))
        data = f"{out}/data-{split}"
        opts = {**INGEST, **cfg.ingest, "src": vids, "out": data, "address": cfg.address, "progress": False}
        stage(f"ingest {split}", f"{data}/manifest/shards.parquet", ingest, IngestConfig(**opts))
    run_dir = f"{out}/run"
    opts = {**TRAIN, **cfg.train, "dataset": f"{out}/data-train", "run": run_dir, "address": cfg.address}
    stage("train", f"{run_dir}/encoder.pt", train, TrainConfig(**opts))
    t0 = time.perf_counter()
    opts = {**PROBE, **cfg.probe, "run": run_dir, "dataset": f"{out}/data-probe", "address": cfg.address}
    result = probe(ProbeConfig(**opts))
    seconds["probe"] = round(time.perf_counter() - t0, 1)
    return DemoResult(out=out, report=result.report, table=result.table, seconds=seconds)
