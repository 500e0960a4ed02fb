"""Object storage and memory: ingest from and into a real S3-compatible server (moto, on loopback) gives
the same dataset as local folders; a worker's peak memory does not grow with video length."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.dataset import Dataset
from unitscope.pipeline.ingest import run

from tests.helpers import ROOT, cli_env
from tests.pipeline import media
from unitscope.core import storage


@pytest.mark.slow
def test_s3_in_and_out_equals_local(corpus, tmp_path, ray_local):
    fs, _ = storage.url_to_fs("s3://unitscope-in")
    fs.mkdir("unitscope-in")
    fs.mkdir("unitscope-out")
    fs.put(str(corpus) + "/", "unitscope-in/corpus/", recursive=True)
    settings = {"fps": 5, "size": 48, "shard_frames": 30, "progress": False}
    s3 = run(IngestConfig(src="s3://unitscope-in/corpus", out="s3://unitscope-out/ds", workers=2, **settings))
    local = run(IngestConfig(src=str(corpus), out=str(tmp_path / "ds"), workers=0, **settings))
    assert s3.model_dump(exclude={"out", "wall_s"}) == local.model_dump(exclude={"out", "wall_s"})
    a, b = Dataset("s3://unitscope-out/ds"), Dataset(str(tmp_path / "ds"))
    assert all(u.startswith("s3://unitscope-out/ds/shards/") for u in a.shard_urls())
    keys = a.frames().column("key").to_pylist()
    assert keys == b.frames().column("key").to_pylist() and len(keys) == local.frames
    assert a.frames().drop(["pts"]).equals(b.frames().drop(["pts"]))
    for key in keys[::5]:
        assert a.read_jpeg(key) == b.read_jpeg(key)
    assert a.info()["concepts"] == b.info()["concepts"] and a.info()["counts"] == b.info()["counts"]
    assert not fs.glob("unitscope-out/ds/**/*.tmp")


_MEASURE = """
import json, resource, sys
from unitscope.pipeline.decode import DecodeSettings
from unitscope.pipeline.plan import ShardSpec, VideoRef
from unitscope.pipeline.worker import process_shard
src, out = sys.argv[1], sys.argv[2]
spec = ShardSpec(index=0, out=out, videos=[VideoRef(uri=src, rel="v.mp4")],
                 settings=DecodeSettings(fps=0, size=128, threads=1))
status = process_shard(spec)
print(json.dumps({"frames": status.frames, "bytes": status.bytes, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _peak(video, out) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(video), str(out)],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_video_length(tmp_path):
    opts = {"preset": "ultrafast"}
    # Both runs are past the one-time warm-up of the decoder, encoder and Arrow's memory pool (~2000 frames).
    short = media.make_video(
        tmp_path / "short.mp4", width=160, height=120, frames=2500, rate=25, options=opts
    )
    long = media.make_video(tmp_path / "long.mp4", width=160, height=120, frames=7500, rate=25, options=opts)
    a, b = _peak(short, tmp_path / "a"), _peak(long, tmp_path / "b")
    assert (a["frames"], b["frames"]) == (2500, 7500)
    # 5000 more frames (~20 MB more JPEG written): holding them, or any per-frame state, would show here
    assert b["peak_kib"] - a["peak_kib"] < 4 * 1024, (a, b)
