"""The approximate frame index: IVF over the flat file, re-ranked exactly; damaged files are clear errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pytest
from unitscope.pipeline.frame_lookup import FrameLookup
from unitscope.probe import frame_index, ivf_index
from unitscope.probe.catalog import PROBE_JSON
from unitscope.probe.ivf_index import FRAME_IVF, FRAME_IVF_DATA, IvfFile
from unitscope.probe.query.neighbors import FrameIndex, open_index

from unitscope.core import storage
from unitscope.core.errors import InputError

DIM, CLUSTERS = 32, 40


def clustered(n_chunks: int, rows: int, seed: int = 0):
    """(keys, embeddings) chunks drawn around a few centres, each cluster stretched along its own axes."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLUSTERS, DIM))
    axes = rng.normal(size=(CLUSTERS, 4, DIM)) * 0.3
    for c in range(n_chunks):
        which = rng.integers(0, CLUSTERS, rows)
        emb = centres[which] + np.einsum("nk,nkd->nd", rng.normal(size=(rows, 4)), axes[which])
        emb += rng.normal(0, 0.05, emb.shape)
        yield [f"{c:016x}-{i:07d}" for i in range(rows)], emb.astype(np.float32)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run of 8,000 clustered frames with an exact flat file and an SQ8 IVF index of 32 lists."""
    root = tmp_path_factory.mktemp("run")
    made = list(clustered(4, 2000))
    frame_index.write(str(root), made)
    params = ivf_index.choose(8000, "sq8")
    params.nlist, params.nprobe = 32, 4
    info = ivf_index.build(str(root), params)
    digest = storage.file_sha256(str(root / frame_index.FRAME_INDEX))  # what the probe records
    (root / PROBE_JSON).write_text(json.dumps({"frame_index_sha256": digest}))
    keys = [k for ks, _ in made for k in ks]
    return root, keys, info


def queries(n: int = 60) -> np.ndarray:
    return next(clustered(1, n, seed=7))[1]


def test_at_full_nprobe_the_ivf_index_answers_exactly(run):
    root, _, info = run
    assert info["kind"] == "ivf" and info["frames"] == 8000 and info["nlist"] == 32
    assert info["bytes"][FRAME_IVF_DATA] == 8000 * (DIM + 8)  # a byte a dimension and the row: no slack
    exact = frame_index.FlatFile(str(root))
    ivf = IvfFile(str(root), ivf_index.read_meta(str(root)), exact, nprobe=32)
    want_scores, want_rows = exact.search(queries(), 10)
    scores, rows = ivf.search(queries(), 10)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5)


def test_fewer_lists_probed_find_fewer_of_the_exact_neighbours_but_score_them_exactly(run):
    root, _, _ = run
    exact = frame_index.FlatFile(str(root))
    ivf = IvfFile(str(root), ivf_index.read_meta(str(root)), exact, nprobe=1)
    _, want = exact.search(queries(), 10)
    scores, rows = ivf.search(queries(), 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, want, strict=True)])
    assert 0.2 < recall < 1.0
    normed = queries() / np.linalg.norm(queries(), axis=1, keepdims=True)
    for q, rs, ss in zip(normed, rows, scores, strict=True):
        np.testing.assert_allclose(ss[rs >= 0], exact.rows(rs[rs >= 0]) @ q, rtol=1e-5)


def test_the_query_layer_serves_the_ivf_index_with_its_keys(run):
    root, keys, _ = run
    dataset = FrameLookup.from_batches([pa.record_batch({"key": keys})], len(keys), {})
    idx = FrameIndex(str(root), dataset, threads=1, nprobe=32)
    assert isinstance(idx.index, IvfFile) and idx.index.nprobe == 32
    assert FrameIndex(str(root), dataset, threads=1).index.nprobe == 4  # the build's default
    assert [k for k, *_ in idx.search(idx.index.reconstruct(123)[None], 1)[0]] == [keys[123]]
    assert keys[123] not in [k for k, *_ in idx.neighbors([keys[123]], 5)[0]]


def test_an_exact_run_loads_the_flat_file_and_a_rebuild_as_exact_drops_the_ivf_files(tmp_path):
    frame_index.write(str(tmp_path), clustered(1, 3000))
    params = ivf_index.choose(3000, "sq8")
    params.nlist = 16
    ivf_index.build(str(tmp_path), params)
    assert isinstance(open_index(str(tmp_path)), IvfFile)
    ivf_index.remove(str(tmp_path))
    assert not (tmp_path / FRAME_IVF).exists() and not (tmp_path / FRAME_IVF_DATA).exists()
    assert isinstance(open_index(str(tmp_path)), frame_index.FlatFile)


def _damaged(tmp_path, run, name: str, how: str):
    root, _, _ = run
    copy = tmp_path / "run"
    shutil.copytree(root, copy)
    path = copy / name
    data = bytearray(path.read_bytes())
    if how == "truncate":
        data = data[: len(data) // 2]
    elif how == "flip":  # one bit of the last stored value: sizes and headers stay right
        data[-1] ^= 1
    else:
        mid = len(data) // 2
        data[mid : mid + 64] = bytes(64)  # zeros where FAISS's own fields or vectors were
        data[mid + 64 : mid + 128] = b"\xff" * 64
    path.write_bytes(bytes(data))
    return copy


@pytest.mark.parametrize(
    "name,how",
    [
        (FRAME_IVF, "truncate"),
        (FRAME_IVF, "corrupt"),
        (FRAME_IVF_DATA, "truncate"),
        (FRAME_IVF_DATA, "flip"),
        (frame_index.FRAME_INDEX, "truncate"),
        (frame_index.FRAME_INDEX, "flip"),
        (frame_index.FRAME_INDEX, "header"),
    ],
)
def test_a_damaged_index_file_is_an_error_that_names_the_run_and_the_rebuild(tmp_path, run, name, how):
    copy = _damaged(tmp_path, run, name, how)
    if how == "header":
        data = bytearray((copy / name).read_bytes())
        data[:4] = b"XXXX"
        (copy / name).write_bytes(bytes(data))
    with pytest.raises(InputError) as err:
        open_index(str(copy), dataset_url="/data/set")
    msg = str(err.value)
    assert str(copy) in msg and f"unitscope probe {copy} /data/set --frame-index ivf" in msg
    assert name in msg


def test_damaged_lists_of_an_older_record_never_give_a_wrong_score(tmp_path, run):
    """An IVF record written before the lists' digest was: damage there may lose neighbours, but every
    answer is a real frame with its exact score."""
    copy = _damaged(tmp_path, run, FRAME_IVF_DATA, "corrupt")
    meta = json.loads((copy / ivf_index.FRAME_IVF_META).read_text())
    del meta["sha256_data"]
    (copy / ivf_index.FRAME_IVF_META).write_text(json.dumps(meta))
    exact = frame_index.FlatFile(str(copy))
    ivf = open_index(str(copy))
    normed = queries() / np.linalg.norm(queries(), axis=1, keepdims=True)
    scores, rows = ivf.search(queries(), 10)
    assert ((rows >= -1) & (rows < exact.ntotal)).all()
    for q, rs, ss in zip(normed, rows, scores, strict=True):
        np.testing.assert_allclose(ss[rs >= 0], exact.rows(rs[rs >= 0]) @ q, rtol=1e-5)


@pytest.mark.slow
def test_the_probe_builds_ivf_from_its_threshold_and_records_it(tmp_path):
    from unitscope.probe.config import ProbeConfig
    from unitscope.probe.probe import build_frame_index

    run_url = str(tmp_path)
    frame_index.write(run_url, clustered(1, 3000))
    cfg = ProbeConfig(run=run_url, dataset="unused", ivf_from=3000, ivf_codes="sq8")
    info = build_frame_index(cfg, run_url, 3000)
    assert info["kind"] == "ivf" and info["codes"] == "sq8" and info["nlist"] == 256 and info["build_s"] >= 0
    assert isinstance(open_index(run_url), IvfFile)
    assert build_frame_index(cfg.model_copy(update={"ivf_from": 3001}), run_url, 3000)["kind"] == "exact"
    assert isinstance(open_index(run_url), frame_index.FlatFile)
    forced = build_frame_index(
        cfg.model_copy(update={"frame_index": "ivf", "ivf_from": 10**6}), run_url, 3000
    )
    assert forced["kind"] == "ivf"
    exact = build_frame_index(cfg.model_copy(update={"frame_index": "exact", "ivf_from": 1}), run_url, 3000)
    assert exact["kind"] == "exact" and not (tmp_path / FRAME_IVF).exists()
