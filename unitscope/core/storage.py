"""Storage on any fsspec filesystem: open URLs, join paths, and write files atomically (temp, then publish)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from typing import IO, Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

# Parquet written with a CRC-32 per page, and read verifying it (files without CRCs read as before): a
# flipped bit in a plain-encoded page would otherwise decode to a different number without an error.
PARQUET_CHECKSUMS = {"write_page_checksum": True}

# Local writes are staged here (inside the dataset directory, so a rename publishes them atomically).
STAGING_DIR = ".staging"


def storage_options(url: str) -> dict[str, Any]:
    """Per-protocol options taken from the environment when the call happens (fsspec reads
    FSSPEC_* variables only at import time; the S3 endpoint may be set later, e.g. by a test server)."""
    if url.startswith(("s3://", "s3a://")) and os.environ.get("FSSPEC_S3_ENDPOINT_URL"):
        return {"endpoint_url": os.environ["FSSPEC_S3_ENDPOINT_URL"]}
    return {}


def url_to_fs(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem and the path on it for a local path or fsspec URL."""
    return fsspec.core.url_to_fs(url, **storage_options(url))


def is_local(fs: fsspec.AbstractFileSystem) -> bool:
    return isinstance(fs, LocalFileSystem)


def absolute(url: str) -> str:
    """`url` with a local path made absolute against this process' working directory; other URLs as given.

    Stages call it in the driver before anything reaches Ray: Ray Train runs its workers in a directory
    of Ray's session (`.../artifacts/unitscope-train-...`), where a relative `dataset/shards/...` names
    nothing."""
    if url.startswith("file://"):
        return "file://" + os.path.abspath(os.path.expanduser(url[len("file://") :]))
    if "://" in url or "::" in url:
        return url
    return os.path.abspath(os.path.expanduser(url))


def join(base: str, *parts: str) -> str:
    """Join path parts with "/" (fsspec paths and URLs use forward slashes everywhere)."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def to_url(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """A URL that `url_to_fs` maps back to `path` on `fs` (plain paths stay plain for local files)."""
    return path if is_local(fs) else fs.unstrip_protocol(path)


@contextlib.contextmanager
def atomic_writer(
    fs: fsspec.AbstractFileSystem, path: str, staging: str | None = None
) -> Iterator[IO[bytes]]:
    """The one atomic writer: a binary file that readers see at `path` whole, or not at all.

    Local files are written to a temporary file (in `staging`, else beside `path`), synced and renamed
    into place; other filesystems get a local temporary file uploaded in one piece (object stores publish
    an upload only once complete). A crash leaves at most a temporary file, never a partial `path`.
    Seekable, so a header can be written last.
    """
    local = is_local(fs)
    if local:
        folder = staging or os.path.dirname(path) or "."
        os.makedirs(folder, exist_ok=True)
        tmp = join(folder, f"{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    else:
        fd, tmp = tempfile.mkstemp(prefix="unitscope-", suffix=".tmp")
        os.close(fd)
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            if local:
                os.fsync(f.fileno())
        if local:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            os.replace(tmp, path)
        else:
            fs.put_file(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def staged_writer(fs: fsspec.AbstractFileSystem, path: str, root: str) -> contextlib.AbstractContextManager:
    """`atomic_writer` staging under `<root>/.staging`, which the next run of a stage clears."""
    return atomic_writer(fs, path, join(root, STAGING_DIR) if is_local(fs) else None)


def url_writer(url: str) -> contextlib.AbstractContextManager:
    """`atomic_writer` for a URL."""
    return atomic_writer(*url_to_fs(url))


def write_bytes(url: str, data: bytes) -> None:
    """Write a small file at `url` so readers see the old file or the new one, never a part."""
    with url_writer(url) as f:
        f.write(data)


def write_staged(fs: fsspec.AbstractFileSystem, path: str, root: str, data: bytes) -> None:
    """Write a small file of a stage's output folder atomically (`staged_writer`)."""
    with staged_writer(fs, path, root) as f:
        f.write(data)


def write_text(url: str, text: str) -> None:
    write_bytes(url, text.encode("utf-8"))


