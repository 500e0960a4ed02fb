"""URL-level helpers for the run directory, on top of pipeline.storage (fsspec, atomic writes)."""

from __future__ import annotations

import io

import fsspec

from pipeline import storage as base

join = base.join
absolute = base.absolute


def fs_of(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    return base.url_to_fs(url)


def is_local(url: str) -> bool:
    return base.is_local(fs_of(url)[0])


write_bytes = base.write_url
read_bytes = base.read_url


def write_text(url: str, text: str) -> None:
    write_bytes(url, text.encode("utf-8"))


def exists(url: str) -> bool:
    fs, path = fs_of(url)
    return fs.exists(path)


def torch_bytes(obj: object) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()
