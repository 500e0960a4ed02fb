"""The stages of tests/bench/million.py, each run as a user runs it (a `unitscope` command in a process of its
own) and measured: wall time, frames/s, peak RSS and CPU of every process under it (Ray's included, by
role: `process_tree`), bytes it wrote. FFmpeg's decode + scale of the same clips is measured alike."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from tests.bench.ingest import ffmpeg_rate
from tests.bench.lavfi_corpus import SOURCES, disk_bytes
from tests.bench.process_tree import ProcessTree
from tests.bench.query_server import measure, routes, wait_ready
from tests.helpers import ROOT, cli_env, free_port


def _measured(args: list) -> dict:
    """Run `unitscope ARGS` to the end under a `ProcessTree`: its wall time, processes, and CPU seconds of
    it and every process it (or Ray's raylet) reaped, as the kernel counts them."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "unitscope", *map(str, args)], cwd=ROOT, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    tree = ProcessTree(proc.pid)
    out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    processes = tree.stop()
    if proc.returncode:
        raise RuntimeError(f"unitscope {args[0]} exited {proc.returncode}:\n{out[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "processes": processes}


def ingest(src: Path, out: Path, size: int, workers: int) -> dict:
    m = _measured(["ingest", src, out, "--fps", 0, "--size", size, "--workers", workers, "--quiet"])
    frames = json.loads((out / "dataset.json").read_text())["counts"]["frames"]
    return {
        **m,
        "frames": frames,
        "frames_per_s": round(frames / m["wall_s"], 1),
        "disk_bytes": disk_bytes(out),
        "plan_json_bytes": (out / "manifest" / "plan.json")
        .stat()
        .st_size,  # the one file that lists every video
    }


def ffmpeg(clips: list[Path], procs: int, size: int) -> dict:
    """FFmpeg decoding and scaling the clips to size x size, `procs` processes at a time. Its CPU time is
    the kernel's count for the finished processes (sampling misses the end of each short-lived one)."""
    tree = ProcessTree(os.getpid())
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    rate, frames = ffmpeg_rate(clips, procs, size)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    ffmpegs = tree.stop().get("ffmpeg", {})
    ffmpegs["cpu_s"] = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2)
    return {
        "wall_s": round(wall, 1),
        "frames": frames,
        "frames_per_s": round(rate, 1),
        "processes": {"ffmpeg": ffmpegs},
    }


def train(dataset: Path, run: Path, steps: int, width: int, workers: int) -> dict:
    """A run of `steps` steps, and what its start-up costs: listing shards and counting frames (timed here,
    as `train` does it before Ray starts), the first batch (loader workers start, shuffle buffer fills),
    and the whole run's wall time beyond its steps (Ray, Ray Train, checkpoint, encoder)."""
    from unitscope.train.shards import count_frames, list_shards

    listing = []
    for _ in range(3):  # the best of three: the first also loads the Parquet reader's code
        t0 = time.perf_counter()
        shards, frames = list_shards(str(dataset)), count_frames(str(dataset))
        listing.append(time.perf_counter() - t0)
    m = _measured(["train", dataset, run, "--steps", steps, "--width", width, "--workers", workers])
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    stepping = sum(r["step_s"] for r in rows)
    images = sum(r["images_per_s"] * r["step_s"] for r in rows)
    return {
        **m, "shards": len(shards), "dataset_frames": frames, "listing_s": round(min(listing), 4),
        "first_batch_s": round(rows[0]["data_s"], 2), "startup_s": round(m["wall_s"] - stepping, 1),
        "train_images_per_s": round(images / stepping, 1),
        "loader_wait_share": round(sum(r["data_s"] for r in rows[1:]) / max(stepping, 1e-9), 3),
        "disk_bytes": disk_bytes(run),
    }  # fmt: skip


def loader(dataset: Path, batches: int, width: int) -> dict:
    """The training stream alone (2 loader workers, no training): seconds to its first batch, then views/s."""
    from unitscope.train.config import TrainConfig
    from unitscope.train.shards import list_shards
    from unitscope.train.stream import make_loader
    from unitscope.train.worker import stream_spec

    cfg = TrainConfig(dataset=str(dataset), run="/nonexistent", width=width, workers=0)
    it = iter(make_loader(stream_spec(cfg, list_shards(str(dataset)), 0, 1, cfg.seed), cfg.loader_workers))
    t0 = time.perf_counter()
    views = sum(v.shape[0] for v in next(it)["views"])
    first = time.perf_counter() - t0
    t1 = time.perf_counter()
    n = sum(sum(v.shape[0] for v in next(it)["views"]) for _ in range(batches))
    del it
    return {
        "first_batch_s": round(first, 2),
        "views_per_s": round(n / (time.perf_counter() - t1), 1),
        "views": views + n,
    }


def probe(run: Path, dataset: Path, workers: int, max_labelled: int) -> dict:
    cfg = run / "probe-bench.json"
    cfg.write_text(json.dumps({"max_labelled_frames": max_labelled}))
    m = _measured(["probe", run, dataset, "--config", cfg, "--workers", workers])
    frames = json.loads((run / "probe" / "probe.json").read_text())["frames"]
    return {
        **m,
        "frames": frames,
        "frames_per_s": round(frames / m["wall_s"], 1),
        "disk_bytes": disk_bytes(run / "probe"),
    }


def serve(run: Path, dataset: Path, clients: int, seconds: float) -> dict:
    """`unitscope serve` under `clients` concurrent clients (tests/bench/query_server.py's load)."""
    keys = pq.read_table(dataset / "manifest" / "frames.parquet", columns=["key"]).column("key")
    sample = [keys[i].as_py() for i in range(0, len(keys), max(1, len(keys) // 2000))]
    port = free_port()
    t0 = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "unitscope", "serve", str(run), "--port", str(port), "--no-access-log"],
                              cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    tree = ProcessTree(server.pid)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, server)
        ready = time.perf_counter() - t0
        results = measure(url, server.pid, routes(list(SOURCES), sample), clients, seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
    p99 = {name: r["p99_ms"] for name, r in results.items()}
    return {"startup_s": round(ready, 1), "p99_ms": p99, "routes": results, "processes": tree.stop()}
