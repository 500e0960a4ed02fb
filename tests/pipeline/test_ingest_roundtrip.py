"""Ingest round trip: shards written by both executors read back with tar, webdataset and Ray Data,
and agree with the Parquet manifest, dataset.json and the reader API."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import tarfile

import pytest
import webdataset as wds
from PIL import Image
from unitscope.pipeline import schema
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.dataset import Dataset
from unitscope.pipeline.ingest import run

from unitscope.core.errors import InputError

SIZE = 64


@pytest.fixture(scope="module")
def ingested(corpus, tmp_path_factory, ray_local):
    out = tmp_path_factory.mktemp("ds") / "ray"
    result = run(
        IngestConfig(
            src=str(corpus), out=str(out), fps=5, size=SIZE, shard_frames=40, workers=2, progress=False
        )
    )
    return out, result


@pytest.mark.slow
def test_ray_and_in_process_give_identical_shards(ingested, corpus, tmp_path):
    out, result = ingested
    local = run(
        IngestConfig(
            src=str(corpus),
            out=str(tmp_path / "o"),
            fps=5,
            size=SIZE,
            shard_frames=40,
            workers=0,
            progress=False,
        )
    )
    assert result.shards > 1 and result.shards == local.shards
    for i in range(result.shards):
        assert (out / schema.shard_path(i)).read_bytes() == (
            tmp_path / "o" / schema.shard_path(i)
        ).read_bytes()


@pytest.mark.slow
def test_counts_agree_everywhere(ingested):
    out, result = ingested
    ds = Dataset(str(out))
    frames, videos, shards, info = ds.frames(), ds.videos(), ds.shards(), ds.info()
    assert frames.schema.equals(schema.FRAMES_SCHEMA) and videos.schema.equals(schema.VIDEOS_SCHEMA)
    n = frames.num_rows
    assert n == result.frames == info["counts"]["frames"] > 0
    assert sum(videos.column("frames_written").to_pylist()) == n
    assert sum(shards.column("frames").to_pylist()) == n
    assert set(videos.column("status").to_pylist()) == {"ok"}
    assert info["counts"]["videos_ok"] == videos.num_rows == 9
    keys = frames.column("key").to_pylist()
    assert len(set(keys)) == n
    in_tars = []
    for url in ds.shard_urls():
        names = subprocess.run(["tar", "-tf", url], capture_output=True, text=True, check=True).stdout.split()
        assert len(names) == 2 * sum(1 for _ in names if _.endswith(".jpg"))
        in_tars += [nm[: -len(".jpg")] for nm in names if nm.endswith(".jpg")]
    assert sorted(in_tars) == sorted(keys)
    assert all(schema.parse_frame_key(k) for k in keys)


@pytest.mark.slow
def test_webdataset_reads_every_sample_at_size(ingested):
    out, _ = ingested
    ds = Dataset(str(out))
    seen = {}
    for sample in wds.WebDataset(ds.shard_urls(), shardshuffle=False):
        img = Image.open(io.BytesIO(sample["jpg"]))
        img.load()
        assert img.size == (SIZE, SIZE)
        meta = json.loads(sample["json"])
        assert set(meta) == set(schema.FRAME_JSON_FIELDS)
        assert schema.frame_key(meta["video_id"], meta["frame_idx"]) == sample["__key__"]
        seen[sample["__key__"]] = sample["jpg"]
    assert set(seen) == set(ds.frames().column("key").to_pylist())
    # the offset index serves the very same bytes with one ranged read
    for key in list(seen)[::7]:
        assert ds.read_jpeg(key) == seen[key]


@pytest.mark.slow
def test_ray_data_reads_the_shards(ingested):
    import ray

    out, result = ingested
    rows = ray.data.read_webdataset(str(out / schema.SHARDS_DIR)).take_all()
    assert len(rows) == result.frames
    assert {r["__key__"] for r in rows} == set(Dataset(str(out)).frames().column("key").to_pylist())


@pytest.mark.slow
def test_frame_index_and_sampling(ingested, corpus):
    out, _ = ingested
    frames = Dataset(str(out)).frames().to_pylist()
    by_video = {}
    for f in frames:
        by_video.setdefault(f["video_id"], []).append(f)
    h264 = sorted(by_video[schema.video_id("h264.mp4")], key=lambda f: f["frame_idx"])
    # 20 frames at 10 fps sampled at 5 fps: every second source frame
    assert [f["frame_idx"] for f in h264] == list(range(0, 20, 2))
    assert [round(f["pts"], 3) for f in h264] == [round(i / 10, 3) for i in range(0, 20, 2)]
    # a clip shorter than one sample interval still gives its first frame
    assert [f["frame_idx"] for f in by_video[schema.video_id("short.mp4")]][:1] == [0]
    # variable frame rate: samples at least 0.2 s apart, indices count source frames
    vfr = sorted(by_video[schema.video_id("vfr.mkv")], key=lambda f: f["frame_idx"])
    gaps = [b["pts"] - a["pts"] for a, b in itertools.pairwise(vfr)]
    assert min(gaps) >= 0.2 - 1e-6 and vfr[-1]["frame_idx"] <= 29


def test_reader_rejects_a_non_dataset(tmp_path):
    with pytest.raises(InputError, match="not a unitscope dataset"):
        Dataset(str(tmp_path))


@pytest.mark.slow
def test_jpeg_member_offsets_are_tar_data_offsets(ingested):
    out, _ = ingested
    ds = Dataset(str(out))
    frames = {r["key"]: r for r in ds.frames().to_pylist()}
    with tarfile.open(ds.shard_urls()[0]) as tar:
        for m in tar.getmembers():
            if m.name.endswith(".jpg"):
                row = frames[m.name[:-4]]
                assert (row["jpg_offset"], row["jpg_size"]) == (m.offset_data, m.size)


@pytest.mark.slow
def test_labels_are_mapped_into_the_crop(ingested):
    out, result = ingested
    ds = Dataset(str(out))
    assert ds.info()["concepts"] == ["car", "cat", "face"] == result.concepts
    videos = {r["video_id"]: r for r in ds.videos().to_pylist()}
    vid = schema.video_id("labelled.mp4")
    assert videos[vid]["has_labels"] and not videos[schema.video_id("h264.mp4")]["has_labels"]
    rows = {r["frame_idx"]: r for r in ds.frames().to_pylist() if r["video_id"] == vid}
    # 200x100 source at size 64: scale 0.64, crop starts 50 source px from the left
    assert rows[0]["labels"] == ["face"]  # the cat at x 0..40 is cropped away
    assert rows[10]["labels"] == []  # half of a 0.9-visible cat survives the crop: 0.45 < VISIBLE_MIN
    assert rows[2]["labels"] == []
    samples = {
        s["__key__"]: json.loads(s["json"]) for s in wds.WebDataset(ds.shard_urls(), shardshuffle=False)
    }
    f0 = samples[schema.frame_key(vid, 0)]
    assert f0["labels"] == ["face"]
    assert [o["concept"] for o in f0["objects"]] == ["face"]
    assert f0["objects"][0]["box"] == pytest.approx([6.4, 6.4, 32.0, 32.0], abs=0.01)
    (cat,) = samples[schema.frame_key(vid, 10)]["objects"]
    assert cat["box"] == pytest.approx([0.0, 6.4, 12.8, 32.0], abs=0.01)
    assert cat["visible"] == pytest.approx(0.45, abs=0.001)
