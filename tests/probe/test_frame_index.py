"""The frame index: written a chunk at a time as a real FAISS file, searched a block at a time from it."""

from __future__ import annotations

import sys

import faiss
import numpy as np
import pyarrow.parquet as pq
import pytest
from unitscope.probe import frame_index
from unitscope.probe.catalog import FRAME_INDEX, FRAME_INDEX_KEYS

from tests.helpers import peak_rss_growth


def chunks(n_chunks: int, rows: int, dim: int, seed: int = 0):
    """(keys, embeddings) chunks as the activation store yields them, made on the fly."""
    rng = np.random.default_rng(seed)
    for c in range(n_chunks):
        keys = [f"{c:016x}-{i:07d}" for i in range(rows)]
        yield keys, rng.normal(size=(rows, dim)).astype(np.float32)


def test_the_file_is_a_faiss_index_and_the_scan_finds_what_faiss_does(tmp_path, monkeypatch):
    run = str(tmp_path)
    assert frame_index.write(run, chunks(7, 300, 24)) == 2100
    index = faiss.read_index(str(tmp_path / FRAME_INDEX))
    keys = pq.read_table(tmp_path / FRAME_INDEX_KEYS).column("key").to_pylist()
    assert index.ntotal == len(keys) == 2100 and index.metric_type == faiss.METRIC_INNER_PRODUCT
    monkeypatch.setattr(frame_index, "BLOCK_BYTES", 4 * 24 * 500)  # blocks of 500 rows: the last one short
    flat = frame_index.FlatFile(run)
    queries = np.random.default_rng(1).normal(size=(40, 24)).astype(np.float32)
    scores, rows = flat.search(queries, 10)
    normed = queries.copy()
    faiss.normalize_L2(normed)
    want_scores, want_rows = index.search(normed, 10)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5)
    np.testing.assert_array_equal(flat.reconstruct(1234), index.reconstruct(1234))
    assert frame_index.nearest(run, index.reconstruct(5)[None], 1) == [[keys[5]]]
    assert frame_index.keys_at(run, [2099, 0]) == {0: keys[0], 2099: keys[2099]}


def test_more_results_than_frames_are_padded_with_minus_one(tmp_path):
    frame_index.write(str(tmp_path), chunks(1, 3, 8))
    _, rows = frame_index.FlatFile(str(tmp_path)).search(np.ones((2, 8), np.float32), 5)
    assert sorted(rows[0][:3]) == [0, 1, 2] and rows[0][3:].tolist() == [-1, -1]


def test_no_embeddings_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no frame embeddings"):
        frame_index.write(str(tmp_path), [])
    assert not (tmp_path / FRAME_INDEX).exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_writing_and_searching_hold_a_chunk_and_a_block(tmp_path):
    """200 chunks of 1,000 x 64: an index of 51 MB, written and searched with a peak of a few MB (after a
    small index was written and searched, so the libraries' code that loads is not counted)."""
    setup = (
        "import numpy as np\nfrom probe import frame_index\n"
        "from tests.probe.test_frame_index import chunks\n"
        f"frame_index.write({str(tmp_path / 'small')!r}, chunks(2, 100, 64))\n"
        f"frame_index.FlatFile({str(tmp_path / 'small')!r}).search(np.ones((32, 64), np.float32), 10)\n"
        f"run = {str(tmp_path / 'big')!r}\n"
    )
    assert peak_rss_growth(setup, "frame_index.write(run, chunks(200, 1000, 64))") < 24 * 2**20
    search = "frame_index.FlatFile(run).search(np.ones((32, 64), np.float32), 10)"
    assert peak_rss_growth(setup, search) < 24 * 2**20
