"""Writing one WebDataset tar shard: `<key>.jpg` + `<key>.json` per frame, streamed, with each JPEG's byte
range recorded (so a frame can be served later with one ranged read) and a running SHA-256."""

from __future__ import annotations

import hashlib
import io
import tarfile
from typing import IO


class _HashingWriter(io.RawIOBase):
    def __init__(self, f: IO[bytes]):
        self.f = f
        self.sha = hashlib.sha256()
        self.count = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.count

    def write(self, b) -> int:
        self.sha.update(b)
        self.count += len(b)
        return self.f.write(b)


class ShardWriter:
    """Appends samples to a tar file object; `close()` writes the end-of-archive blocks."""

    def __init__(self, f: IO[bytes]):
        self._out = _HashingWriter(f)
        self._tar = tarfile.TarFile(fileobj=self._out, mode="w", format=tarfile.USTAR_FORMAT)
        self.frames = 0

    def _add(self, name: str, data: bytes) -> int:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o444
        info.mtime = 0  # deterministic bytes: the same input gives the same shard
        offset = self._tar.offset + len(info.tobuf(self._tar.format, self._tar.encoding, self._tar.errors))
        self._tar.addfile(info, io.BytesIO(data))
        self._tar.members.clear()  # TarFile keeps every member's TarInfo otherwise: memory grows per frame
        return offset

    def add(self, key: str, jpeg: bytes, meta: bytes) -> tuple[int, int]:
        """Write one sample; returns (offset, size) of the JPEG's data inside the tar."""
        offset = self._add(f"{key}.jpg", jpeg)
        self._add(f"{key}.json", meta)
        self.frames += 1
        return offset, len(jpeg)

    @property
    def bytes_written(self) -> int:
        return self._out.count

    def close(self) -> tuple[int, str]:
        """Finish the archive; returns (total bytes, sha256 hex)."""
        self._tar.close()
        return self._out.count, self._out.sha.hexdigest()
