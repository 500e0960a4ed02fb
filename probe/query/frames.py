"""Frames by key: the JPEG bytes of one frame, read from its shard with one ranged read.

The offset index (key → shard, byte offset, byte size) comes from the dataset's frames manifest, so a
frame is never found by untarring and never by a path taken from a request: a key either names a row
of the manifest or it is not found.
"""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from unitscope.pipeline import schema, shard_check
from unitscope.pipeline.dataset import Dataset
from unitscope.pipeline.schema import parse_frame_key
from unitscope.probe.query.errors import NotFound

from unitscope.core import storage
from unitscope.core.errors import InputError

_JPEG_MAGIC = b"\xff\xd8"
_JPEG_END = b"\xff\xd9"
SIZE_CHECK_S = 10.0  # how long a shard's size check holds before the next request stats it again


def video_name(uri: str | None) -> str | None:
    """The file name of a video URI, without where it is stored: `/data/videos/clip-0001.mp4`,
    `s3://bucket/videos/clip-0001.mp4` and `https://host/v/clip-0001.mp4?signature=…` → `clip-0001.mp4`.
    An http(s) URL's query and fragment are dropped (they can hold credentials); other URIs are
    fsspec paths, in which `?` and `#` are plain characters."""
    if not uri:
        return None
    scheme, sep, rest = uri.partition("://")
    if sep and scheme.lower() in ("http", "https"):
        rest = urlsplit(uri).path
    return posixpath.basename((rest if sep else uri).rstrip("/")) or None


@dataclass(frozen=True)
class FrameInfo:
    key: str
    video_id: str
    video_uri: str | None  # where the video is stored, as ingested
    video: str | None  # its file name (`video_name`): what a client of the server is told
    frame_idx: int
    pts: float
    labels: list[str]


class FrameStore:
    """Frame metadata and JPEG bytes of one dataset, looked up by frame key."""

    def __init__(self, dataset_url: str):
        self.dataset = Dataset(dataset_url)
        self.url = self.dataset.url
        self.fs = self.dataset.fs
        self.lookup = self.dataset.lookup  # arrays, not a Python object per frame
        videos = self.dataset.videos()
        self._uri = dict(
            zip(videos.column("video_id").to_pylist(), videos.column("uri").to_pylist(), strict=True)
        )
        self._name = {video_id: video_name(uri) for video_id, uri in self._uri.items()}
        self._records: dict[int, shard_check.ShardRecord] | None = None
        self._checked: dict[int, float] = {}  # shard -> when its size was last found right

    def __len__(self) -> int:
        return len(self.lookup)

    def __contains__(self, key: str) -> bool:
        return self.lookup.row(key) >= 0

    def row(self, key: str) -> int:
        """Row of `key` in the frames manifest; NotFound when the dataset has no such frame."""
        row = self.lookup.row(key)
        if row < 0:
            raise NotFound(f"frame {key!r} is not in the dataset {self.url}")
        return row

    def info(self, key: str) -> FrameInfo:
        return self.info_at(self.row(key), key)

    def info_at(self, i: int, key: str) -> FrameInfo:
        """The frame of manifest row `i`, whose key is `key` (a search hit: no lookup by key)."""
        video_id, frame_idx = parse_frame_key(key)  # what a key is made of (pipeline.schema.frame_key)
        return FrameInfo(
            key=key,
            video_id=video_id,
            video_uri=self._uri.get(video_id),
            video=self._name.get(video_id),
            frame_idx=frame_idx,
            pts=self.lookup.value("pts", i),
            labels=list(self.lookup.value("labels", i) or []),
        )

    def _check_shard(self, shard: int) -> None:
        """Compare the shard's size with the manifest (a stat; then trusted for SIZE_CHECK_S): a damaged
        shard is named, not served from."""
        now = time.monotonic()
        if self._checked.get(shard, -SIZE_CHECK_S) > now - SIZE_CHECK_S:
            return
        if self._records is None:
            self._records = {r.index: r for r in shard_check.records(self.dataset)}
        rec = self._records.get(shard)
        if rec is not None:
            fs, path = storage.url_to_fs(rec.url)
            if why := shard_check.size_problem(fs, path, rec):
                raise InputError(
                    f"shard {schema.shard_name(shard)} of {self.url} is damaged ({why}); "
                    f"{shard_check.repair_hint(self.url, self._src())}"
                )
        self._checked[shard] = now

    def _src(self) -> str | None:
        try:
            return self.dataset.info().get("src")
        except (OSError, ValueError):
            return None

    def read_jpeg(self, key: str) -> bytes:
        """The frame's JPEG bytes: one ranged read of its shard at the offset the manifest records."""
        row = self.row(key)
        self._check_shard(int(self.lookup.value("shard", row)))
        data = self.dataset.read_jpeg(key)
        size = int(self.lookup.value("jpg_size", row))
        if len(data) != size or not data.startswith(_JPEG_MAGIC) or not data.endswith(_JPEG_END):
            raise InputError(
                f"frame {key!r}: the bytes the manifest points at are not a whole JPEG; the shards or "
                f"manifest of {self.url} changed since ingest (re-run `unitscope ingest`)"
            )
        return data
