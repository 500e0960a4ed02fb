"""Benchmark: the exact frame index against the approximate (IVF) one, at one or more corpus sizes.

    python tests/bench/frame_index.py [--frames 100000,1000000] [--codes pq32] [--no-server]

Not a test: prints JSON. For each size, synthetic frame embeddings with structure (a mixture of
--clusters Gaussian clusters, each stretched along its own low-rank axes, plus a little isotropic noise)
are written in the probe's activation store format, then:
- the exact flat file and the IVF index are each built in a child process: wall time, peak RSS (VmHWM,
  which counts mapped file pages) and peak anonymous RSS (sampled; the process's own memory);
- bytes on disk of each file;
- search latency per query on one thread, and throughput of a batch of queries on every core;
- recall@10 of the IVF index against the exact top 10 over --queries held-out queries (not in the index);
- with a server (`unitscope serve` on a stand-in run whose dataset holds the frames): POST /query/image and
  GET /neighbors p99 at --clients clients (tests/bench/query_server.py's load generator), and the server's
  peak RSS with and without mapped file pages, once on the IVF index and once on the exact one.
`--frames 20000 --no-server` takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import faiss  # noqa: E402
import numpy as np  # noqa: E402
from unitscope.probe import frame_index, ivf_index  # noqa: E402
from unitscope.probe.store import EMBEDDINGS, ActivationStore  # noqa: E402

from tests.helpers import cli_env, free_port  # noqa: E402

CHUNK = 50_000


def mixture(dim: int, clusters: int, seed: int = 0):
    """A function (rows, rng) -> embeddings of the mixture: centres, and per cluster one of 16 shared
    low-rank bases (16 axes, scales falling as 1/sqrt(j)) at its own spread."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    bases = rng.normal(size=(16, 16, dim)).astype(np.float32) / np.sqrt(dim)
    bases *= (1 / np.sqrt(np.arange(1, 17)))[None, :, None].astype(np.float32)
    spread = rng.uniform(2.0, 5.0, clusters).astype(np.float32)

    def draw(rows: int, rng: np.random.Generator) -> np.ndarray:
        which = rng.integers(0, clusters, rows)
        out = centres[which] + rng.normal(0, 0.15, (rows, dim)).astype(np.float32)
        for b in range(16):
            sel = np.flatnonzero(which % 16 == b)
            z = rng.normal(size=(len(sel), 16)).astype(np.float32) * spread[which[sel], None]
            out[sel] += z @ bases[b]
        return out

    return draw


def write_store(run: Path, keys: list[str], draw) -> None:
    store = ActivationStore(str(run))
    rng = np.random.default_rng(1)
    for shard, start in enumerate(range(0, len(keys), CHUNK)):
        part = keys[start : start + CHUNK]
        store.write_chunk(shard, part, {EMBEDDINGS: draw(len(part), rng)})


CHILD = """
import json, sys, threading, time
sys.path.insert(0, {root!r})
peak = [0]
def _anon():
    return next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('RssAnon:'))
def _sample():
    while True:
        peak[0] = max(peak[0], _anon()); time.sleep(0.02)
threading.Thread(target=_sample, daemon=True).start()
from unitscope.probe import frame_index, ivf_index
from unitscope.probe.store import ActivationStore
t0 = time.perf_counter()
{code}
wall = time.perf_counter() - t0
peak[0] = max(peak[0], _anon())
hwm = next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:'))
print(json.dumps({{"s": round(wall, 1), "peak_rss_mb": hwm // 1024, "peak_anon_rss_mb": peak[0] // 1024}}))
"""


def child(code: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT), code=code)],
        capture_output=True, text=True, check=True, env=cli_env(),
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def search_figures(run: str, queries: np.ndarray, nprobe: int | None) -> dict:
    exact = frame_index.FlatFile(run)
    ivf = ivf_index.IvfFile(run, ivf_index.read_meta(run), exact, nprobe)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    t0 = time.perf_counter()
    _, truth = exact.search(queries, 10)
    exact_batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, got = ivf.search(queries, 10)
    ivf_batch = time.perf_counter() - t0
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, truth, strict=True)]))
    faiss.omp_set_num_threads(1)
    few = queries[:20]
    t0 = time.perf_counter()
    for q in few:
        exact.search(q[None], 10)
    exact_one = (time.perf_counter() - t0) / len(few)
    t0 = time.perf_counter()
    for q in queries:
        ivf.search(q[None], 10)
    ivf_one = (time.perf_counter() - t0) / len(queries)
    return {
        "nprobe": ivf.nprobe,
        "recall_at_10": round(recall, 4),
        "exact_ms_per_query_1_thread": round(exact_one * 1000, 2),
        "ivf_ms_per_query_1_thread": round(ivf_one * 1000, 3),
        "exact_queries_per_s_all_cores": round(len(queries) / exact_batch, 1),
        "ivf_queries_per_s_all_cores": round(len(queries) / ivf_batch, 1),
    }


