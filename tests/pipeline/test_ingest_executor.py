"""The Ray executor's start-up overlap: the driver builds shards while a local Ray starts, hands the rest to
Ray tasks, and the result is the same dataset as an in-process run."""

from __future__ import annotations

import json
import re
import threading
from collections import deque

import pytest
from unitscope.pipeline import schema
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.decode import DecodeSettings
from unitscope.pipeline.executor import StartupShards, run_ray
from unitscope.pipeline.ingest import run
from unitscope.pipeline.plan import ShardSpec, VideoRef
from unitscope.pipeline.progress import Progress

from tests.helpers import run_cli


def _specs(corpus, out, names) -> list[ShardSpec]:
    settings = DecodeSettings(fps=5, size=32, threads=1)
    return [
        ShardSpec(index=i, out=str(out), videos=[VideoRef(uri=str(corpus / n), rel=n)], settings=settings)
        for i, n in enumerate(names)
    ]


class _StopAfterFirstVideo(Progress):
    """Calls stop() on the start-up work when the first video is reported (Ray is up, as it were)."""

    startup: StartupShards | None = None

    def add(self, videos: int, frames: int) -> None:
        super().add(videos, frames)
        if videos and self.startup is not None:
            self.startup.stop()


def test_startup_shards_stop_after_the_current_shard(corpus, tmp_path):
    specs = _specs(corpus, tmp_path / "ds", ["h264.mp4", "mpeg4.avi", "vp9.webm", "mjpeg.mkv"])
    queue = deque(specs)
    progress = _StopAfterFirstVideo(4, 40, enabled=False)
    with progress._lock:  # the thread cannot report before `startup` is known
        progress.startup = startup = StartupShards(queue, threading.Lock(), progress)
    startup.join()
    built = startup.take()
    # the driver finished the shard it had begun, took no other, and left the rest in order for Ray
    assert [s.index for s in built] == [0] and [s.index for s in queue] == [1, 2, 3]
    assert built[0].built_by == "driver" and built[0].status == "ok" and built[0].frames > 0
    assert (tmp_path / "ds" / schema.shard_path(0)).stat().st_size == built[0].bytes
    assert not (tmp_path / "ds" / schema.shard_path(1)).exists()
    assert startup.take() == []


def test_startup_threads_share_the_queue(corpus, tmp_path):
    specs = _specs(corpus, tmp_path / "ds", ["h264.mp4", "mpeg4.avi", "vp9.webm", "mjpeg.mkv", "short.mp4"])
    queue = deque(specs)
    progress = _StopAfterFirstVideo(5, 50, enabled=False)
    with progress._lock:
        progress.startup = startup = StartupShards(queue, threading.Lock(), progress, threads=2)
    startup.join()
    built = sorted(s.index for s in startup.take())
    # each thread took at most the one shard it had begun; none was built twice or skipped
    assert built in ([0], [0, 1]) and built + [s.index for s in queue] == [0, 1, 2, 3, 4]
    assert not startup.busy


def test_a_shard_that_fails_in_the_driver_goes_back_to_the_queue(corpus, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the dataset directory should be")
    specs = _specs(corpus, blocker, ["h264.mp4", "mpeg4.avi"])
    queue = deque(specs)
    startup = StartupShards(queue, threading.Lock(), Progress(2, 20, enabled=False))
    startup.join()
    assert startup.take() == []
    assert [s.index for s in queue] == [0, 1]


@pytest.mark.slow
def test_cli_builds_shards_while_local_ray_starts(corpus, tmp_path):
    """A real CLI run that starts its own local Ray: some shards come from the driver, the rest from Ray
    tasks, and the keys and JPEG bytes equal those of an in-process run."""
    out = tmp_path / "ray"
    args = ["--fps", "5", "--size", "32", "--shard-frames", "10"]
    proc = run_cli("ingest", corpus, out, *args, "--workers", "2", RAY_ADDRESS="", check=True)
    summary = proc.stderr.strip().splitlines()[-1]
    m = re.search(r"\((\d+) built now, (\d+) of them while Ray started", summary)
    assert m, summary
    built, startup = map(int, m.groups())
    assert 1 <= startup <= built
    local = run(
        IngestConfig(
            src=str(corpus),
            out=str(tmp_path / "local"),
            fps=5,
            size=32,
            shard_frames=10,
            workers=0,
            progress=False,
        )
    )
    doc = json.loads((out / schema.DATASET_JSON).read_text())
    assert doc["counts"]["frames"] == local.frames and doc["counts"]["shards"] == local.shards == built
    for i in range(local.shards):
        assert (out / schema.shard_path(i)).read_bytes() == (
            tmp_path / "local" / schema.shard_path(i)
        ).read_bytes()


@pytest.mark.slow
def test_ray_tasks_stream_progress_and_a_failing_shard_becomes_a_failed_row(corpus, tmp_path, ray_local):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the dataset directory should be")
    good = _specs(corpus, tmp_path / "ds", ["h264.mp4", "vp9.webm"])
    bad = _specs(corpus, blocker, ["mpeg4.avi"])[0].model_copy(update={"index": 2})
    progress = Progress(3, 30, enabled=False)
    statuses = {s.index: s for s in run_ray([*good, bad], 2, 1, progress)}
    assert [statuses[i].status for i in range(3)] == ["ok", "ok", "failed"]
    # the row names the task's own error and the fix, not Ray's wrapper
    assert statuses[2].error.startswith("NotADirectoryError: ") and "not-a-dir" in statuses[2].error
    assert "run the same command again" in statuses[2].error
    # the tasks' progress reached the driver: every video and every frame of the good shards
    assert progress.videos == 2 and progress.frames == statuses[0].frames + statuses[1].frames > 0


def test_a_worker_builds_every_shard_on_one_thread(corpus, tmp_path, monkeypatch):
    """The Ray task's shards are built on the worker's one builder thread, task after task (a thread per
    task got a malloc arena each, and a worker's peak grew ~0.3 MB a shard)."""
    from unitscope.pipeline import executor

    threads = []

    def build(spec, report):
        threads.append(threading.get_ident())
        return executor.ShardStatus(index=spec.index)

    monkeypatch.setattr(executor, "process_shard", build)
    for spec in _specs(corpus, tmp_path, ["h264.mp4", "mpeg4.avi", "short.mp4"]):
        assert list(executor._ray_build_shard(spec))[-1].index == spec.index
    assert len(set(threads)) == 1 and threads[0] != threading.get_ident()
