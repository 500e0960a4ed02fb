"""URL-level helpers for the run directory, on top of pipeline.storage (fsspec, atomic writes)."""

from __future__ import annotations

import contextlib
import io
import os
import uuid

import fsspec

from pipeline import storage as base

join = base.join


def fs_of(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    return base.url_to_fs(url)


def is_local(url: str) -> bool:
    return base.is_local(fs_of(url)[0])


def write_bytes(url: str, data: bytes) -> None:
    """Write a whole file atomically: readers see the old file or the new one, never a part (a temp file
    beside it renamed into place on local disks; one PUT, atomic there, on object stores)."""
    fs, path = fs_of(url)
    if not base.is_local(fs):
        fs.pipe_file(path, data)
        return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def write_text(url: str, text: str) -> None:
    write_bytes(url, text.encode("utf-8"))


def read_bytes(url: str) -> bytes:
    fs, path = fs_of(url)
    return fs.cat_file(path)


def exists(url: str) -> bool:
    fs, path = fs_of(url)
    return fs.exists(path)


def torch_bytes(obj: object) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()
