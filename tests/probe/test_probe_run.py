"""End to end on a tiny dataset and run: activations on Ray, catalogue, units table, frame index, report."""

import json
import os
from pathlib import Path

import faiss
import numpy as np
import pyarrow.parquet as pq
import pytest
from unitscope.probe import frame_index
from unitscope.probe.catalog import (
    CATALOG_SCHEMA,
    CATALOG_TABLE,
    FRAME_INDEX,
    FRAME_INDEX_KEYS,
    PROBE_JSON,
    REPORT_HTML,
    UNITS_SCHEMA,
    UNITS_TABLE,
    read_table,
)
from unitscope.probe.config import ProbeConfig
from unitscope.probe.probe import run
from unitscope.probe.store import ActivationStore

from tests.probe.tiny_dataset import write_dataset, write_run


@pytest.fixture(scope="module")
def probed(tmp_path_factory, ray_local):
    root = tmp_path_factory.mktemp("probe")
    ds = write_dataset(root / "ds")
    r = write_run(root / "run")
    cfg = ProbeConfig(run=str(r), dataset=str(ds), permutations=49, min_examples=3, batch_size=16)
    return cfg, run(cfg)


def test_outputs(probed):
    cfg, result = probed
    cat = read_table(f"{cfg.run}/{CATALOG_TABLE}")
    assert cat.schema == CATALOG_SCHEMA
    units = read_table(f"{cfg.run}/{UNITS_TABLE}")
    assert units.schema == UNITS_SCHEMA and units.num_rows == result.units == 8 + 16 + 32
    assert result.frames == 120 and not result.failed_shards
    best = [r for r in cat.to_pylist() if r["rank"] == 1]
    assert [(r["concept"], r["label_source"]) for r in best] == [("disk", "dataset")]
    b = best[0]
    assert b["n_select_pos"] + b["n_select_neg"] + b["n_eval_pos"] + b["n_eval_neg"] == 120
    assert b["auc"] > 0.8 and 0 < b["p_value"] <= 1 and b["random_unit"]
    assert len(b["top_keys"]) == cfg.top_frames
    # localization against the disks' boxes, beside the centre prior and the random control
    assert 0 < b["loc_frames"] <= cfg.localize_frames
    for k in ("pointing", "iou", "centre_pointing", "centre_iou", "random_pointing", "random_iou"):
        assert 0 <= b[k] <= 1, k
    assert b["chance"] == max(b["n_eval_pos"], b["n_eval_neg"]) / (b["n_eval_pos"] + b["n_eval_neg"])
    rows = [r for r in cat.to_pylist() if r["concept"] == "disk"]
    assert len({r["unit"] for r in rows}) == len(rows)  # one row per distinct unit
    info = json.loads(Path(cfg.run, PROBE_JSON).read_text())
    assert info["pool"] == "max" and info["index"]["dataset"]["trained"]["kind"] == "flat"
    assert info["frame_index"] == {"kind": "exact", "frames": 120}  # below `ivf_from`: the exact file
    html = Path(cfg.run, REPORT_HTML).read_text()
    assert html.count("data:image/jpeg;base64,") >= 16 and "<svg" in html and "random weights" in html
    # every shown top frame is an overlay marked with whether it carries the concept
    assert html.count('data-label="1"') + html.count('data-label="0"') == html.count("data:image/jpeg")
    assert "pointing" in html and "centre prior" in html


def test_frame_index_and_rerun_skips(probed):
    cfg, result = probed
    index = faiss.read_index(str(Path(cfg.run, FRAME_INDEX)))  # a FAISS file, though written in chunks
    keys = pq.read_table(Path(cfg.run, FRAME_INDEX_KEYS)).column("key").to_pylist()
    assert index.ntotal == len(keys) == result.frames and index.metric_type == faiss.METRIC_INNER_PRODUCT
    v = index.reconstruct(5).reshape(1, -1)
    assert np.array_equal(v[0], frame_index.FlatFile(cfg.run).reconstruct(5))
    assert frame_index.nearest(cfg.run, v, 1)[0] == [keys[5]]
    store = ActivationStore(cfg.run)
    before = {s: store.chunk("trained", s) for s in store.shards()}
    again = run(cfg)
    assert again.table == result.table
    for s, a in before.items():
        np.testing.assert_array_equal(store.chunk("trained", s), a)


def _images(root, name, n, disk, seed):
    from tests.probe.tiny_dataset import frame

    rng = np.random.default_rng(seed)
    (root / name).mkdir(parents=True)
    for i in range(n):
        (root / name / f"{i}.jpg").write_bytes(frame(rng, 48, disk))


