"""The train loader checks each shard against the manifest: the frames a damaged shard cost are counted
(they show as skipped frames), and train refuses to start when damaged shards pass --max-bad-frames."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from unitscope.pipeline import schema
from unitscope.train import shards

from tests.probe.tiny_dataset import write_dataset
from unitscope.core.errors import DamageError


def _cut_header(root, shard: int, frame: int) -> None:
    """Zero the tar header of the shard's `frame`-th JPEG: a reader that trusts the tar stops there."""
    rows = [r for r in pq.read_table(root / schema.FRAMES_TABLE).to_pylist() if r["shard"] == shard]
    start = sorted(r["jpg_offset"] for r in rows)[frame] - 512
    path = root / schema.shard_path(shard)
    data = bytearray(path.read_bytes())
    data[start : start + 512] = bytes(512)
    path.write_bytes(bytes(data))


def test_loader_counts_the_frames_a_damaged_shard_cost(tmp_path):
    root = write_dataset(tmp_path / "ds", videos=4, frames=10, shards=2)  # 20 frames a shard
    _cut_header(root, 0, 12)
    records = shards.list_records(str(root))
    counters: dict[str, int] = {}
    unreadable: dict[str, str] = {}
    got = [
        f for part in shards.plan_parts(records, 1) for f in shards.read_part(part, 0, counters, unreadable)
    ]
    assert len(got) == 40 - 8 and counters == {"bad_shards": 1, "bad_samples": 8}
    assert (
        list(unreadable) == [records[0].url]
        and "12 frames read, manifest says 20" in unreadable[records[0].url]
    )
    # cut in two parts, each part counts its own missing frames
    counters = {}
    got = [f for part in shards.plan_parts(records[:1], 2) for f in shards.read_part(part, 0, counters)]
    assert len(got) + counters["bad_samples"] == 20 and counters["bad_shards"] == 2
    # an intact shard reads whole, nothing counted
    counters = {}
    assert sum(1 for _ in shards.read_part(shards.plan_parts(records[1:], 1)[0], 0, counters)) == 20
    assert counters == {}


def test_train_refuses_a_truncated_shard_above_the_threshold(tmp_path):
    root = write_dataset(tmp_path / "ds", videos=4, frames=10, shards=2)
    path = root / schema.shard_path(1)
    path.write_bytes(path.read_bytes()[:-3000])
    with pytest.raises(DamageError, match=r"20 of 40 frames unreadable.*frames-000001.tar: size"):
        shards.size_damage(str(root), 0.001)
    assert "train: warning: 20 of 40" in shards.size_damage(str(root), 0.6)
