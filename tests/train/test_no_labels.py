"""Training never reads labels: a dataset whose every label is changed gives the trainer the same input.

The labelled dataset is a real planted-concept corpus (label sidecars) ingested as usual: labels reach the
shards' `.json` members (`labels`, `objects`) and the `labels` column of manifest/frames.parquet. On a copy
with every label replaced, the gradient objectives' stream yields bit-identical batches (their CPU steps
are not bitwise reproducible run to run, so the weights are not compared), and the K-means fit, which is
deterministic, gives a bit-identical encoder.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import webdataset as wds
from unitscope.pipeline import schema
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.ingest import run as ingest
from unitscope.pipeline.synth import SynthConfig
from unitscope.pipeline.synth import run as synth
from unitscope.train.config import TrainConfig
from unitscope.train.model_io import load_encoder
from unitscope.train.shards import list_shards
from unitscope.train.stream import make_loader
from unitscope.train.train import run as train
from unitscope.train.worker import stream_spec

KMEANS = {"steps": 3, "width": 16, "kmeans_frames": 40, "patches_per_scale": 4, "patch_size": 6}


@pytest.fixture(scope="module")
def labelled_pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("labels")
    synth(SynthConfig(out=str(root / "videos"), videos=3, seconds=3.0, fps=5, size=64, workers=0))
    ds = root / "labelled"
    ingest(IngestConfig(src=str(root / "videos"), out=str(ds), fps=0, size=32, shard_frames=20, workers=0,
                        progress=False))  # fmt: skip
    frames = pq.read_table(ds / schema.FRAMES_TABLE)
    assert sum(map(len, frames.column("labels").to_pylist())) > 0, "the corpus must carry labels"
    relabelled = root / "relabelled"
    shutil.copytree(ds, relabelled)
    for tar in sorted((relabelled / schema.SHARDS_DIR).glob("*.tar")):
        with tar.open("rb") as f:
            members = list(wds.tariterators.tar_file_iterator(f))
        buf = io.BytesIO()
        with wds.TarWriter(buf, encoder=False) as w:
            for m in members:
                key, ext = m["fname"].split(".", 1)
                data = m["data"]
                if ext == "json":
                    meta = json.loads(data)
                    meta["labels"], meta["objects"] = ["wheel"], [{"concept": "wheel", "box": [0, 0, 9, 9]}]
                    data = json.dumps(meta).encode()
                w.write({"__key__": key, ext: data})
        tar.write_bytes(buf.getvalue())
    # the relabelled shards are recorded as written, so integrity checks see them as whole
    shards = pq.read_table(relabelled / schema.SHARDS_TABLE).to_pylist()
    for row in shards:
        data = (relabelled / row["path"]).read_bytes()
        row["bytes"], row["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    pq.write_table(
        pa.Table.from_pylist(shards, schema=schema.SHARDS_SCHEMA), relabelled / schema.SHARDS_TABLE
    )
    changed = frames.set_column(
        frames.schema.get_field_index("labels"),
        "labels",
        pa.array([["cat"]] * len(frames), pa.list_(pa.string())),
    )
    pq.write_table(changed, relabelled / schema.FRAMES_TABLE)
    return ds, relabelled


@pytest.mark.parametrize("objective", ["temporal", "sparse"])
def test_the_training_stream_ignores_every_label(labelled_pair, objective, tmp_path):
    batches = []
    for ds in labelled_pair:
        cfg = TrainConfig(dataset=str(ds), run=str(tmp_path / ds.name), objective=objective, workers=0,
                          input_size=32, batch_size=8, shuffle_buffer=8, pair_max_gap_s=1.0, video_group=2)  # fmt: skip
        loader = iter(make_loader(stream_spec(cfg, list_shards(cfg.dataset), 0, 1, cfg.seed), 0))
        batches.append([next(loader) for _ in range(6)])
    for a, b in zip(*batches, strict=True):
        assert a["keys"] == b["keys"]
        assert all(torch.equal(x, y) for x, y in zip(a["views"], b["views"], strict=True))


def test_kmeans_fit_ignores_every_label(labelled_pair, tmp_path):
    states = []
    for ds in labelled_pair:
        cfg = TrainConfig(dataset=str(ds), run=str(tmp_path / ds.name), objective="kmeans", workers=0,
                          input_size=32, **KMEANS)  # fmt: skip
        train(cfg)
        states.append(load_encoder(cfg.run).state_dict())
    a, b = states
    assert a.keys() == b.keys() and "centroids" in a
    assert all(torch.equal(a[k], b[k]) for k in a)
