"""The query server's frame index: the probe's index file searched in blocks, its rows named through the
served dataset's frame lookup."""

from __future__ import annotations

import threading

import faiss
import numpy as np
import pyarrow as pa
import pytest
from unitscope.pipeline.frame_lookup import FrameLookup
from unitscope.probe import frame_index
from unitscope.probe.query.errors import NotFound
from unitscope.probe.query.neighbors import BLAS_FROM_QUERIES, FrameIndex

from tests.probe.test_frame_index import chunks
from unitscope.core.errors import InputError


@pytest.fixture()
def index(tmp_path):
    """An index of 3 x 40 frames over a dataset that holds them and 20 others, in another order."""
    made = list(chunks(3, 40, 16))
    frame_index.write(str(tmp_path), made)
    keys = [k for ks, _ in made for k in ks] + [f"{9:016x}-{i:07d}" for i in range(20)]
    order = np.random.default_rng(2).permutation(len(keys))
    dataset = FrameLookup.from_batches([pa.record_batch({"key": [keys[i] for i in order]})], len(keys), {})
    return FrameIndex(str(tmp_path), dataset, threads=1), [k for ks, _ in made for k in ks]


def test_rows_are_named_by_the_dataset_and_a_frame_finds_its_neighbours(index):
    idx, keys = index
    assert [k for k, *_ in idx.search(idx.index.reconstruct(7)[None], 1)[0]] == [keys[7]]
    got = idx.neighbors([keys[7]], 5)[0]
    assert len(got) == 5 and keys[7] not in [k for k, *_ in got]
    with pytest.raises(NotFound):
        idx.neighbors([f"{9:016x}-{0:07d}"], 3)[0]  # in the dataset, not in the index


def test_each_hit_carries_the_dataset_row_of_its_key(index):
    """The rows a search hands on (so that answers need no lookup by key) are the dataset's own: the
    dataset holds the frames in another order than the index, so index rows would not match."""
    idx, keys = index
    hits = idx.search(np.stack([idx.index.reconstruct(i) for i in (3, 50, 119)]), 4)
    assert [h[0][0] for h in hits] == [keys[3], keys[50], keys[119]]
    for key, _, row in [h for hs in hits for h in hs] + idx.neighbors([keys[50]], 4)[0]:
        assert row == idx.frames.row(key) and idx.frames.keys_at(np.array([row])) == [key]


def test_a_batched_search_finds_what_single_searches_do(index):
    """A batch of queries (one BLAS product) and the same queries one by one (FAISS's scan) agree."""
    idx, _ = index
    vecs = np.stack([idx.index.reconstruct(i) for i in range(BLAS_FROM_QUERIES + 4)])
    vecs += np.random.default_rng(0).normal(0, 0.05, vecs.shape).astype(np.float32)
    batched = idx.search(vecs, 5)
    for i, hits in enumerate(batched):
        single = idx.search(vecs[i : i + 1], 5)[0]
        assert [k for k, *_ in hits] == [k for k, *_ in single]
        assert [s for _, s, _ in hits] == pytest.approx([s for _, s, _ in single], abs=1e-5)


def test_search_threads_hold_in_the_worker_thread_that_searches(index):
    """OpenMP keeps its thread count per calling thread; the index sets it in whichever thread searches."""
    idx, _ = index
    seen = []

    def search():
        idx.search(idx.index.reconstruct(0)[None], 3)
        seen.append(faiss.omp_get_max_threads())

    worker = threading.Thread(target=search)
    worker.start()
    worker.join()
    assert seen == [1]


def test_an_index_over_frames_the_dataset_lacks_is_refused(tmp_path):
    frame_index.write(str(tmp_path), chunks(1, 5, 8))
    other = FrameLookup.from_batches([pa.record_batch({"key": ["0000000000000000-0000009"]})], 1, {})
    with pytest.raises(InputError, match="--dataset"):
        FrameIndex(str(tmp_path), other)
    with pytest.raises(InputError, match="no frame index"):
        FrameIndex(str(tmp_path / "elsewhere"), other)


@pytest.mark.parametrize("order", ["manifest", "first_batches_then_shuffled"])
def test_an_index_in_manifest_order_needs_no_row_maps_and_answers_as_one_with_them(tmp_path, order):
    """The probe writes the index in the manifest's order: rows then map to themselves and no map of
    4 bytes a frame each way is built; an index whose order departs after a while still gets its maps."""
    made = list(chunks(3, 40, 16))
    frame_index.write(str(tmp_path), made)
    keys = [k for ks, _ in made for k in ks]
    manifest = keys + [f"{9:016x}-{i:07d}" for i in range(20)]  # the dataset holds more frames
    if order != "manifest":
        manifest = keys[:40] + list(np.random.default_rng(3).permutation(manifest[40:]))
    lookup = FrameLookup.from_batches(
        [pa.record_batch({"key": manifest[i : i + 30]}) for i in range(0, len(manifest), 30)],
        len(manifest),
        {},
    )
    idx = FrameIndex(str(tmp_path), lookup, threads=1)
    assert (idx.index_row is None) == (order == "manifest")
    for row in (0, 39, 41, 119):
        hits = idx.search(idx.index.reconstruct(row)[None], 1)[0]
        assert [k for k, *_ in hits] == [keys[row]]
        assert keys[row] not in [k for k, *_ in idx.neighbors([keys[row]], 3)[0]]
    with pytest.raises(NotFound):
        idx.neighbors([f"{9:016x}-{0:07d}"], 3)[0]  # in the dataset, past the index's rows
