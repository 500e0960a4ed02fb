"""The query functions against the catalogue tables, manifest and shards of a small probed run."""

from __future__ import annotations

import io
import tarfile

import pytest
from PIL import Image

from pipeline import schema
from probe.query import BadQuery, NotFound, RunQueries
from probe.query.image import decode_image
from tests.probe.query_run import small_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return small_run(tmp_path_factory)


@pytest.fixture(scope="module")
def q(run):
    return RunQueries(str(run.run))


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


def test_frame_bytes_are_the_tar_member(run, q):
    rows = run.frames()
    for row in rows[:: max(1, len(rows) // 7)]:
        with tarfile.open(run.dataset / schema.shard_path(row["shard"])) as tf:
            expect = tf.extractfile(f"{row['key']}.jpg").read()
        assert q.frame_jpeg(row["key"]) == expect
        assert Image.open(io.BytesIO(expect)).size[0] > 0


@pytest.mark.parametrize("key", ["../../etc/passwd", "/etc/passwd", "0123456789abcdef-1.jpg", ""])
def test_malformed_keys(q, key):
    with pytest.raises(BadQuery):
        q.frame_jpeg(key)


def test_absent_key_is_not_found(q):
    with pytest.raises(NotFound):
        q.frame_jpeg("0123456789abcdef-0000001")


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
