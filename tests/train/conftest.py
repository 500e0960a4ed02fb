"""Shared train-test fixtures: small datasets with uneven shards, and a tiny model config."""

from __future__ import annotations

import pytest

from tests.train.standin import write_dataset

# A small, fast model for tests: the real code paths at a size that trains in seconds on 2 cores.
TINY = {
    "width": 8,
    "input_size": 32,
    "batch_size": 8,
    "loader_workers": 1,
    "shuffle_buffer": 16,
    "log_every": 5,
}


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """Three uneven shards (16, 8, 13 frames) of 6 short videos."""
    return write_dataset(tmp_path_factory.mktemp("train-ds"), [[10, 6], [8], [5, 5, 3]])


@pytest.fixture(scope="session")
def corrupt_dataset(tmp_path_factory):
    """One shard whose first 3 frames hold broken JPEGs."""
    return write_dataset(tmp_path_factory.mktemp("train-corrupt"), [[12, 8]], corrupt=3)
