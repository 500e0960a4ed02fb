"""Reading a dataset written by ingest: its tables, its committed shards, and single frames by key."""

from __future__ import annotations

import json
from functools import cached_property

import pyarrow as pa

from pipeline import schema, storage
from pipeline.errors import InputError


class Dataset:
    """A dataset directory on any fsspec filesystem (local path or URL)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.fs, self.root = storage.url_to_fs(self.url)
        if not self.fs.exists(storage.join(self.root, schema.DATASET_JSON)):
            if self._holds_videos():
                raise InputError(
                    f"{url!r} is a folder of videos, not a unitscope dataset (no {schema.DATASET_JSON}); "
                    f"ingest it first with `unitscope ingest {url} OUT` and pass OUT instead"
                )
            raise InputError(
                f"{url!r} is not a unitscope dataset (no {schema.DATASET_JSON}); run "
                f"`unitscope ingest SRC {url}` first, or let an interrupted ingest finish by running it again"
            )

    def _holds_videos(self) -> bool:
        """Whether the folder holds video files (in it or two levels down): what `ingest` reads, not writes."""
        from pipeline.sources import VIDEO_EXTENSIONS

        try:
            found = self.fs.find(self.root, maxdepth=3) if self.fs.isdir(self.root) else []
        except OSError:
            return False
        return any("." + p.rsplit(".", 1)[-1].lower() in VIDEO_EXTENSIONS for p in found if "." in p)

    def _table(self, rel: str) -> pa.Table:
        return storage.read_parquet(self.fs, storage.join(self.root, rel))

    def info(self) -> dict:
        """dataset.json: format version, config, counts, concept names."""
        return json.loads(self.fs.cat_file(storage.join(self.root, schema.DATASET_JSON)))

    def videos(self) -> pa.Table:
        return self._table(schema.VIDEOS_TABLE)

    def frames(self) -> pa.Table:
        return self._table(schema.FRAMES_TABLE)

    def shards(self) -> pa.Table:
        return self._table(schema.SHARDS_TABLE)

    def url_of(self, rel: str) -> str:
        """The URL of a path inside the dataset, in the same form as the dataset's own URL."""
        return storage.join(self.url, rel)

    def shard_urls(self) -> list[str]:
        """URLs of the committed shards that hold frames, in shard order."""
        rows = self.shards().to_pylist()
        return [
            self.url_of(r["path"])
            for r in sorted(rows, key=lambda r: r["shard"])
            if r["status"] == "ok" and r["frames"]
        ]

    @cached_property
    def _index(self) -> dict[str, tuple[int, int, int]]:
        t = self.frames().select(["key", "shard", "jpg_offset", "jpg_size"]).to_pydict()
        return {
            k: (s, o, n)
            for k, s, o, n in zip(t["key"], t["shard"], t["jpg_offset"], t["jpg_size"], strict=True)
        }

    def read_jpeg(self, key: str) -> bytes:
        """The JPEG bytes of one frame, with a single ranged read of its shard."""
        try:
            shard, offset, size = self._index[key]
        except KeyError:
            raise InputError(f"no frame with key {key!r} in {self.url}") from None
        path = storage.join(self.root, schema.shard_path(shard))
        return self.fs.cat_file(path, start=offset, end=offset + size)