def test_folder_and_exemplar_concepts(probed, tmp_path):
    cfg, _ = probed
    _images(tmp_path / "concepts", "disk", 12, True, 1)
    _images(tmp_path / "concepts", "none", 12, False, 2)
    (tmp_path / "concepts" / "disk" / "bad.jpg").write_bytes(b"not an image")
    _images(tmp_path / "exemplars", "disk", 3, True, 3)
    cfg2 = cfg.model_copy(
        update={
            "concepts": str(tmp_path / "concepts"),
            "exemplars": str(tmp_path / "exemplars"),
            "exemplar_k": 10,
        }
    )
    result = run(cfg2)
    assert result.unreadable_images == [str(tmp_path / "concepts" / "disk" / "bad.jpg")]
    best = {r["label_source"]: r for r in result.table}
    assert set(best) == {"dataset", "folder", "exemplars"}
    assert best["folder"]["n_select_pos"] + best["folder"]["n_eval_pos"] == 12
    assert best["folder"]["auc"] > 0.8  # a bright disk: even these random-looking filters see it
    assert 10 <= best["exemplars"]["n_select_pos"] + best["exemplars"]["n_eval_pos"] <= 30


def test_stored_activations_are_tied_to_encoder_and_dataset(probed):
    from unitscope.probe.encoders import fingerprint

    cfg, _ = probed
    base = fingerprint(cfg.run, cfg.dataset, ["a"], ["conv1"], "max", 0)
    assert base == fingerprint(cfg.run, cfg.dataset + "/", ["a"], ["conv1"], "max", 0)
    others = [
        fingerprint(cfg.run, "/elsewhere", ["a"], ["conv1"], "max", 0),
        fingerprint(cfg.run, cfg.dataset, ["b"], ["conv1"], "max", 0),
        fingerprint(cfg.run, cfg.dataset, ["a"], ["conv2"], "max", 0),
        fingerprint(cfg.run, cfg.dataset, ["a"], ["conv1"], "mean", 0),
    ]
    assert base not in others and len(set(others)) == 4


def test_stored_activations_are_keyed_by_the_encoders_content_not_its_size_and_time(tmp_path):
    from unitscope.probe.encoders import fingerprint

    run_dir = write_run(tmp_path / "run", seed=1)
    weights = run_dir / "encoder.pt"
    stat = weights.stat()
    before = fingerprint(str(run_dir), "/ds", ["a"], ["conv1"], "max", 0)
    other = write_run(tmp_path / "other", seed=2) / "encoder.pt"
    assert other.stat().st_size == stat.st_size and other.read_bytes() != weights.read_bytes()
    weights.write_bytes(other.read_bytes())  # another encoder of the same size, times kept (e.g. `cp -p`)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert fingerprint(str(run_dir), "/ds", ["a"], ["conv1"], "max", 0) != before


def test_in_process_executor_matches_ray_and_bad_shard_is_a_row(probed, tmp_path):
    import shutil

    from unitscope.probe.activations import ActivationTask, EncodeSpec, compute

    cfg, _ = probed
    ds = tmp_path / "ds"
    shutil.copytree(cfg.dataset, ds)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("encoder.pt", "encoder.json"):
        shutil.copy(Path(cfg.run, name), run_dir / name)
    ray_store = ActivationStore(cfg.run)
    local = ActivationStore(str(run_dir))

    enc = EncodeSpec(str(run_dir), ("conv1", "conv2", "conv3"), "max", cfg.seed, True, 16)
    shard1 = ds / "shards" / "frames-000001.tar"
    shard1.write_bytes(shard1.read_bytes()[:700])  # cut inside the first member
    statuses = compute([ActivationTask(enc, 0, str(ds / "shards/frames-000000.tar")), ActivationTask(enc, 1, str(shard1))],
                       use_ray=False)  # fmt: skip
    assert [s.status for s in statuses] == ["ok", "failed"] and "frames-000001.tar" in statuses[1].error
    assert local.keys(0) == ray_store.keys(0)
    for kind in ("trained", "random", "embeddings"):
        np.testing.assert_allclose(local.chunk(kind, 0), ray_store.chunk(kind, 0), rtol=1e-3, atol=1e-3)
    assert not local.has_chunk(1)


def test_unknown_layer_and_missing_dataset_are_clear_errors(probed, tmp_path):
    from unitscope.core.errors import ConfigError, InputError

    cfg, _ = probed
    with pytest.raises(ConfigError, match=r"unknown layer\(s\) \['conv9'\].*conv1"):
        run(cfg.model_copy(update={"layers": ["conv9"]}))
    with pytest.raises(InputError, match="not a unitscope dataset"):
        run(cfg.model_copy(update={"dataset": str(tmp_path / "nothing")}))
