"""The manifest merge streams the shards' parts: its memory does not grow with the number of frames."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from unitscope.pipeline import manifest, plan, schema
from unitscope.pipeline.decode import DecodeSettings

from tests.helpers import peak_rss_growth
from unitscope.core import storage

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")


def make_parts(root: str, parts: int, rows: int) -> tuple[list[manifest.ShardStatus], plan.Plan]:
    """`parts` committed shards' manifest parts of `rows` frames each (one video per shard)."""
    fs, _ = storage.url_to_fs(root)
    statuses, shards = [], []
    for i in range(parts):
        ref = plan.VideoRef(uri=f"/videos/v{i}.mp4", rel=f"v{i}.mp4", est_frames=rows)
        with manifest.frames_part(fs, root, i) as sink:
            for f in range(rows):
                key = schema.frame_key(ref.video_id, f)
                sink.append({"key": key, "video_id": ref.video_id, "shard": i, "frame_idx": f, "pts": f / 30,
                             "jpg_offset": 512 + 1024 * f, "jpg_size": 700, "labels": ["face"] if f % 3 else []})  # fmt: skip
        video = {"uri": ref.uri, "video_id": ref.video_id, "shard": i, "status": "ok", "frames_written": rows,
                 "has_labels": True}  # fmt: skip
        status = manifest.ShardStatus(index=i, videos=1, videos_ok=1, frames=rows, bytes=rows * 2048)
        manifest.write_part(fs, root, i, [video], status)
        statuses.append(status)
        shards.append([ref])
    return statuses, plan.Plan(src="/videos", settings=DecodeSettings().model_dump(), shards=shards)


def merge_growth(tmp: Path, parts: int, rows: int) -> int:
    setup = (
        "from pipeline import manifest\n"
        "from tests.pipeline.test_manifest_merge import make_parts\n"
        f"root = {str(tmp)!r}\n"
        f"statuses, the_plan = make_parts(root, {parts}, {rows})\n"
    )
    return peak_rss_growth(
        setup, "import fsspec\nmanifest.merge(fsspec.filesystem('file'), root, statuses, the_plan, {})"
    )


def test_merge_of_many_parts_holds_one_part_at_a_time(tmp_path):
    """400,000 frame rows in 200 parts: the merge's peak grows by a part's worth, not by the 40 MB the rows
    take as one Arrow table (or the ~150 MB they took as Python rows)."""
    few = merge_growth(tmp_path / "few", 10, 2000)
    many = merge_growth(tmp_path / "many", 200, 2000)
    frames = pq.read_metadata(tmp_path / "many" / schema.FRAMES_TABLE)
    assert frames.num_rows == 400_000
    assert many - few < 8 * 2**20, (few, many)
