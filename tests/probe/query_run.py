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
    """The run: stand-in tables until the real stages can build it."""
    if "run" not in _BUILT:
        from tests.bench.standin_run import write_dataset, write_probe

        root = tmp_path_factory.mktemp("query-run")
        keys = write_dataset(root / "dataset", 300, videos=6, shard_frames=100)
        write_probe(root / "run", root / "dataset", keys, {"conv1": 8, "conv2": 16}, ["face", "cat"])
        _BUILT["run"] = SmallRun(root / "run", root / "dataset")
    return _BUILT["run"]
