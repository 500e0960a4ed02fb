"""Shared train-test fixtures: small ingested datasets with uneven shards, and a tiny model config."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from unitscope.pipeline import schema

from tests.train.datasets import corrupt_jpegs, make_dataset

# A small, fast model for tests: the real code paths at a size that trains in seconds on 2 cores.
TINY = {
    "width": 8,
    "input_size": 32,
    "batch_size": 8,
    "loader_workers": 1,
    "shuffle_buffer": 16,
    "log_every": 5,
}
LENGTHS = [10, 6, 8, 5, 5, 3]  # frames per clip: 37 in all


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """Six clips (37 frames) ingested into uneven shards."""
    out = make_dataset(tmp_path_factory.mktemp("train-ds"), LENGTHS, shard_frames=12)
    sizes = pq.read_table(out / schema.SHARDS_TABLE).column("frames").to_pylist()
    assert len(sizes) >= 3 and len(set(sizes)) > 1 and sum(sizes) == sum(LENGTHS), sizes
    return out


@pytest.fixture(scope="session")
def corrupt_dataset(tmp_path_factory):
    """Two clips (20 frames) in one shard whose first 3 JPEGs are broken."""
    out = make_dataset(tmp_path_factory.mktemp("train-corrupt"), [12, 8], shard_frames=100)
    corrupt_jpegs(out, 0, 3)
    return out
