"""A shard damaged on disk (2,000 bytes zeroed, its last 5,000 cut off) in a 4-clip dataset at 10 fps (4
shards of 30 frames): probe counts and names the frames it could not read instead of losing them
silently, fails above --max-bad-frames, and a rerun of ingest rebuilds the shard so probe sees 120 again."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
from unitscope.pipeline import schema
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.ingest import run as ingest
from unitscope.probe.catalog import PROBE_JSON
from unitscope.probe.config import ProbeConfig
from unitscope.probe.probe import run as probe

from tests.helpers import run_cli
from tests.probe.tiny_dataset import write_run
from unitscope.core.errors import DamageError, InputError

DAMAGED = 1  # the shard that is damaged
KEPT = 16  # frames of it before the zeroed bytes


def _clip(path: Path, seed: int, marked: list[bool]) -> None:
    """A 64x48 clip at 10 fps: noise, and a bright square on the frames marked (what probe looks for)."""
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for mark in marked:
            img = rng.integers(30, 120, (48, 64, 3), dtype=np.uint8)
            if mark:
                y, x = rng.integers(4, 20, 2)
                img[y : y + 18, 12 + x : 30 + x] = 250
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode())


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("clips")
    for i in range(4):
        marked = [(t // 3 + i) % 2 == 0 for t in range(30)]  # the concept in runs of frames
        _clip(d / f"clip-{i}.mp4", i, marked)
        frames = [
            {"frame": t, "objects": [{"concept": "mark", "box": [8, 0, 56, 48], "visible": 1.0}]}
            for t in range(30)
            if marked[t]
        ]
        doc = {"version": schema.LABELS_VERSION, "concepts": ["mark"], "frames": frames}
        (d / f"clip-{i}{schema.LABELS_SUFFIX}").write_text(json.dumps(doc))
    return d


def _ingest(src: Path, out: Path, **kw):
    cfg = IngestConfig(
        src=str(src), out=str(out), fps=10, size=32, shard_frames=30, workers=0, progress=False
    )
    return ingest(cfg.model_copy(update=kw))


def damage(out: Path, shard: int = DAMAGED, kept: int = KEPT) -> Path:
    """Zero 2,000 bytes from the tar header of the shard's frame number `kept`, then cut 5,000 off its end."""
    frames = pq.read_table(out / schema.FRAMES_TABLE).to_pylist()
    offsets = sorted(r["jpg_offset"] for r in frames if r["shard"] == shard)
    path = out / schema.shard_path(shard)
    data = bytearray(path.read_bytes())
    start = offsets[kept] - 512  # the header of the frame's .jpg member
    data[start : start + 2000] = bytes(2000)
    path.write_bytes(bytes(data[:-5000]))
    return path


@pytest.fixture
def damaged(clips, tmp_path):
    out = tmp_path / "ds"
    first = _ingest(clips, out)
    assert (first.frames, first.shards) == (120, 4)
    rows = pq.read_table(out / schema.SHARDS_TABLE).to_pylist()
    assert [r["frames"] for r in rows] == [30, 30, 30, 30]
    damage(out)
    return out, write_run(tmp_path / "run")


def _probe(run: Path, ds: Path, **kw):
    cfg = ProbeConfig(run=str(run), dataset=str(ds), workers=0, permutations=9, min_examples=2, batch_size=32)
    return probe(cfg.model_copy(update=kw))


@pytest.mark.slow
def test_probe_counts_names_and_fails_then_ingest_repairs(damaged, clips):
    out, run = damaged
    with pytest.raises(DamageError) as err:  # 14 of 120 is far above the default 0.1%
        _probe(run, out)
    msg = str(err.value)
    assert "14 of 120 frames unreadable" in msg and schema.shard_name(DAMAGED) in msg
    assert f"unitscope ingest {clips} {out}" in msg and "\n" not in msg

    result = _probe(run, out, max_bad_frames=0.2)  # allowed: warns, and says so everywhere
    assert (result.frames, result.bad_frames) == (120 - 14, 14)
    assert [s["shard"] for s in result.failed_shards] == [DAMAGED]
    assert "size" in result.failed_shards[0]["damage"] and "14 of 120" in result.damage
    info = json.loads((run / PROBE_JSON).read_text())
    assert info["bad_frames"] == 14 and [s["shard"] for s in info["failed_shards"]] == [DAMAGED]

    again = _ingest(clips, out)
    assert again.shards_rebuilt == {DAMAGED: "size"} and again.shards_run == 1
    assert "1 rebuilt: size differed (1)" in again.summary()
    healed = _probe(run, out)  # the damaged shard's partial chunk is computed again, not reused
    assert (healed.frames, healed.bad_frames, healed.failed_shards) == (120, 0, [])


@pytest.mark.slow
def test_ingest_verify_rebuilds_a_flipped_byte_only(clips, tmp_path):
    out = tmp_path / "ds"
    _ingest(clips, out)
    before = {p.name: p.stat().st_mtime_ns for p in (out / schema.SHARDS_DIR).iterdir()}
    path = out / schema.shard_path(2)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size: only the checksum sees it
    path.write_bytes(bytes(data))
    assert _ingest(clips, out).shards_rebuilt == {}
    fixed = _ingest(clips, out, verify=True)
    assert fixed.shards_rebuilt == {2: "sha256"} and fixed.frames == 120
    after = {p.name: p.stat().st_mtime_ns for p in (out / schema.SHARDS_DIR).iterdir()}
    assert [n for n in before if before[n] != after[n]] == [schema.shard_name(2)]  # nothing else touched


@pytest.mark.slow
def test_probe_command_exits_1_with_one_line(damaged):
    out, run = damaged
    proc = run_cli("probe", run, out, "--workers", "0", "--permutations", "9")
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "unitscope probe" in line]
    assert len(lines) == 1 and "14 of 120 frames unreadable" in lines[0] and "Traceback" not in proc.stderr


def test_frame_route_names_a_damaged_shard(tmp_path):
    from unitscope.probe.query.frames import FrameStore

    from tests.probe.tiny_dataset import write_dataset

    root = write_dataset(tmp_path / "ds", videos=4, frames=10, shards=2)
    rows = pq.read_table(root / schema.FRAMES_TABLE).to_pylist()
    store = FrameStore(str(root))
    first = next(r for r in rows if r["shard"] == 0)
    assert store.read_jpeg(first["key"])[:2] == b"\xff\xd8"
    path = root / schema.shard_path(0)
    path.write_bytes(path.read_bytes()[:-1024])
    fresh = FrameStore(str(root))
    with pytest.raises(InputError, match=r"frames-000000.tar .* is damaged \(size .* manifest says"):
        fresh.read_jpeg(first["key"])
    other = next(r for r in rows if r["shard"] == 1)
    assert fresh.read_jpeg(other["key"])[:2] == b"\xff\xd8"  # the intact shard is still served
