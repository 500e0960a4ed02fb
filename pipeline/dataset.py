"""Reading a dataset written by ingest: its tables, its committed shards, and single frames by key; and
`shard_urls` / `sample_keys` for reading the shards with other tools (docs/using-the-shards.md)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from unitscope.pipeline import schema
from unitscope.pipeline.frame_lookup import FrameLookup

from unitscope.core import storage
from unitscope.core.errors import InputError

# Files only a training run holds (train/metrics.py, train/model_io.py): a folder with one of them is a RUN.
RUN_MARKERS = ("metrics.jsonl", "encoder.json", "checkpoints")
LOCATION = ["shard", "jpg_offset", "jpg_size"]  # where a frame's JPEG is: its shard and byte range


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
            if self._holds_run():
                raise InputError(
                    f"{url!r} is a run directory written by `unitscope train`, not a dataset: pass the "
                    f"dataset it was trained from (its config.json says which), e.g. "
                    f"`unitscope probe {url} DATASET`"
                )
            if self._is_empty():
                raise InputError(
                    f"{url!r} is not a unitscope dataset (no {schema.DATASET_JSON}); run "
                    f"`unitscope ingest SRC {url}` first, or let an interrupted ingest finish by running it again"
                )
            raise InputError(
                f"{url!r} is not a unitscope dataset (no {schema.DATASET_JSON}); ingest your videos into a "
                "new folder with `unitscope ingest SRC OUT` and pass OUT, or let an interrupted ingest "
                "finish by running it again"
            )

    def _holds_run(self) -> bool:
        """Whether the folder is a training run (what `train` writes: RUN_MARKERS), not a dataset."""
        return any(self.fs.exists(storage.join(self.root, name)) for name in RUN_MARKERS)

    def _is_empty(self) -> bool:
        """Whether ingest could write here: the folder is missing or empty."""
        try:
            return not self.fs.isdir(self.root) or not self.fs.ls(self.root, detail=False)
        except OSError:
            return True

    def _holds_videos(self) -> bool:
        """Whether the folder holds video files (in it or two levels down): what `ingest` reads, not writes."""
        from unitscope.pipeline.sources import VIDEO_EXTENSIONS

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

    def _frame_batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        yield from storage.iter_parquet(self.fs, storage.join(self.root, schema.FRAMES_TABLE), columns)

    def frame_count(self) -> int:
        """Rows of the frames table, from its footer."""
        with storage.parquet_file(self.fs, storage.join(self.root, schema.FRAMES_TABLE)) as f:
            return f.metadata.num_rows

    @cached_property
    def lookup(self) -> FrameLookup:
        """Every frame's row by key, with what serving one frame needs: its shard, JPEG byte range, time
        and labels. Read a batch at a time; held in about 35 bytes a frame (`FrameLookup`)."""
        columns = {
            "shard": np.int32,
            "jpg_offset": np.int64,
            "jpg_size": np.int32,
            "pts": np.float64,
            "labels": None,
        }
        return FrameLookup.from_batches(self._frame_batches(["key", *columns]), self.frame_count(), columns)

    def locate(self, keys: Iterable[str]) -> dict[str, tuple[int, int, int]]:
        """(shard, JPEG offset, JPEG size) of each of a few `keys` found, by one pass over the frames table
        (no lookup of every frame is built: the report needs a few hundred frames of a million)."""
        want, found = pa.array(sorted(set(keys)), pa.string()), {}
        for batch in self._frame_batches(["key", *LOCATION]):
            hits = batch.filter(pc.is_in(batch.column("key"), value_set=want)).to_pydict()
            for k, s, o, n in zip(hits["key"], *(hits[c] for c in LOCATION), strict=True):
                found[k] = (s, o, n)
        return found

    def _read_range(self, shard: int, offset: int, size: int) -> bytes:
        path = storage.join(self.root, schema.shard_path(shard))
        return self.fs.cat_file(path, start=offset, end=offset + size)

    def read_jpeg(self, key: str) -> bytes:
        """The JPEG bytes of one frame, with a single ranged read of its shard."""
        row = self.lookup.row(key)
        if row < 0:
            raise InputError(f"no frame with key {key!r} in {self.url}")
        shard, offset, size = (self.lookup.value(c, row) for c in LOCATION)
        return self._read_range(shard, offset, size)

    def read_jpegs(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The JPEG bytes of a few frames, located by `locate`, one ranged read each."""
        want = set(keys)
        where = self.locate(want)
        if missing := want - where.keys():
            raise InputError(f"no frame with key {min(missing)!r} in {self.url} ({len(missing)} missing)")
        return {k: self._read_range(*where[k]) for k in sorted(want)}


def shard_urls(url: str) -> list[str]:
    """The URLs of a dataset's committed shards that hold frames, in order: what `webdataset.WebDataset`
    and `ray.data.read_webdataset` take (docs/using-the-shards.md)."""
    return Dataset(url).shard_urls()


def sample_keys() -> dict[str, tuple[str, ...]]:
    """What each shard sample holds (`sample`: its key and members) and the fields of its `json` member
    (`json`), as written by ingest."""
    return {"sample": schema.SAMPLE_KEYS, "json": schema.FRAME_JSON_FIELDS}
