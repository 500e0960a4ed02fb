"""Which committed shards a rerun of ingest must build again: those whose file no longer matches what the
manifest part recorded when it was committed (size always; SHA-256 with `--verify`, which reads every
shard once). Only those shards are rebuilt from their videos; nothing else is touched."""

from __future__ import annotations

import hashlib

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


def reasons(why: dict[int, str]) -> str:
    """`2 rebuilt: size (1), sha256 (1)`-style counts of the reasons."""
    counts: dict[str, int] = {}
    for r in why.values():
        counts[r] = counts.get(r, 0) + 1
    return ", ".join(f"{r} differed ({n})" for r, n in sorted(counts.items()))
