"""The activation store round trip and the per-unit statistics streamed from it."""

import numpy as np
import pytest
from unitscope.probe.catalog import UNITS_SCHEMA, read_table, write_table
from unitscope.probe.store import ActivationStore, StoreMeta
from unitscope.probe.units import TopK, column_top, unit_rows


@pytest.fixture()
def store(tmp_path):
    rng = np.random.default_rng(0)
    s = ActivationStore(str(tmp_path / "run"))
    data = {}
    for shard, n in ((0, 30), (2, 25)):
        keys = [f"{shard:016x}-{i:07d}" for i in range(n)]
        acts = rng.gamma(2.0, size=(n, 6)).astype(np.float16)
        s.write_chunk(
            shard, keys, {"trained": acts, "random": -acts, "embeddings": rng.random((n, 4), np.float32)}
        )
        data.update(zip(keys, acts, strict=True))
    s.write_meta(StoreMeta(["conv1", "conv2"], [2, 4], "max", "abc"))
    return s, data


def test_round_trip(store):
    s, data = store
    assert s.shards() == [0, 2] and s.has_chunk(2) and not s.has_chunk(1)
    assert s.read_meta().units == [("conv1", 0), ("conv1", 1), *[("conv2", c) for c in range(4)]]
    want = ["0000000000000002-0000003", "0000000000000000-0000007"]
    np.testing.assert_array_equal(s.gather("trained", want), np.stack([data[k] for k in want]))
    with pytest.raises(KeyError, match="1 of 1"):
        s.gather("trained", ["nope"])
    assert not s.reset_if_stale("abc") and s.shards()
    assert s.reset_if_stale("other") and s.shards() == []


def test_a_chunk_committed_anew_by_another_process_is_read_anew(store):
    s, _ = store
    reader = ActivationStore(s.url.rsplit("/probe/", 1)[0])
    assert reader.keys(2)[0] == "0000000000000002-0000000"  # its keys table is now the one remembered
    new = np.ones((3, 6), np.float16)
    s.write_chunk(2, ["a", "b", "c"], {"trained": new, "random": new, "embeddings": new})  # "another" writer
    assert reader.keys(2) == ["a", "b", "c"]
    np.testing.assert_array_equal(reader.chunk("trained", 2), new)  # checked against the new digest


def test_unit_rows_match_numpy(store, tmp_path):
    s, data = store
    keys = list(data)
    a = np.stack([data[k] for k in keys]).astype(np.float64)
    rows = unit_rows(s, s.read_meta().units, top_k=5, bins=7)
    assert [r["unit"] for r in rows][:3] == ["conv1/0", "conv1/1", "conv2/0"]
    for j, r in enumerate(rows):
        assert r["mean"] == pytest.approx(a[:, j].mean()) and r["std"] == pytest.approx(a[:, j].std())
        assert r["top_values"] == pytest.approx(sorted(a[:, j], reverse=True)[:5])
        assert [data[k][j] for k in r["top_keys"]] == pytest.approx(r["top_values"])
        assert sum(r["hist_counts"]) == len(keys) and len(r["hist_edges"]) == 8
        assert r["hist_edges"][0] == pytest.approx(a[:, j].min()) and r["hist_edges"][-1] == pytest.approx(
            a[:, j].max()
        )
    assert column_top(s, "random", [1], 3)[0] == [keys[i] for i in np.argsort(a[:, 1], kind="stable")[:3]]
    url = str(tmp_path / "units.parquet")
    write_table(url, rows, UNITS_SCHEMA)
    assert read_table(url).schema == UNITS_SCHEMA and read_table(url).num_rows == 6


@pytest.mark.slow
def test_round_trip_on_s3(s3_server):
    from unitscope.core import storage

    fs, _ = storage.url_to_fs("s3://probe-store")
    fs.mkdir("probe-store")
    s = ActivationStore("s3://probe-store/run")
    acts = np.arange(12, dtype=np.float16).reshape(4, 3)
    s.write_chunk(7, ["a", "b", "c", "d"], {"trained": acts})
    s.write_meta(StoreMeta(["conv1"], [3], "max", "f"))
    assert s.shards() == [7] and s.keys(7) == ["a", "b", "c", "d"] and s.read_meta().channels == [3]
    np.testing.assert_array_equal(s.gather("trained", ["d", "a"]), acts[[3, 0]])
    rows = unit_rows(s, s.read_meta().units, top_k=2, bins=3)
    assert rows[2]["top_keys"] == ["d", "c"] and sum(rows[0]["hist_counts"]) == 4


def test_top_k_keeps_only_the_keys_it_points_at():
    """A running top-k over 50 chunks holds at most k x columns keys, not every key it was shown."""
    rng = np.random.default_rng(3)
    top = TopK(4, 3)
    seen_keys, seen = [], []
    for c in range(50):
        keys = [f"{c:016x}-{i:07d}" for i in range(20)]
        values = rng.normal(size=(20, 4)).astype(np.float32)
        top.update(values, keys)
        seen_keys += keys
        seen.append(values)
        assert len(top.keys) <= 3 * 4
    values, keys = top.sorted()
    everything = np.concatenate(seen)
    for col in range(4):
        best = np.argsort(-everything[:, col], kind="stable")[:3]
        assert keys[col] == [seen_keys[i] for i in best]
        np.testing.assert_array_equal(values[:, col], everything[best, col])
