"""The query functions against the catalogue tables, manifest, shards and encoder of a small probed run."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image
from unitscope.pipeline import schema
from unitscope.probe.query import BadQuery, NotFound, RunQueries
from unitscope.probe.query.frames import FrameStore
from unitscope.probe.query.image import decode_image

from tests.probe.query_run import small_run


@pytest.fixture(scope="module")
def run(tmp_path_factory, ray_local):
    return small_run(tmp_path_factory)


@pytest.fixture(scope="module")
def q(run):
    return RunQueries(str(run.run))


@pytest.mark.slow
def test_concept_units_ranked_as_the_catalogue(run, q):
    rows = run.catalog()
    for concept in {r["concept"] for r in rows}:
        expect = sorted((r for r in rows if r["concept"] == concept), key=lambda r: r["rank"])
        got = q.concept_units(concept, 1000)
        assert [g["unit"] for g in got] == [e["unit"] for e in expect]
        assert [g["auc"] for g in got] == pytest.approx([e["auc"] for e in expect])
        assert [g["random_auc"] for g in got] == pytest.approx([e["random_auc"] for e in expect])
        assert len(q.concept_units(concept, 2)) == min(2, len(expect))
    summary = {c["concept"]: c for c in q.concepts()}
    assert set(summary) == {r["concept"] for r in rows}
    for name, c in summary.items():
        assert c["best"]["unit"] == q.concept_units(name, 1)[0]["unit"]
        assert c["detectors"] == sum(r["is_detector"] for r in rows if r["concept"] == name)


def test_unknown_concept_names_the_known_ones(q):
    with pytest.raises(NotFound, match=r"unknown concept 'zebra'.*face"):
        q.concept_units("zebra", 5)


@pytest.mark.slow
def test_unit_labels_and_top_frames(run, q):
    frames = {f["key"]: f for f in run.frames()}
    uris = {v["video_id"]: v["uri"] for v in run.videos()}
    catalog = run.catalog()
    for row in run.units()[::5]:
        got = q.unit(row["unit"], 3)
        assert got["mean"] == pytest.approx(row["mean"]) and got["std"] == pytest.approx(row["std"])
        assert {c["concept"] for c in got["concepts"]} == {
            r["concept"] for r in catalog if r["unit"] == row["unit"]
        }
        assert [f["key"] for f in got["frames"]] == row["top_keys"][:3]
        for f in got["frames"]:
            assert f["video_uri"] == uris[frames[f["key"]]["video_id"]]
            assert f["pts"] == pytest.approx(frames[f["key"]]["pts"])


@pytest.mark.parametrize(
    ("unit", "error"),
    [
        ("conv1", BadQuery),
        ("conv1/x", BadQuery),
        ("conv1/-1", BadQuery),
        ("nolayer/0", NotFound),
        ("conv1/999", NotFound),
    ],
)
def test_bad_units(q, unit, error):
    with pytest.raises(error):
        q.unit(unit)


@pytest.mark.slow
def test_frame_bytes_are_the_tar_member(run, q):
    rows = run.frames()
    for row in rows[:: max(1, len(rows) // 7)]:
        with tarfile.open(run.dataset / schema.shard_path(row["shard"])) as tf:
            expect = tf.extractfile(f"{row['key']}.jpg").read()
        assert q.frame_jpeg(row["key"]) == expect
        assert Image.open(io.BytesIO(expect)).size[0] > 0


@pytest.mark.slow
def test_frames_from_object_storage(run, s3_server):
    """The same ranged reads against a real S3-compatible server."""
    from unitscope.core import storage

    fs, _ = storage.url_to_fs("s3://query-frames")
    fs.mkdir("query-frames")
    fs.put(str(run.dataset), "query-frames/dataset", recursive=True)
    store = FrameStore("s3://query-frames/dataset")
    for row in run.frames()[::9]:
        with tarfile.open(run.dataset / schema.shard_path(row["shard"])) as tf:
            assert store.read_jpeg(row["key"]) == tf.extractfile(f"{row['key']}.jpg").read()
    with pytest.raises(NotFound):
        store.read_jpeg("0123456789abcdef-0000001")


@pytest.mark.parametrize("key", ["../../etc/passwd", "/etc/passwd", "0123456789abcdef-1.jpg", ""])
def test_malformed_keys(q, key):
    with pytest.raises(BadQuery):
        q.frame_jpeg(key)


def test_absent_key_is_not_found(q):
    with pytest.raises(NotFound):
        q.frame_jpeg("0123456789abcdef-0000001")


@pytest.mark.slow
def test_neighbors_exclude_the_frame_and_are_sorted(run, q):
    key = run.frames()[10]["key"]
    got = q.neighbors(key, 5)
    assert len(got) == 5 and key not in [g["key"] for g in got]
    scores = [g["score"] for g in got]
    assert scores == sorted(scores, reverse=True)


def _png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height pixels (an image bomb when large)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_decode_refuses_bombs_and_non_images():
    with pytest.raises(BadQuery, match="pixels"):
        decode_image(_png(20000, 20000))
    with pytest.raises(BadQuery, match="pixels"):
        decode_image(_png(7000, 7000), max_pixels=1_000_000)
    with pytest.raises(BadQuery, match="not an image"):
        decode_image(b"GIF89a but not really" * 10)
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buf, "PNG")
    assert decode_image(buf.getvalue()).size == (40, 30)


# image queries, against the run's real encoder


def _expected_z(run, images) -> tuple[list[str], np.ndarray]:
    """Every unit's z-score, computed here from the encoder file and units.parquet alone."""
    from unitscope.train.model_io import load_encoder

    enc = load_encoder(str(run.run))
    units = {u["unit"]: u for u in run.units()}
    names, cols = [], []
    with torch.inference_mode():
        feats = enc.features(enc.preprocess(images))
    for layer, f in feats.items():
        # max-pooled, rounded to float16 as the probe stores activations
        pooled = f.float().amax(dim=(2, 3)).numpy().astype(np.float16).astype(np.float32)
        for c in range(pooled.shape[1]):
            u = units[f"{layer}/{c}"]
            names.append(u["unit"])
            # a unit constant over the dataset (std 0) tells nothing: z = 0
            cols.append((pooled[:, c] - u["mean"]) / u["std"] if u["std"] > 0 else np.zeros(len(pooled)))
    return names, np.stack(cols, axis=1)


