"""The Parquet manifest: per-shard parts (written before a shard is committed) and their merge into
`manifest/videos|frames|shards.parquet` plus `dataset.json`, streamed part by part."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel
from unitscope.pipeline import schema

from unitscope.core import storage


class ShardStatus(BaseModel):
    """What became of one shard; `reused` when an earlier run had already committed it."""

    index: int
    status: str = "ok"
    videos: int = 0
    videos_ok: int = 0
    videos_failed: int = 0
    frames: int = 0
    bytes: int = 0
    sha256: str | None = None
    error: str | None = None
    concepts: list[str] = []
    reused: bool = False
    built_by: str | None = None  # "driver" for shards the driver built while local Ray started


def _part(root: str, index: int, kind: str) -> str:
    return storage.join(root, schema.PARTS_DIR, f"{index:06d}.{kind}")


class RowSink:
    """Frame rows streamed to a Parquet file in row groups, so a shard's memory does not grow with its length."""

    BATCH = 1024

    def __init__(self, writer: pq.ParquetWriter):
        self.writer = writer
        self.rows: list[dict] = []
        self.count = 0

    def append(self, row: dict) -> None:
        self.rows.append(row)
        self.count += 1
        if len(self.rows) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=schema.FRAMES_SCHEMA))
            self.rows = []


@contextlib.contextmanager
def frames_part(fs, root: str, index: int) -> Iterator[RowSink]:
    """The shard's frames part, published when the block exits cleanly."""
    with (
        storage.staged_writer(fs, _part(root, index, "frames.parquet"), root) as f,
        pq.ParquetWriter(f, schema.FRAMES_SCHEMA, **storage.PARQUET_CHECKSUMS) as w,
    ):
        sink = RowSink(w)
        yield sink
        sink.flush()


def write_part(fs, root: str, index: int, videos: list[dict], status: ShardStatus) -> None:
    """Write a shard's video rows, then its status: the status file's presence means the part is complete."""
    with storage.staged_writer(fs, _part(root, index, "videos.parquet"), root) as f:
        pq.write_table(
            pa.Table.from_pylist(videos, schema=schema.VIDEOS_SCHEMA), f, **storage.PARQUET_CHECKSUMS
        )
    storage.write_staged(fs, _part(root, index, "status.json"), root, status.model_dump_json().encode())


def read_status(fs, root: str, index: int) -> ShardStatus | None:
    path = _part(root, index, "status.json")
    if not fs.exists(path):
        return None
    return ShardStatus.model_validate_json(fs.cat_file(path))


def drop_status(fs, root: str, index: int) -> None:
    """Forget that shard `index` is complete, so the next build makes it again (its tar stays until then)."""
    path = _part(root, index, "status.json")
    if fs.exists(path):
        fs.rm(path)


def _stream_parts(
    fs, root: str, indices: list[int], kind: str, sch: pa.Schema, extra: pa.Table | None, dest: str
) -> None:
    with (
        storage.staged_writer(fs, storage.join(root, dest), root) as f,
        pq.ParquetWriter(f, sch, **storage.PARQUET_CHECKSUMS) as w,
    ):
        for i in indices:
            with fs.open(_part(root, i, kind), "rb") as pf:
                w.write_table(pq.read_table(pf, schema=sch, page_checksum_verification=True))
        if extra is not None and extra.num_rows:
            w.write_table(extra)


def merge(fs, root: str, statuses: list[ShardStatus], plan, info: dict) -> dict:
    """Write the three tables and dataset.json from the parts of committed shards; failed shards' and
    skipped inputs' videos get rows too. Returns the counts written into dataset.json."""
    ok = [s.index for s in statuses if s.status == "ok"]
    extra_videos = [
        {
            "uri": s.uri,
            "video_id": schema.video_id(s.rel),
            "shard": None,
            "status": "skipped",
            "error": s.reason,
            "frames_written": 0,
            "has_labels": False,
        }
        for s in plan.skipped
    ]
    for st in statuses:
        if st.status != "ok":
            extra_videos += [
                {
                    "uri": v.uri,
                    "video_id": v.video_id,
                    "shard": st.index,
                    "status": "failed",
                    "error": f"its shard task failed: {st.error}",
                    "frames_written": 0,
                    "has_labels": False,
                }
                for v in plan.shards[st.index]
            ]
    extra = pa.Table.from_pylist(extra_videos, schema=schema.VIDEOS_SCHEMA)
    _stream_parts(fs, root, ok, "videos.parquet", schema.VIDEOS_SCHEMA, extra, schema.VIDEOS_TABLE)
    _stream_parts(fs, root, ok, "frames.parquet", schema.FRAMES_SCHEMA, None, schema.FRAMES_TABLE)
    shard_rows = [
        {
            "shard": s.index,
            "path": schema.shard_path(s.index),
            "status": s.status,
            "videos": s.videos,
            "frames": s.frames,
            "bytes": s.bytes,
            "sha256": s.sha256,
            "error": s.error,
        }
        for s in sorted(statuses, key=lambda s: s.index)
    ]
    with storage.staged_writer(fs, storage.join(root, schema.SHARDS_TABLE), root) as f:
        pq.write_table(
            pa.Table.from_pylist(shard_rows, schema=schema.SHARDS_SCHEMA), f, **storage.PARQUET_CHECKSUMS
        )
    counts = {
        "videos": sum(len(v) for v in plan.shards) + len(plan.skipped),
        "videos_ok": sum(s.videos_ok for s in statuses if s.status == "ok"),
        "videos_failed": sum(
            s.videos_failed if s.status == "ok" else len(plan.shards[s.index]) for s in statuses
        ),
        "videos_skipped": len(plan.skipped),
        "frames": sum(s.frames for s in statuses if s.status == "ok"),
        "shards": len(ok),
        "shards_failed": len(statuses) - len(ok),
    }
    concepts = sorted({c for s in statuses for c in s.concepts})
    doc = {"format_version": schema.FORMAT_VERSION, **info, "counts": counts, "concepts": concepts}
    storage.write_staged(
        fs, storage.join(root, schema.DATASET_JSON), root, json.dumps(doc, indent=1).encode()
    )
    return doc
