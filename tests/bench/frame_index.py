"""Benchmark: the exact frame index against the approximate (IVF) one, at one or more corpus sizes.

    python tests/bench/frame_index.py [--frames 100000,1000000] [--codes pq32] [--no-server]
        [--work DIR [--keep] [--build-only]] [--no-exact-server]

Not a test: prints JSON. For each size (tests/bench/frame_index_build.py): a stand-in dataset of N frames
(tests/bench/standin_dataset.py), synthetic clustered embeddings in the probe's activation store
(tests/bench/frame_corpus.py), the exact flat file and the IVF index, each built in a child process (wall
time, peak RSS with and without mapped file pages); then (tests/bench/frame_index_serve.py):
- bytes on disk of each file;
- search latency per query on one thread, and throughput of a batch of queries on every core;
- recall@10 of the IVF index against the exact top 10 over --queries held-out queries (not in the index);
- with a server (`unitscope serve` on the stand-in run): POST /query/image and GET /neighbors p99 at
  --clients clients (tests/bench/query_server.py's load generator), the server's start time and memory,
  once on the IVF index and (unless --no-exact-server) once on the exact one.
With --work DIR the runs are built under DIR/n<frames>, and a stage DIR already holds is reused (figures
from its build.json): `--keep --build-only` builds and keeps them, a rerun on the same DIR only measures.
`--frames 20000 --no-server` takes about a minute; --frames 10000000 builds about 21 GB under --work.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from unitscope.probe import ivf_index  # noqa: E402

from tests.bench.frame_index_build import build  # noqa: E402
from tests.bench.frame_index_serve import search_figures, serve_figures  # noqa: E402
from tests.bench.standin_dataset import frame_keys  # noqa: E402


def one_size(n: int, args, work: Path) -> dict:
    root = work / f"n{n}"
    out, draw = build(n, args, root)
    if args.build_only:
        return out
    queries = draw(args.queries, np.random.default_rng(99))  # held out: never stored
    run = str(root / "run")
    out["load_avg_before_search"] = os.getloadavg()
    out["search"] = search_figures(run, queries, args.nprobe or [None])
    if args.server:
        keys = frame_keys(root / "dataset", 10_000).to_pylist()  # the load generator's frames
        out["load_avg_before_server"] = os.getloadavg()
        nprobe = (args.nprobe or [None])[0]  # the server searches with the first --nprobe given
        out["server_ivf"] = serve_figures(root, keys, args.clients, args.seconds, exact=False, nprobe=nprobe)
        if args.exact_server:
            out["server_exact"] = serve_figures(root, keys, args.clients, args.seconds, exact=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", default="100000,1000000", help="sizes, comma-separated")
    ap.add_argument("--codes", default="pq32", choices=ivf_index.CODES)
    ap.add_argument("--clusters", type=int, default=2000)
    ap.add_argument("--width", type=int, default=32, help="encoder width (conv4: 8x width dimensions)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--nprobe", type=int, action="append", help="lists probed (repeatable; default: built)")
    ap.add_argument("--no-server", dest="server", action="store_false")
    ap.add_argument(
        "--no-exact-server",
        dest="exact_server",
        action="store_false",
        help="skip serving the exact index (tens of minutes of load at 10M frames)",
    )
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--work", default=None, help="folder for the runs (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the runs under --work (a rerun reuses them)")
    ap.add_argument("--build-only", action="store_true", help="build data and indexes, measure nothing")
    args = ap.parse_args()  # fmt: skip
    if (args.keep or args.build_only) and not args.work:
        ap.error("--keep and --build-only need --work DIR")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="unitscope-ivf-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = [int(x) for x in args.frames.split(",")]
    try:
        results = []
        for n in sizes:
            results.append(one_size(n, args, work))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    finally:
        if not (args.keep or args.build_only):
            for n in sizes:
                shutil.rmtree(work / f"n{n}", ignore_errors=True)
            if not args.work:
                shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({
        "cpus": os.cpu_count(), "load_avg": os.getloadavg(), "codes": args.codes, "results": results,
        "targets_at_10M": {"recall_at_10": 0.95, "POST /query/image p99_ms": 250, "ms_per_query_1_thread": 5,
                           "server_peak_rss_mb": 1536, "build_peak_rss_mb": 2048},
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
