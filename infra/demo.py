"""`unitscope demo`: the whole experiment on the embedded default, in one command, in minutes on a laptop.

Synthesize a training corpus and a held-out probe corpus (different seed: other backgrounds, other
placements), ingest both, train an encoder without labels on the first, probe its units on the second
(units chosen on half of the probe corpus' videos, scored on the other half), print the concept table.
Local Ray, local folders, no network. Every stage's options can be overridden (`synth`, `ingest`,
`train`, `probe` mappings in the config file), so the demo shrinks to a smoke test or grows to an
experiment. Run again, each stage's own check decides what is redone: synth keeps a corpus made with the
same settings, ingest resumes or keeps a dataset planned with the same ones (and starts afresh when its
videos are to be made again), train keeps or resumes a run whose config.json matches and which is newer
than its dataset. The probe always runs (it reuses its stored activations when encoder and data match).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Literal

import fsspec
from pydantic import BaseModel, ConfigDict, Field, model_validator
from unitscope.train.profiles import DEMO_CORPUS, resolve

log = logging.getLogger(__name__)

# The default budget: under 10 minutes on 2 CPU cores (tests/bench/demo_quality.py measures it). The cpu
# profile fits a K-means dictionary (train/models/patch.py): of everything measured on 2 cores it gives the
# largest margin over random weights, in about a minute; the temporal objective needs GPU scale
# (train/profiles.py). Its frames are 128 px, matched over 7 pyramid levels (16-128 px) at every second
# position (a quarter of the cost): the face's best unit rose from 0.742 (64 px) to 0.781 (96 px) and 0.793
# (128 px) held-out AUC in the bench protocol; at 64 px the eyes of the smallest faces are ~1 px. Its group1
# units (train/objectives/coherence.py) lift face to 0.815 (0.796-0.833 by split), a detector. Probe clips
# are 10 s: 32 of them hold the frames of 16 x 20 s from twice the videos, so the halves that choose and
# score units are less alike by chance.
SYNTH = {"seconds": 20.0, "fps": 10.0, "size": 160}
PROBE_SECONDS = 10.0
FRAME_SIZE = {"cpu": 128, "gpu": 64}  # ingested frame side = the encoder's input side, per profile
INGEST = {"fps": 5.0, "shard_frames": 500}
TRAIN = {
    "cpu": {"objective": "kmeans", "patch_stride": 2, "workers": 0},
    "gpu": {"profile": "gpu", "workers": 0},
}
PROBE = {"permutations": 199}


class DemoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    out: str = Field("unitscope-demo", description="folder for the corpora, datasets, run and report")
    profile: Literal["auto", "cpu", "gpu"] = Field(
        "auto",
        description="scale: cpu (2 cores, minutes), gpu (one GPU, train/profiles.py); auto: gpu with CUDA",
    )
    train_videos: int | None = Field(None, ge=2, description=f"clips in the training corpus {DEMO_CORPUS}")
    probe_videos: int | None = Field(
        None, ge=2, description=f"clips in the held-out probe corpus {DEMO_CORPUS}"
    )
    train_seed: int = 0
    probe_seed: int = 1000
    synth: dict[str, Any] = Field(default_factory=dict, description="SynthConfig overrides (both corpora)")
    ingest: dict[str, Any] = Field(default_factory=dict, description="IngestConfig overrides")
    train: dict[str, Any] = Field(default_factory=dict, description="TrainConfig overrides")
    probe: dict[str, Any] = Field(default_factory=dict, description="ProbeConfig overrides")
    address: str | None = Field(None, description="Ray cluster address (default: local Ray)")

    @model_validator(mode="after")
    def _profile(self) -> DemoConfig:
        self.profile = resolve(self.profile)
        corpus = DEMO_CORPUS[self.profile]
        self.train_videos = self.train_videos or corpus["train_videos"]
        self.probe_videos = self.probe_videos or corpus["probe_videos"]
        return self


class DemoResult(BaseModel):
    out: str
    report: str
    table: list[dict]
    rule: dict  # the detector definition the table applied (probe/detector.py)
    seconds: dict[str, float]  # per stage
    dissections: list[dict] = []  # per concept: its best unit's page and invariance ranges (demo_dissect.py)


def _clear(url: str) -> None:
    fs, path = fsspec.core.url_to_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def run(cfg: DemoConfig) -> DemoResult:
    from unitscope.infra.demo_dissect import dissect_best_units
    from unitscope.pipeline.config import IngestConfig
    from unitscope.pipeline.ingest import holds_other as ingest_holds_other
    from unitscope.pipeline.ingest import run as ingest
    from unitscope.pipeline.synth import SynthConfig
    from unitscope.pipeline.synth import run as synth
    from unitscope.pipeline.synth.corpus import holds as synth_holds
    from unitscope.probe.config import ProbeConfig
    from unitscope.probe.probe import run as probe
    from unitscope.train.config import TrainConfig
    from unitscope.train.train import earlier as earlier_run
    from unitscope.train.train import run as train

    from unitscope.core.storage import absolute

    out = absolute(cfg.out.rstrip("/"))
    if "://" not in out:
        Path(out).mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    def timed(name: str, fn, *args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            seconds[name] = round(time.perf_counter() - t0, 1)

    def ingest_stage(config: IngestConfig) -> None:
        if ingest_holds_other(config):  # planned with other settings: made again from scratch
            _clear(config.out)
        if not ingest(config).shards_run:
            log.info("demo: ingest: %s holds this dataset: kept", config.out)

    def train_stage(config: TrainConfig) -> None:
        state = earlier_run(config)  # None also when the dataset was written after the run
        if state == "finished":
            log.info("demo: train: %s holds this run: kept", config.run)
            return
        if state == "cut short":
            config = config.model_copy(update={"resume": True})
        else:
            _clear(config.run)
        train(config)

    corpora = {"train": (cfg.train_videos, cfg.train_seed), "probe": (cfg.probe_videos, cfg.probe_seed)}
    for split, (videos, seed) in corpora.items():
        vids = f"{out}/videos-{split}"
        length = {"seconds": PROBE_SECONDS} if split == "probe" else {}
        opts = {**SYNTH, **length, **cfg.synth, "out": vids, "videos": videos, "seed": seed}
        data = f"{out}/data-{split}"
        if not synth_holds(synth_cfg := SynthConfig(**opts)):
            _clear(data)  # its frames would be of other videos
        timed(f"synth {split}", synth, synth_cfg)
        opts = {
            **INGEST,
            "size": FRAME_SIZE[cfg.profile],
            **cfg.ingest,
            "src": vids,
            "out": data,
            "address": cfg.address,
            "progress": False,
        }
        timed(f"ingest {split}", ingest_stage, IngestConfig(**opts))
    run_dir = f"{out}/run"
    opts = {
        **TRAIN[cfg.profile],
        "input_size": FRAME_SIZE[cfg.profile],
        **cfg.train,
        "dataset": f"{out}/data-train",
        "run": run_dir,
        "address": cfg.address,
    }
    timed("train", train_stage, TrainConfig(**opts))
    t0 = time.perf_counter()
    opts = {**PROBE, **cfg.probe, "run": run_dir, "dataset": f"{out}/data-probe", "address": cfg.address}
    probe_cfg = ProbeConfig(**opts)
    result = probe(probe_cfg)
    seconds["probe"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    dissections = dissect_best_units(run_dir, result.table)
    seconds["dissect"] = round(time.perf_counter() - t0, 1)
    return DemoResult(out=out, report=result.report, table=result.table, rule=probe_cfg.rule.as_dict(),
                      seconds=seconds, dissections=dissections)  # fmt: skip
