"""One small probed run shared by the query and server tests (built once per test session)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from unitscope.pipeline import schema
from unitscope.probe import catalog

_BUILT: dict[str, SmallRun] = {}


@dataclass
class SmallRun:
    run: Path
    dataset: Path
    source: Path  # the folder of videos that was ingested

    def catalog(self) -> list[dict]:
        return pq.read_table(self.run / catalog.CATALOG_TABLE).to_pylist()

    def units(self) -> list[dict]:
        return pq.read_table(self.run / catalog.UNITS_TABLE).to_pylist()

    def frames(self) -> list[dict]:
        return pq.read_table(self.dataset / schema.FRAMES_TABLE).to_pylist()

    def videos(self) -> list[dict]:
        return pq.read_table(self.dataset / schema.VIDEOS_TABLE).to_pylist()


def small_run(tmp_path_factory) -> SmallRun:
    """A probed run made by the real stages, kept tiny: a synthetic corpus of four 3-second clips,
    ingested, an encoder trained for a few steps, probed. Needs Ray (the `ray_local` fixture)."""
    if "run" not in _BUILT:
        from unitscope.pipeline.config import IngestConfig
        from unitscope.pipeline.ingest import run as ingest
        from unitscope.pipeline.synth import SynthConfig
        from unitscope.pipeline.synth import run as synth
        from unitscope.probe.config import ProbeConfig
        from unitscope.probe.probe import run as probe
        from unitscope.train.config import TrainConfig
        from unitscope.train.train import run as train

        root = tmp_path_factory.mktemp("query-run")
        videos, dataset, run = (str(root / name) for name in ("videos", "dataset", "run"))
        synth(SynthConfig(out=videos, videos=4, seconds=3, fps=8, size=96, workers=0))
        ingest(
            IngestConfig(src=videos, out=dataset, fps=4, size=32, shard_frames=20, workers=0, progress=False)
        )
        train(
            TrainConfig(dataset=dataset, run=run, steps=6, batch_size=8, width=4, workers=0, loader_workers=0)
        )
        probe(ProbeConfig(run=run, dataset=dataset, permutations=9, min_examples=2, batch_size=16))
        _BUILT["run"] = SmallRun(root / "run", root / "dataset", root / "videos")
    return _BUILT["run"]
