"""The dataset's concept set, streamed from the frames table: the frames it picks, and its memory."""

from __future__ import annotations

import hashlib
from pathlib import Path

import fsspec
import numpy as np
import pytest
from unitscope.pipeline import manifest
from unitscope.pipeline.dataset import Dataset
from unitscope.probe.concepts import dataset_labels, unlabelled_frames
from unitscope.probe.store import ActivationStore

from tests.helpers import peak_allocated
from tests.pipeline.test_manifest_merge import make_parts


def make_probed(root: str, parts: int, rows: int) -> ActivationStore:
    """A dataset of `parts` shards (one labelled video each) and a store with activations of all but one
    shard, missing every 10th frame (frames whose JPEG did not decode)."""
    statuses, the_plan = make_parts(f"{root}/ds", parts, rows)
    manifest.merge(fsspec.filesystem("file"), f"{root}/ds", statuses, the_plan, {})
    store = ActivationStore(f"{root}/run")
    frames = Dataset(f"{root}/ds").frames()
    for shard in range(1, parts):
        keys = frames.filter(frames.column("shard").to_numpy() == shard).column("key").to_pylist()
        kept = [k for i, k in enumerate(keys) if i % 10]
        store.write_chunk(shard, kept, {"trained": np.zeros((len(kept), 1), np.float16)})
    return store


def reference(root: str, store: ActivationStore, max_frames: int, seed: int) -> list[str]:
    """The frames the concept set should hold: stored frames, whole videos in the seeded order while they fit."""
    stored = {k for s in store.shards() for k in store.keys(s)}
    rows = Dataset(f"{root}/ds").frames().to_pylist()
    rows = [r for r in rows if r["key"] in stored]
    if len(rows) <= max_frames:
        return [r["key"] for r in rows]
    count: dict[str, int] = {}
    for r in rows:
        count[r["video_id"]] = count.get(r["video_id"], 0) + 1
    kept, n = set(), 0
    for v in sorted(count, key=lambda v: hashlib.sha1(f"cap{seed}:{v}".encode()).hexdigest()):
        if n + count[v] > max_frames and kept:
            break
        kept.add(v)
        n += count[v]
    return [r["key"] for r in rows if r["video_id"] in kept]


@pytest.mark.parametrize("max_frames", [1000, 100, 10])
def test_dataset_labels_pick_stored_frames_of_whole_videos(tmp_path, max_frames):
    store = make_probed(str(tmp_path), 6, 40)
    got = dataset_labels(f"{tmp_path}/ds", store, max_frames, seed=3)
    want = reference(str(tmp_path), store, max_frames, seed=3)
    assert got.items == want and len(want) <= max(max_frames, 36)
    assert got.groups == [k.split("-")[0] for k in want]
    assert got.labels["face"].tolist() == [int(k.split("-")[1]) % 3 != 0 for k in want]
    assert unlabelled_frames(store, max_frames, seed=3).items == want


def labels_peak(root: Path, parts: int) -> int:
    """Peak bytes held while making the concept set (1,000 frames at most) of `parts` x 2,000 frames."""
    make_probed(str(root), parts, 2000)
    setup = f"from probe.concepts import dataset_labels\nfrom probe.store import ActivationStore\nroot = {str(root)!r}"
    return peak_allocated(
        setup,
        "assert len(dataset_labels(root + '/ds', ActivationStore(root + '/run'), 1000, 0).items) == 1800",
    )


def test_the_concept_set_of_many_frames_holds_what_it_keeps(tmp_path):
    """From 30,000 to 300,000 frames (1,800 kept) the peak stays put: a batch and what is kept, where a
    Python row per frame of the table and a set of every stored key took ~300 bytes a frame."""
    small, big = labels_peak(tmp_path / "a", 15), labels_peak(tmp_path / "b", 150)
    assert big - small < 2**20, (small, big)
