"""Reading WebDataset samples out of a tar stream, header by header: the counterpart of `shards.ShardWriter`.

A sample is the run of consecutive members that share a key (the member's path up to the first dot of its
base name); each member's data sits under its extension, as webdataset groups them. This reader parses
the 512-byte headers itself (USTAR, plus the GNU long-name and pax records that other tar writers use for
long names) instead of going through `tarfile`, whose header objects cost most of a small frame's read:
webdataset's tarfile-based iterator takes 57 us per frame sample, this one 14. A header whose checksum is
wrong, or a member cut short, raises `tarfile.ReadError` after the samples before it.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from typing import IO

BLOCK = tarfile.BLOCKSIZE
_REGULAR = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)


def members(f: IO[bytes]) -> Iterator[tuple[str, bytes]]:
    """(path, data) of each regular file in the tar stream `f`, in order."""
    long_name: bytes | None = None
    pax: dict[bytes, bytes] = {}  # the next member's extended header records
    while True:
        header = f.read(BLOCK)
        if not header.strip(b"\0"):
            return  # end-of-archive blocks (or an archive that stops without them)
        if len(header) < BLOCK:
            raise tarfile.ReadError("truncated tar header")
        _check(header)
        kind = header[156:157]
        try:
            size = int(pax[b"size"]) if b"size" in pax and kind in _REGULAR else _number(header[124:136])
        except ValueError as exc:
            raise tarfile.ReadError(f"bad tar member size: {exc}") from exc
        data = f.read(size + (-size % BLOCK))
        if len(data) < size:
            raise tarfile.ReadError("tar member cut short")
        data = data[:size]
        if kind == tarfile.GNUTYPE_LONGNAME:
            long_name = data.rstrip(b"\0")
        elif kind == tarfile.XHDTYPE:
            try:
                pax = _pax_records(data)
            except ValueError as exc:
                raise tarfile.ReadError(f"bad pax header: {exc}") from exc
        elif kind == tarfile.XGLTYPE:
            pass  # global pax records: nothing a sample needs
        else:
            if kind in _REGULAR:
                yield (
                    (pax.get(b"path") or long_name or _name(header)).decode("utf-8", "surrogateescape"),
                    data,
                )
            long_name, pax = None, {}  # directories and links carry no sample data


def samples(f: IO[bytes]) -> Iterator[dict[str, bytes | str]]:
    """WebDataset samples of the tar stream `f`: {"__key__": key, extension: data, ...}."""
    sample: dict[str, bytes | str] = {}
    try:
        for path, data in members(f):
            slash = path.rfind("/") + 1
            dot = path.find(".", slash)
            if dot < 0:
                continue  # no extension: not part of a sample
            key, ext = path[:dot], path[dot + 1 :].lower()
            if sample and sample["__key__"] != key:
                yield sample
                sample = {}
            sample["__key__"] = key
            sample[ext] = data
    except tarfile.ReadError:
        if sample:  # its members were read whole: hand it over before the error
            yield sample
        raise
    if sample:
        yield sample


def _check(header: bytes) -> None:
    """Raise unless the header's checksum holds (unsigned, or signed as some old writers computed it)."""
    stored = header[148:156].split(b"\0", 1)[0].strip()
    unsigned = sum(header) - sum(header[148:156]) + 8 * 32  # the checksum field counts as spaces
    try:
        value = int(stored, 8)
    except ValueError:
        value = None
    if value == unsigned or value == unsigned - 256 * sum(1 for b in header if b > 127):
        return
    raise tarfile.ReadError("bad tar header checksum")


def _name(header: bytes) -> bytes:
    name = header[0:100].split(b"\0", 1)[0]
    if header[257:262] == b"ustar" and (prefix := header[345:500].split(b"\0", 1)[0]):
        name = prefix + b"/" + name
    return name


def _number(field: bytes) -> int:
    """A header number: octal text, or base-256 when the first byte's high bit is set (GNU, big sizes)."""
    if field[0] & 0x80:
        return int.from_bytes(field[1:], "big") + ((field[0] & 0x7F) << (8 * (len(field) - 1)))
    digits = field.split(b"\0", 1)[0].strip()
    return int(digits, 8) if digits else 0


def _pax_records(data: bytes) -> dict[bytes, bytes]:
    """The records of a pax extended header: "<length> <key>=<value>\\n" each."""
    records = {}
    pos = 0
    while pos < len(data) and (space := data.find(b" ", pos)) > pos:
        length = int(data[pos:space])
        key, _, value = data[space + 1 : pos + length - 1].partition(b"=")
        records[key] = value
        pos += length
    return records
