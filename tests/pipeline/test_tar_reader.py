"""The header-by-header tar reader: the same samples as webdataset's reader, for our shards and for tars
other writers make (GNU long names, pax records); damaged tars raise after the samples before the damage."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
import webdataset as wds
from unitscope.pipeline import tar_reader
from unitscope.pipeline.shards import ShardWriter


def _ours(n: int = 5) -> bytes:
    buf = io.BytesIO()
    w = ShardWriter(buf)
    for i in range(n):
        w.add(f"vid{i % 2}-{i:06d}", bytes([i]) * (100 + 700 * i), json.dumps({"pts": i / 2}).encode())
    w.close()
    return buf.getvalue()


def _tarfile(fmt: int, names: list[str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        d = tarfile.TarInfo("some/dir")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
        for i, name in enumerate(names):
            data = f"payload {i}".encode() * (i + 1)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _webdataset(data: bytes) -> list[dict]:
    members = ({**m, "__url__": "-"} for m in wds.tariterators.tar_file_iterator(io.BytesIO(data)))
    return [{k: v for k, v in s.items() if k != "__url__"} for s in wds.tariterators.group_by_keys(members)]


LONG = "d" * 120 + "/clip-000001"  # a path longer than a USTAR name field (100 bytes)
NAMES = ["x/k-1.jpg", "x/k-1.json", LONG + ".jpg", LONG + ".json", "k-3.JPG", "vidéo-000004.jpg"]


@pytest.mark.parametrize("make", [_ours, lambda: _tarfile(tarfile.GNU_FORMAT, NAMES),
                                  lambda: _tarfile(tarfile.PAX_FORMAT, NAMES),
                                  lambda: _tarfile(tarfile.USTAR_FORMAT, NAMES[:2] + NAMES[4:5])])  # fmt: skip
def test_samples_equal_webdatasets(make):
    data = make()
    got = list(tar_reader.samples(io.BytesIO(data)))
    want = _webdataset(data)
    assert got == want and len(got) >= 2


def test_long_and_non_ascii_names_come_through():
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        keys = [s["__key__"] for s in tar_reader.samples(io.BytesIO(_tarfile(fmt, NAMES)))]
        assert keys == ["x/k-1", LONG, "k-3", "vidéo-000004"]


def test_a_bad_header_raises_after_the_samples_before_it():
    data = bytearray(_ours())
    offsets = [i for i in range(0, len(data), 512) if data[i + 257 : i + 262] == b"ustar"]
    data[offsets[4] + 10] ^= 0xFF  # the third sample's .jpg header
    got = []
    with pytest.raises(tarfile.ReadError, match="checksum"):
        for sample in tar_reader.samples(io.BytesIO(bytes(data))):
            got.append(sample["__key__"])
    assert got == ["vid0-000000", "vid1-000001"]


def test_a_cut_tar_raises_unless_cut_between_members():
    data = _ours()
    with pytest.raises(tarfile.ReadError, match="cut short"):
        list(tar_reader.samples(io.BytesIO(data[: len(data) // 2 + 7])))
    with pytest.raises(tarfile.ReadError, match="truncated"):
        list(tar_reader.samples(io.BytesIO(data[: 1024 + 100])))  # inside the second member's header
    assert len(list(tar_reader.samples(io.BytesIO(data[:0])))) == 0


def test_a_reader_stopped_early_closes_cleanly():
    it = tar_reader.samples(io.BytesIO(_ours()))
    next(it)
    it.close()  # no RuntimeError from a generator that yields while closing
