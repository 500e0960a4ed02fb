"""Frames by key: the JPEG bytes of one frame, read from its shard with one ranged read.

The offset index (key → shard, byte offset, byte size) comes from the dataset's frames manifest, so a
frame is never found by untarring and never by a path taken from a request: a key either names a row
of the manifest or it is not found.
"""

from __future__ import annotations

from dataclasses import dataclass

import fsspec
import numpy as np
import pyarrow.parquet as pq

from pipeline import schema
from pipeline.errors import InputError
from probe.query.errors import NotFound

_JPEG_MAGIC = b"\xff\xd8"


@dataclass(frozen=True)
class FrameInfo:
    key: str
    video_id: str
    video_uri: str | None
    frame_idx: int
    pts: float
    labels: list[str]


class FrameStore:
    """Frame metadata and JPEG bytes of one dataset, looked up by frame key."""

    def __init__(self, dataset_url: str):
        self.url = dataset_url.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        frames = _read_table(self.fs, f"{self.root}/{schema.FRAMES_TABLE}", self.url)
        videos = _read_table(self.fs, f"{self.root}/{schema.VIDEOS_TABLE}", self.url)
        self.keys: list[str] = frames.column("key").to_pylist()
        self._row = {k: i for i, k in enumerate(self.keys)}
        self._shard = frames.column("shard").to_numpy()
        self._offset = frames.column("jpg_offset").to_numpy()
        self._size = frames.column("jpg_size").to_numpy()
        self._frames = frames
        self._uri = dict(
            zip(videos.column("video_id").to_pylist(), videos.column("uri").to_pylist(), strict=True)
        )
        self._shard_paths = {
            int(s): f"{self.root}/{schema.shard_path(int(s))}" for s in np.unique(self._shard)
        }

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: str) -> bool:
        return key in self._row

    def row(self, key: str) -> int:
        """Row of `key` in the frames manifest; NotFound when the dataset has no such frame."""
        try:
            return self._row[key]
        except KeyError:
            raise NotFound(f"frame {key!r} is not in the dataset {self.url}") from None

    def info(self, key: str) -> FrameInfo:
        i = self.row(key)
        rec = self._frames.slice(i, 1).to_pylist()[0]
        return FrameInfo(
            key=key,
            video_id=rec["video_id"],
            video_uri=self._uri.get(rec["video_id"]),
            frame_idx=int(rec["frame_idx"]),
            pts=float(rec["pts"]),
            labels=list(rec.get("labels") or []),
        )

    def read_jpeg(self, key: str) -> bytes:
        """The frame's JPEG bytes: one ranged read of its shard at the offset the manifest records."""
        i = self.row(key)
        start = int(self._offset[i])
        end = start + int(self._size[i])
        data = self.fs.cat_file(self._shard_paths[int(self._shard[i])], start=start, end=end)
        if len(data) != end - start or not data.startswith(_JPEG_MAGIC):
            raise InputError(
                f"frame {key!r}: bytes {start}..{end} of shard {int(self._shard[i])} are not its JPEG; "
                "the shard or manifest of this dataset changed since ingest (re-run `unitscope ingest`)"
            )
        return data


def _read_table(fs, path: str, url: str):
    try:
        with fs.open(path, "rb") as f:
            return pq.read_table(f)
    except FileNotFoundError:
        raise InputError(
            f"{url} has no {path.rsplit('/', 2)[-2]}/{path.rsplit('/', 1)[-1]}; "
            "is it a dataset written by `unitscope ingest`?"
        ) from None
