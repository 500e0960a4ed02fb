"""The shard writer's tar bytes: exactly what `tarfile` writes for the same members, with JPEG offsets that
point at the data."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile

import pytest
from unitscope.pipeline.shards import ShardWriter, _tarfile_header, ustar_header


def _with_tarfile(samples: list[tuple[str, bytes, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.TarFile(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for key, jpeg, meta in samples:
            for name, data in ((f"{key}.jpg", jpeg), (f"{key}.json", meta)):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o444, 0
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_writer_bytes_equal_tarfile_and_offsets_point_at_the_data():
    samples = [(f"v{i:03d}-{i * 7}", os.urandom(100 + 511 * i), b'{"i": %d}' % i) for i in range(25)]
    buf = io.BytesIO()
    writer = ShardWriter(buf)
    offsets = [writer.add(*s) for s in samples]
    nbytes, sha = writer.close()
    data = buf.getvalue()
    assert data == _with_tarfile(samples)
    assert nbytes == len(data) and sha == hashlib.sha256(data).hexdigest()
    for (_, jpeg, _), (offset, size) in zip(samples, offsets, strict=True):
        assert data[offset : offset + size] == jpeg


def test_an_empty_shard_is_a_valid_empty_tar():
    buf = io.BytesIO()
    ShardWriter(buf).close()
    assert buf.getvalue() == _with_tarfile([])
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tar:
        assert tar.getmembers() == []


def test_headers_match_tarfile_for_long_names_and_large_sizes():
    """Names of 100 bytes or more take tarfile's own path (a prefix field), and so do sizes beyond 11 octal
    digits, which USTAR cannot hold."""
    for name, size in (("a" * 99, 5), ("d/" * 60 + "x.jpg", 5), ("é.jpg", 1)):
        assert ustar_header(name, size) == _tarfile_header(name, size)
    with pytest.raises(ValueError):
        ustar_header("k.jpg", 8**11)
