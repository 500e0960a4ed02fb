"""Small fsspec helpers for the run directory: join, atomic writes, reads that say what is missing."""

from __future__ import annotations

import io
import os
import uuid

import fsspec
from fsspec.implementations.local import LocalFileSystem


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def fs_of(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, path = fsspec.core.url_to_fs(url)
    return fs, path


def is_local(url: str) -> bool:
    return isinstance(fs_of(url)[0], LocalFileSystem)


def write_bytes(url: str, data: bytes) -> None:
    """Write a whole file so that readers see the old file or the new one, never a part: a temp file and
    a rename on local disks, one PUT on object stores (which is atomic there)."""
    fs, path = fs_of(url)
    if isinstance(fs, LocalFileSystem):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    else:
        fs.pipe_file(path, data)


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
