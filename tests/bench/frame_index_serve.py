"""The frame-index benchmark's measuring side: search on one thread and on every core, recall@10 of the
IVF index against the exact top 10, and `unitscope serve` under load on the IVF or the exact index."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
from unitscope.probe import frame_index, ivf_index

from tests.helpers import cli_env, free_port

ROOT = Path(__file__).resolve().parents[2]


def search_figures(run: str, queries: np.ndarray, nprobes: list[int | None]) -> list[dict]:
    """Per nprobe (None: the index's default): recall@10 against the exact top 10, and search time on one
    thread and on every core. The exact figures are measured once (at 10M a batch reads 10 GB)."""
    exact = frame_index.FlatFile(run)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    t0 = time.perf_counter()
    _, truth = exact.search(queries, 10)
    exact_batch = time.perf_counter() - t0
    faiss.omp_set_num_threads(1)
    few = queries[: max(3, min(20, 50_000_000 // exact.ntotal))]  # each reads the whole flat file
    t0 = time.perf_counter()
    for q in few:
        exact.search(q[None], 10)
    exact_one = (time.perf_counter() - t0) / len(few)
    out = []
    for nprobe in nprobes:
        ivf = ivf_index.IvfFile(run, ivf_index.read_meta(run), exact, nprobe)
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        t0 = time.perf_counter()
        _, got = ivf.search(queries, 10)
        ivf_batch = time.perf_counter() - t0
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, truth, strict=True)]))
        faiss.omp_set_num_threads(1)
        t0 = time.perf_counter()
        for q in queries:
            ivf.search(q[None], 10)
        ivf_one = (time.perf_counter() - t0) / len(queries)
        out.append({
            "nprobe": ivf.nprobe,
            "recall_at_10": round(recall, 4),
            "exact_ms_per_query_1_thread": round(exact_one * 1000, 2),
            "ivf_ms_per_query_1_thread": round(ivf_one * 1000, 3),
            "exact_queries_per_s_all_cores": round(len(queries) / exact_batch, 1),
            "ivf_queries_per_s_all_cores": round(len(queries) / ivf_batch, 1),
        })  # fmt: skip
    return out


def _status(pid: int) -> dict[str, int]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in lines)
    return {f: int(fields[f].split()[0]) // 1024 for f in ("VmHWM", "VmRSS", "RssAnon", "RssFile")}


def serve_figures(
    root: Path, keys: list[str], clients: int, seconds: float, exact: bool, nprobe: int | None = None
) -> dict:
    """p99 of POST /query/image and GET /neighbors at `clients` clients, the server's start time, and its
    memory: VmHWM (peak, mapped file pages counted), VmRSS, RssAnon (its own) and RssFile (mapped)."""
    from tests.bench.query_server import load, routes, wait_ready

    meta = root / "run" / ivf_index.FRAME_IVF_META
    hidden = meta.with_suffix(".hidden")
    if exact:
        meta.rename(hidden)  # the server then finds the exact flat file only
    port = free_port()
    t0 = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "unitscope", "serve", str(root / "run"), "--port", str(port), "--no-access-log",
         *(["--nprobe", str(nprobe)] if nprobe and not exact else [])],
        cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_ready(url, server, timeout=1800)
        except RuntimeError:
            server.kill()
            raise RuntimeError(f"the server did not start: {server.communicate()[1][-2000:]}") from None
        out: dict = {"start_s": round(time.perf_counter() - t0, 1), "after_start_mb": _status(server.pid)}
        made = routes(["face"], keys)
        made["GET /neighbors"] = lambda rng: ("GET", f"/neighbors?key={rng.choice(keys)}&top=10", {})
        asyncio.run(load(url, made["POST /query/image"], 4, 2.0))  # the encoder loads on first use
        for name in ("POST /query/image", "GET /neighbors"):
            out[name] = asyncio.run(load(url, made[name], clients, seconds, server.pid))
        out["after_load_mb"] = _status(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
        if exact:
            hidden.rename(meta)
    return out