def torch_bytes(obj: object) -> bytes:
    """`torch.save` of `obj`, as bytes for `write_bytes`."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(url: str) -> str:
    """SHA-256 of a file, read a MiB at a time."""
    fs, path = url_to_fs(url)
    sha = hashlib.sha256()
    with fs.open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def check_digest(url: str, data: bytes, expected: str | None, fix: str) -> bytes:
    """`data` read from `url`, when its SHA-256 is the `expected` one that was recorded beside it when it
    was written (None: nothing recorded, an older file); DamageError naming the file and `fix` otherwise."""
    if expected and sha256_hex(data) != expected:
        from unitscope.core.errors import DamageError

        raise DamageError(
            f"{url} is damaged: its sha256 differs from the one recorded when it was written; {fix}"
        )
    return data


def exists(url: str) -> bool:
    fs, path = url_to_fs(url)
    return fs.exists(path)


def read_bytes(url: str) -> bytes:
    """The whole file at `url`."""
    fs, path = url_to_fs(url)
    return fs.cat_file(path)


def remove_tree(fs: fsspec.AbstractFileSystem, path: str) -> None:
    """Remove a directory and everything under it (nothing when it is absent).

    Local trees go through `shutil.rmtree`, not fsspec's `LocalFileSystem.rm`: that calls `os.getcwd()`,
    which raises FileNotFoundError once the process' working directory is gone. A Ray job's driver runs
    in its job package directory, and on a machine whose Ray nodes share one temp dir (two `ray start`
    on one host) the second node's runtime-env agent unpacks the package again over that directory
    (`overwrite=True`) as soon as a task lands there, deleting the driver's working directory under it.
    """
    if is_local(fs):
        if os.path.isdir(path):
            shutil.rmtree(path)
    elif fs.exists(path):
        fs.rm(path, recursive=True)


def clear_staging(fs: fsspec.AbstractFileSystem, root: str) -> None:
    """Remove what killed runs left in the staging area (local datasets only)."""
    if is_local(fs):
        remove_tree(fs, join(root, STAGING_DIR))


def read_parquet(fs: fsspec.AbstractFileSystem, path: str) -> pa.Table:
    """A whole Parquet file as a table, decoded from an Arrow-owned copy of its bytes.

    Not `pq.read_table(file_object)`: that leaves Python-owned buffers to Arrow's thread pool, and a
    pool thread releasing one while the interpreter exits aborts the process ("terminate called
    without an active exception", pyarrow issue #34314) after the work is done.
    """
    sink = pa.BufferOutputStream()
    sink.write(fs.cat_file(path))
    try:
        return pq.read_table(pa.BufferReader(sink.getvalue()), page_checksum_verification=True)
    except (OSError, pa.ArrowException) as exc:  # a page CRC, a cut-off footer, bytes that are not Parquet
        raise damaged(path, exc) from exc


def damaged(path: str, exc: BaseException) -> Exception:
    """The DamageError of a file that does not parse: its path, the parser's first line, the repair."""
    from unitscope.core.errors import DamageError

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
    return DamageError(
        f"{path} is damaged ({first}); run the command that wrote it again: for a dataset's manifest "
        "`unitscope ingest` with the same SRC and OUT, for a run's probe files `unitscope probe`"
    )


@contextlib.contextmanager
def parquet_file(fs: fsspec.AbstractFileSystem, path: str) -> Iterator[pq.ParquetFile]:
    """A Parquet file opened by Arrow's own reader, so a few columns or row groups can be read at a time.

    Local files are opened by path. Other filesystems' files are first copied, streamed, to a local
    temporary file: Arrow reading from a Python file object can abort the process at exit (see
    `read_parquet`), and this keeps memory bounded by a batch, not the file, wherever it is stored.
    Without pre-buffering: with it, reading batch after batch held ~24 kB more per row group read ahead
    (7 MB at 300 row groups, a manifest of 600,000 frames)."""
    if is_local(fs):
        try:
            f = pq.ParquetFile(path, pre_buffer=False, page_checksum_verification=True)
        except (OSError, pa.ArrowException) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise damaged(path, exc) from exc
        with f:
            yield f
        return
    with tempfile.NamedTemporaryFile(prefix="unitscope-", suffix=".parquet") as tmp:
        with fs.open(path, "rb") as src:
            shutil.copyfileobj(src, tmp, 2**20)
        tmp.flush()
        with pq.ParquetFile(tmp.name, pre_buffer=False, page_checksum_verification=True) as f:
            yield f


def iter_parquet(
    fs: fsspec.AbstractFileSystem, path: str, columns: list[str], batch_rows: int = 16384
) -> Iterator[pa.RecordBatch]:
    """`columns` of a Parquet file, `batch_rows` rows at a time, in file order."""
    with parquet_file(fs, path) as f:
        try:
            yield from f.iter_batches(batch_size=batch_rows, columns=columns, use_threads=False)
        except (OSError, pa.ArrowException) as exc:  # a page whose CRC or encoding is damaged
            raise damaged(path, exc) from exc
