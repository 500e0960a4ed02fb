"""Reading a shard against what ingest recorded for it: its size on open, its SHA-256 as it is read
whole, and its frame count at the end. Storage damages files (partial uploads, bit rot, copies cut
short); a reader that only parses the tar would stop at a zeroed header as if the archive ended there
and lose the frames after it without a word. A reader that checks knows how many frames it could not
use and which shard to rebuild.

Hashing while reading costs ~2 us a 4 kB frame (hashlib's SHA-256 runs at ~2 GB/s), against
hundreds of microseconds to decode the frame's JPEG; the file is read and hashed a MiB at a time, so the
checks add no Python call per frame.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import IO

from unitscope.core import storage

CHUNK = 1 << 20  # bytes read from storage (and hashed) at a time


@dataclass(frozen=True)
class ShardRecord:
    """A committed shard and what the manifest says of it (None where an older manifest has no value)."""

    url: str
    index: int = -1
    frames: int | None = None
    bytes: int | None = None
    sha256: str | None = None


def records(dataset) -> list[ShardRecord]:
    """The committed shards of a `pipeline.dataset.Dataset` that hold frames, in shard order."""
    rows = sorted(dataset.shards().to_pylist(), key=lambda r: r["shard"])
    return [
        ShardRecord(dataset.url_of(r["path"]), int(r["shard"]), r["frames"], r["bytes"], r["sha256"])
        for r in rows
        if r["status"] == "ok" and r["frames"]
    ]


def repair_hint(dataset_url: str, src: str | None) -> str:
    """The command that rebuilds damaged shards of a dataset: ingest's rerun over the same folders."""
    return f"`unitscope ingest {src or 'SRC'} {dataset_url}` rebuilds damaged shards from their videos"


def size_problem(fs, path: str, record: ShardRecord) -> str | None:
    """Why the file's size rules it out (missing, or not the size the manifest records), or None."""
    try:
        size = fs.size(path)
    except FileNotFoundError:
        return "missing"
    if record.bytes is not None and size != record.bytes:
        return f"size {size} bytes, manifest says {record.bytes}"
    return None


class _Hashing(io.RawIOBase):
    """A read-only raw file that hashes what passes through it, a CHUNK at a time: under a
    `io.BufferedReader`, the parser's many small reads (a 512-byte header, then a frame) are served in C
    and this Python layer runs once a MiB (a wrapper per read cost ~5 us a frame)."""

    def __init__(self, f: IO[bytes]):
        self.f = f
        self.sha = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.count

    def readinto(self, buf) -> int:
        data = self.f.read(len(buf))
        n = len(data)
        buf[:n] = data
        self.sha.update(data)
        self.count += n
        return n

    def drain(self) -> None:
        """Hash the rest of the file (what a reader stopped short of: zero blocks, trailing bytes)."""
        while data := self.f.read(CHUNK):
            self.sha.update(data)
            self.count += len(data)


class CheckedShard:
    """One shard opened for reading whole: `open()` gives the file object to parse, `finish(frames)` the
    damage found (None when the shard is the one ingest wrote).

        check = CheckedShard(record)
        with check.open() as f:
            for sample in tar_reader.samples(f): ...
            problem = check.finish(frames_read)  # inside: it hashes what the parser left unread
    """

    def __init__(self, record: ShardRecord):
        self.record = record
        self.fs, self.path = storage.url_to_fs(record.url)
        self.problems: list[str] = []
        self._f: _Hashing | None = None

    def open(self):
        if problem := size_problem(self.fs, self.path, self.record):
            self.problems.append(problem)
        raw = self.fs.open(self.path, "rb")
        self._f = _Hashing(raw)
        return _Closing(io.BufferedReader(self._f, CHUNK), raw)

    def failed(self, why: str) -> None:
        """Record a read error (the parser's or the file system's)."""
        self.problems.append(why)

    def finish(self, frames: int | None = None, hashed: bool = True) -> str | None:
        """The shard's damage as one phrase, or None. `frames`: samples read (checked against the manifest);
        `hashed`: whether the whole file went through the reader (else the checksum is not compared)."""
        if hashed and self._f is not None and not self.problems:
            try:
                self._f.drain()
            except (OSError, ValueError) as exc:
                self.problems.append(f"read error: {exc}")
        rec = self.record
        hashed = hashed and self._f is not None and not self.problems
        if hashed and rec.sha256 and self._f.sha.hexdigest() != rec.sha256:
            self.problems.append("sha256 differs from the manifest")
        if frames is not None and rec.frames is not None and frames != rec.frames and not self.problems:
            self.problems.append(f"{frames} frames read, manifest says {rec.frames}")
        return "; ".join(dict.fromkeys(self.problems)) or None


class _Closing:
    """Context manager over the hashing reader that closes the underlying file."""

    def __init__(self, f: io.BufferedReader, raw):
        self.f, self.raw = f, raw

    def __enter__(self) -> io.BufferedReader:
        return self.f

    def __exit__(self, *exc) -> None:
        self.raw.close()


def shard_number(url: str) -> int:
    """The shard number in a shard URL (`.../frames-000012.tar` -> 12)."""
    return int(url.rsplit("-", 1)[-1].split(".")[0])
