"""Benchmark: a million frames through the whole chain on one machine, at two corpus sizes in one run.

    python tests/bench/million.py [--frames 1000000] [--base N] [--cache DIR] [--work DIR] [--keep]

Not a test: prints JSON. Makes (or reuses from --cache) a corpus of real H.264 clips, 1,000 frames each
(tests/bench/lavfi_corpus.py), then runs every stage at --base frames (default: --frames / 10) and at
--frames, the two sizes one after the other, each as the `unitscope` command a user runs:
- ingest at 64 px with --workers 2, each size followed by FFmpeg decoding and scaling the same clips to
  64 px with 2 processes (their ratio is ingest's speed goal, >= 0.8);
- train: a run of --steps steps streaming the shards (conv4, width --width, one Ray Train worker with two
  loader workers), with its start-up (shard listing, frame count, first batch, the rest of the wall time
  beyond the steps) and the training stream alone (first batch, views/s);
- probe every frame (activations as float16 chunks, the FAISS frame index, and the unit search over at
  most --max-labelled frames of whole videos: the same cap at both sizes, below the smaller, since the
  search is bounded by that cap and not by the corpus), --workers 2;
- serve the probed run under 50 concurrent clients (tests/bench/query_server.py's routes and load).
For each stage and size: wall time, frames/s, peak RSS and CPU seconds of every process by role (driver,
Ray workers, Ray's own daemons, DataLoader workers, FFmpeg), and bytes written. `growth` is each role's
peak RSS at --frames over that at --base (target <= 1.2 for every process).
A 100,000-frame run (--frames 100000) takes about 10 minutes; a million, about an hour on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench import million_stages as stages
from tests.bench.lavfi_corpus import disk_bytes, make_corpus, write_list

PER_CLIP = 1000


def _loaded(m: dict, stage: str, size: str) -> dict:
    """A stage's figures with the load average after it: the machine may be shared, and Ray's workers run
    at nice 15 (Ray's default), so other work slows them more than the FFmpeg baseline. Each is also
    written to stderr as it is measured, so an hour's run that fails late keeps what it measured."""
    m["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps({"stage": stage, "frames": size, **m}), file=sys.stderr, flush=True)
    return m


def _growth(stage: dict, base: str, target: str) -> dict[str, float]:
    """Per process role: peak RSS at the target size / at the base size."""
    a, b = stage[base]["processes"], stage[target]["processes"]
    return {role: round(b[role]["peak_rss_mb"] / a[role]["peak_rss_mb"], 2) for role in a.keys() & b.keys()
            if a[role]["peak_rss_mb"]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--base", type=int, default=None, help="the smaller size (default: --frames / 10)")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "unitscope-bench",
                    help="where the corpus is kept between runs")  # fmt: skip
    ap.add_argument("--work", type=Path, default=Path("/tmp/unitscope-million"), help="datasets and runs")
    ap.add_argument("--keep", action="store_true", help="keep the datasets and runs in --work")
    ap.add_argument("--steps", type=int, default=150, help="training steps at each size")
    ap.add_argument("--width", type=int, default=16, help="encoder width (conv4: 16 gives 240 units)")
    ap.add_argument("--max-labelled", type=int, default=None,
                    help="probe's max_labelled_frames (default: half the smaller size, at most 50,000)")  # fmt: skip
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0, help="load per query route")
    args = ap.parse_args()
    sizes = [args.base or args.frames // 10, args.frames]
    max_labelled = args.max_labelled or min(50_000, sizes[0] // 2)
    names = [str(n) for n in sizes]
    load_before = os.getloadavg()
    t_all = time.perf_counter()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    t0 = time.perf_counter()
    clips = make_corpus(args.cache, sizes[-1])
    corpus = {"clips": len(clips), "seconds": round(time.perf_counter() - t0, 1),
              "bytes": sum(c.stat().st_size for c in clips), "path": str(clips[0].parent)}  # fmt: skip
    chosen = {n: clips[: -(-size // PER_CLIP)] for n, size in zip(names, sizes, strict=True)}
    ds = {n: args.work / f"dataset-{n}" for n in names}
    run = {n: args.work / f"run-{n}" for n in names}
    out: dict = {"sizes": sizes, "cpus": os.cpu_count(), "load_avg_before": load_before, "corpus": corpus,
                 "max_labelled_frames": max_labelled,
                 "stages": {s: {} for s in ("ingest", "ffmpeg", "train", "loader", "probe", "serve")}}  # fmt: skip
    st = out["stages"]
    for n in names:  # each ingest beside FFmpeg on the same clips, as close in time as can be
        src = write_list(chosen[n], args.work / f"clips-{n}.txt")
        st["ingest"][n] = _loaded(stages.ingest(src, ds[n], 64, 2), "ingest", n)
        st["ffmpeg"][n] = _loaded(stages.ffmpeg(chosen[n], 2, 64), "ffmpeg", n)
        st["ingest"][n]["corpus_bytes"] = sum(c.stat().st_size for c in chosen[n])
    for n in names:
        st["train"][n] = _loaded(stages.train(ds[n], run[n], args.steps, args.width, 1), "train", n)
        st["loader"][n] = _loaded(stages.loader(ds[n], 20, args.width), "loader", n)
    for n in names:
        st["probe"][n] = _loaded(stages.probe(run[n], ds[n], 2, max_labelled), "probe", n)
    for n in names:
        st["serve"][n] = _loaded(stages.serve(run[n], ds[n], args.clients, args.seconds), "serve", n)
    base, target = names
    out["ingest_vs_ffmpeg"] = {n: round(st["ingest"][n]["frames_per_s"] / st["ffmpeg"][n]["frames_per_s"], 3)
                               for n in names}  # fmt: skip
    out["growth"] = {s: _growth(st[s], base, target) for s in ("ingest", "ffmpeg", "train", "probe", "serve")}
    out["max_growth"] = max(g for s in out["growth"].values() for g in s.values())
    out["serve_p99_ms"] = {n: st["serve"][n]["p99_ms"] for n in names}
    out["work_bytes"] = disk_bytes(args.work)
    out["wall_s"] = round(time.perf_counter() - t_all, 1)
    out["targets"] = {"ingest_vs_ffmpeg": 0.8, "max_growth": 1.2}
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
