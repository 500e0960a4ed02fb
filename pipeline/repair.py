"""Which committed shards a rerun of ingest must build again: those whose file no longer matches what the
manifest part recorded when it was committed (size always; SHA-256 with `--verify`, which reads every
shard once). Only those shards are rebuilt from their videos; nothing else is touched."""

from __future__ import annotations

import hashlib
import json

from unitscope.pipeline import schema
from unitscope.pipeline.manifest import ShardStatus

from unitscope.core import storage


def file_sha256(fs, path: str) -> str:
    sha = hashlib.sha256()
    with fs.open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def damaged(
    fs, root: str, statuses: dict[int, ShardStatus], sizes: dict[str, int], verify: bool
) -> dict[int, str]:
    """{shard: why} of the committed shards in `statuses` whose file differs from its recorded status.
    `sizes`: the committed shard files' sizes by path (one listing)."""
    out: dict[int, str] = {}
    for i, st in sorted(statuses.items()):
        if st.status != "ok":
            continue
        path = storage.join(root, schema.shard_path(i))
        if st.bytes and sizes.get(path) != st.bytes:
            out[i] = "size"
        elif verify and st.sha256:
            try:
                if file_sha256(fs, path) != st.sha256:
                    out[i] = "sha256"
            except OSError:
                out[i] = "unreadable"
    return out


def manifest_problem(fs, root: str) -> str | None:
    """The first manifest file of a finished dataset that does not read whole (checksums verified), or
    None: a rerun of ingest then merges the manifest again from the per-shard parts."""
    for rel in (schema.DATASET_JSON, schema.VIDEOS_TABLE, schema.FRAMES_TABLE, schema.SHARDS_TABLE):
        path = storage.join(root, rel)
        try:
            if rel == schema.DATASET_JSON:
                json.loads(fs.cat_file(path))["counts"]
            else:
                storage.read_parquet(fs, path)
        except Exception as exc:  # missing, cut short, bytes changed: JSON, Parquet and Arrow errors
            return f"{rel} ({type(exc).__name__})"
    return None


def reasons(why: dict[int, str]) -> str:
    """`2 rebuilt: size (1), sha256 (1)`-style counts of the reasons."""
    counts: dict[str, int] = {}
    for r in why.values():
        counts[r] = counts.get(r, 0) + 1
    return ", ".join(f"{r} differed ({n})" for r, n in sorted(counts.items()))
