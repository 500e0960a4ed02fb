"""One small probed run shared by the query and server tests (built once per test session)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from pipeline import schema
from probe.query import layout

_BUILT: dict[str, SmallRun] = {}


@dataclass
class SmallRun:
    run: Path
    dataset: Path

    def catalog(self) -> list[dict]:
        return pq.read_table(self.run / layout.CATALOG_TABLE).to_pylist()

    def units(self) -> list[dict]:
        return pq.read_table(self.run / layout.UNITS_TABLE).to_pylist()

    def frames(self) -> list[dict]:
        return pq.read_table(self.dataset / schema.FRAMES_TABLE).to_pylist()

    def videos(self) -> list[dict]:
        return pq.read_table(self.dataset / schema.VIDEOS_TABLE).to_pylist()


def small_run(tmp_path_factory) -> SmallRun:
    """A synthetic corpus of a few short clips, ingested for real; probe tables stand in until the
    train and probe stages can build the run."""
    if "run" not in _BUILT:
        from pipeline.config import IngestConfig
        from pipeline.ingest import run as ingest
        from pipeline.synth import SynthConfig
        from pipeline.synth import run as synth
        from tests.bench.standin_run import write_probe

        root = tmp_path_factory.mktemp("query-run")
        synth(SynthConfig(out=str(root / "videos"), videos=4, seconds=3, fps=8, size=96, workers=0))
        ingest(IngestConfig(src=str(root / "videos"), out=str(root / "dataset"), fps=4, size=32,
                            shard_frames=20, workers=0, progress=False))  # fmt: skip
        keys = pq.read_table(root / "dataset" / schema.FRAMES_TABLE).column("key").to_pylist()
        write_probe(root / "run", root / "dataset", keys, {"conv1": 8, "conv2": 16}, ["face", "cat"])
        _BUILT["run"] = SmallRun(root / "run", root / "dataset")
    return _BUILT["run"]