def serve_figures(root: Path, keys: list[str], clients: int, seconds: float, exact: bool) -> dict:
    from tests.bench.query_server import load, routes, wait_ready

    meta = root / "run" / ivf_index.FRAME_IVF_META
    hidden = meta.with_suffix(".hidden")
    if exact:
        meta.rename(hidden)  # the server then finds the exact flat file only
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "unitscope", "serve", str(root / "run"), "--port", str(port), "--no-access-log"],
        cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, server)
        made = routes(["face"], keys)
        made["GET /neighbors"] = lambda rng: ("GET", f"/neighbors?key={rng.choice(keys)}&top=10", {})
        asyncio.run(load(url, made["POST /query/image"], 4, 2.0))  # the encoder loads on first use
        out = {
            name: asyncio.run(load(url, made[name], clients, seconds, server.pid))
            for name in ("POST /query/image", "GET /neighbors")
        }
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{server.pid}/status").read_text().splitlines()
        )
        for field in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            out[f"server_{field}_mb"] = int(status[field].split()[0]) // 1024
    finally:
        server.terminate()
        server.wait(timeout=30)
        if exact:
            hidden.rename(meta)
    return out


def one_size(n: int, args, work: Path) -> dict:
    from tests.bench.standin_run import write_dataset, write_encoder, write_probe

    root = work / f"n{n}"
    root.mkdir(parents=True)
    t0 = time.perf_counter()
    layers = write_encoder(root / "run", width=args.width)
    dim = list(layers.values())[-1]
    if args.server:
        keys = write_dataset(root / "dataset", n, videos=200, shard_frames=5000)
        write_probe(root / "run", root / "dataset", keys[:1000], layers, ["face"], dim=dim)
    else:
        keys = [f"{i // 1000:016x}-{i % 1000:07d}" for i in range(n)]
    draw = mixture(dim, args.clusters)
    write_store(root / "run", keys, draw)
    queries = draw(args.queries, np.random.default_rng(99))  # held out: never stored
    made_s = time.perf_counter() - t0
    run = str(root / "run")
    exact = child(f"frame_index.write({run!r}, ActivationStore({run!r}).iter_chunks('embeddings'))")
    params = ivf_index.choose(n, args.codes)
    ivf = child(f"print(ivf_index.build({run!r}, ivf_index.choose({n}, {args.codes!r})), file=sys.stderr)")
    sizes = {
        name: os.path.getsize(root / "run" / name)
        for name in (frame_index.FRAME_INDEX, ivf_index.FRAME_IVF, ivf_index.FRAME_IVF_DATA)
    }
    out = {
        "frames": n,
        "dim": dim,
        "data_s": round(made_s, 1),
        "ivf_params": params.__dict__,
        "build": {"exact": exact, "ivf": ivf},
        "bytes": sizes,
        "search": [search_figures(run, queries, p) for p in args.nprobe or [None]],
    }
    if args.server:
        out["server_ivf"] = serve_figures(root, keys, args.clients, args.seconds, exact=False)
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
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--work", default=None, help="folder for the runs (default: a temporary one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="unitscope-ivf-", dir=args.work) as tmp:
        results = []
        for n in [int(x) for x in args.frames.split(",")]:
            results.append(one_size(n, args, Path(tmp)))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(json.dumps({
        "cpus": os.cpu_count(), "load_avg": os.getloadavg(), "codes": args.codes, "results": results,
        "targets_at_10M": {"recall_at_10": 0.95, "POST /query/image p99_ms": 250, "ms_per_query_1_thread": 5,
                           "server_peak_rss_mb": 1536, "build_peak_rss_mb": 2048},
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