@pytest.mark.slow
def test_frames_find_themselves_and_their_units(run, q):
    rows = run.frames()[::9][:4]
    blobs = [q.frame_jpeg(r["key"]) for r in rows]
    answers = q.images(blobs, top=5)
    names, z = _expected_z(run, [decode_image(b) for b in blobs])
    for i, (row, got) in enumerate(zip(rows, answers, strict=True)):
        best = got["neighbors"][0]
        assert best["score"] == pytest.approx(1.0, abs=1e-3)
        assert row["key"] in [n["key"] for n in got["neighbors"] if n["score"] > 0.999]
        order = np.argsort(-z[i], kind="stable")[:5]
        assert [u["unit"] for u in got["units"]] == [names[j] for j in order]
        assert [u["z"] for u in got["units"]] == pytest.approx(z[i, order], rel=1e-3, abs=1e-3)
        for u in got["units"]:
            assert {c["concept"] for c in u["concepts"]} == {
                r["concept"] for r in run.catalog() if r["unit"] == u["unit"]
            }


@pytest.mark.slow
def test_one_pass_gives_the_units_and_the_encoders_own_embedding(run, q):
    """The single forward pass the probe and the query share (`encode_batch`) gives the encoder's own
    embedding, over a batch that spans several forward chunks (in order: each row is its own image's)."""
    import torch
    from unitscope.probe.encoders import CPU_CHUNK, open_encoder

    images = [decode_image(q.frame_jpeg(r["key"])) for r in run.frames()[: CPU_CHUNK + 3]]
    z, emb = q.encoder.encode(images)
    enc = open_encoder(str(run.run), "trained", 0, "cpu")
    with torch.inference_mode():
        own = torch.nn.functional.normalize(enc.embed(enc.preprocess(images)).float(), dim=1).numpy()
    np.testing.assert_allclose(emb, own, rtol=1e-5, atol=1e-6)
    # and its units are the same numbers, up to float16 rounding, as the whole batch in one plain NCHW pass
    names, plain = _expected_z(run, images)
    assert names == q.catalog.unit_names
    np.testing.assert_allclose(z, plain, rtol=2e-3, atol=2e-3)
