"""The shard stream: split over ranks and loader workers, temporal pairs, resume position, bad input."""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path

import pytest
import torch
from unitscope.pipeline import schema
from unitscope.train import pairs, shards
from unitscope.train.stream import ShardStream, StreamSpec, make_loader

from unitscope.core.errors import InputError


def _spec(ds, **kw) -> StreamSpec:
    base = dict(shard_urls=tuple(shards.list_shards(str(ds))), rank=0, world=1, batch=4, temporal=True,
                input_size=32, crop_scale_min=0.35, max_gap_s=1.0, shuffle_buffer=8, seed=0)  # fmt: skip
    base.update(kw)
    return StreamSpec(**base)


@pytest.mark.parametrize("slots", [1, 2, 4, 7])
def test_every_epoch_deals_each_frame_to_exactly_one_slot(dataset, slots):
    urls = shards.list_shards(str(dataset))
    parts = shards.plan_parts(urls, slots)
    assert len(parts) >= slots
    for epoch in range(2):
        seen: list[list[str]] = []
        for slot in range(slots):
            mine = shards.parts_for_slot(parts, epoch, 0, slot, slots)
            assert mine, f"slot {slot} of {slots} got no work"
            seen.append([f.key for u in mine for f in shards.read_part(u, epoch, {})])
        flat = [k for s in seen for k in s]
        assert len(flat) == len(set(flat)) == 37


def test_temporal_pairs_join_nearby_frames_of_one_video(dataset):
    parts = shards.plan_parts(shards.list_shards(str(dataset)), 1)
    frames = [f for u in parts for f in shards.read_part(u, 0, {})]
    got = list(pairs.temporal_pairs(frames, 1.0, random.Random(0)))
    assert len(got) >= len(frames) - 6
    for a, b in got:
        assert a.video == b.video and abs(a.pts - b.pts) <= 1.0
    assert sum(a.key != b.key for a, b in got) >= len(got) - 2  # self-pairs only for stragglers
    covered = {f.key for p in got for f in p}
    assert covered == {f.key for f in frames}


def test_video_groups_put_time_separated_pairs_of_one_video_together(dataset):
    parts = shards.plan_parts(shards.list_shards(str(dataset)), 1)
    frames = [f for u in parts for f in shards.read_part(u, 0, {})]
    made = list(pairs.temporal_pairs(frames, 0.1, random.Random(0)))
    groups = list(pairs.video_groups(iter(made), 3, 0.15))
    assert sum(len(g) == 3 for g in groups) >= 3 and all(1 <= len(g) <= 3 for g in groups)
    for g in groups:
        assert len({f.video for p in g for f in p}) == 1
        keys = [f.key for p in g for f in dict.fromkeys(p)]
        assert len(keys) == len(set(keys))  # no frame is both a positive and a negative
        anchors = sorted(p[-1].pts for p in g)
        assert all(b - a > 0.15 for a, b in itertools.pairwise(anchors))
    assert sorted(id(p) for p in pairs.flattened(groups)) == sorted(id(p) for p in made)


def test_grouped_stream_batches_hold_several_frames_of_a_video(dataset):
    it = iter(ShardStream(_spec(dataset, batch=6, group=3, max_gap_s=0.1, shuffle_buffer=4)))
    batches = [next(it) for _ in range(4)]
    videos = [schema.parse_frame_key(k)[0] for b in batches for k in b["keys"]]
    assert len(videos) == 24 and max(videos.count(v) for v in set(videos)) >= 3
    resumed = next(iter(ShardStream(_spec(dataset, batch=6, group=3, max_gap_s=0.1, shuffle_buffer=4),
                                    skip={0: batches[1]["pos"]})))  # fmt: skip
    assert resumed["keys"] == batches[2]["keys"]


def test_stream_resumes_exactly_where_it_stopped(dataset):
    spec = _spec(dataset)
    it = iter(ShardStream(spec))
    batches = [next(it) for _ in range(5)]
    resumed = next(iter(ShardStream(spec, skip={0: batches[2]["pos"]})))
    assert resumed["keys"] == batches[3]["keys"]
    for b in batches:
        assert b["views"][0].shape == (4, 3, 32, 32) and b["views"][0].dtype.__str__() == "torch.uint8"
        assert all(v.is_contiguous(memory_format=torch.channels_last) for v in b["views"])
        for key in b["keys"]:
            schema.parse_frame_key(key)


def test_corrupt_jpegs_are_skipped_and_counted(corrupt_dataset):
    it = iter(ShardStream(_spec(corrupt_dataset, temporal=False, shuffle_buffer=1)))
    batches = [next(it) for _ in range(4)]  # 16 of the 17 good frames of the first epoch
    assert {e for b in batches for e in b["epochs"]} == {0}
    assert sum(b["skipped"] for b in batches) == 3
    assert all(len(b["keys"]) == 4 for b in batches)


def test_no_shards_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match=r"not a unitscope dataset.*unitscope ingest"):
        shards.list_shards(str(tmp_path))


def test_unreadable_shard_is_counted_and_skipped(tmp_path, dataset):
    broken = tmp_path / "broken.tar"
    broken.write_bytes(b"this is not a tar file" * 100)
    counters: dict[str, int] = {}
    assert list(shards.read_part(shards.ShardPart(str(broken)), 0, counters)) == []
    assert counters["bad_shards"] == 1


def test_truncated_shard_yields_the_frames_before_the_cut(tmp_path, dataset):
    cut = tmp_path / "cut.tar"
    data = (dataset / schema.shard_path(0)).read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    frames = list(shards.read_part(shards.ShardPart(str(cut)), 0, {}))
    whole = list(shards.read_part(shards.ShardPart(str(dataset / schema.shard_path(0))), 0, {}))
    assert 0 < len(frames) < len(whole)


def _children_niceness() -> dict[int, int]:
    """pid -> niceness of this process' live children, from /proc (field 19 of stat)."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == os.getpid():
            out[int(pid)] = int(fields[16])
    return out


def test_loader_workers_run_behind_the_training_process(dataset):
    base, before = os.nice(0), _children_niceness()
    it = iter(make_loader(_spec(dataset), 2, nice=7))
    batch = next(it)
    assert batch["views"][0].shape == (4, 3, 32, 32)
    workers = {p: n for p, n in _children_niceness().items() if p not in before}
    assert sorted(workers.values()) == [min(base + 7, 19)] * 2
    del it


def test_a_cut_shard_keeps_its_frames_before_the_cut(tmp_path, dataset):
    url = shards.list_shards(str(dataset))[0]
    whole = [f.key for f in shards.read_part(shards.ShardPart(url), 0, {})]
    data = Path(url).read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: len(data) // 2 + 100])  # stops inside a member
    counters: dict[str, int] = {}
    kept = [f.key for f in shards.read_part(shards.ShardPart(str(cut)), 0, counters)]
    assert counters["bad_shards"] == 1
    assert 0 < len(kept) < len(whole) and kept == whole[: len(kept)]
