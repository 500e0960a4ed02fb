"""Benchmark: the query server under 50 concurrent clients, on a catalogue of 100,000 frames.

Builds a stand-in run (real shard/manifest formats, probe-shaped tables, an encoder of the train
stage's family with random weights), starts `unitscope serve` in its own process, and drives it with
50 concurrent keep-alive clients (asyncio + aiohttp, another process) on
GET /concepts/{name}/units, GET /frames/{key}.jpg and POST /query/image. Baseline in the same run:
GET /healthz, the cheapest route through the same stack. Prints JSON: p50/p99 latency (ms), req/s,
and the CPU time the server process and the load generator spent per request (read from /proc on
Linux): on a shared machine req/s and latency move with other work, CPU per request much less.

    python tests/bench/query_server.py [--frames 100000] [--clients 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from tests.bench.standin_run import write_dataset, write_encoder, write_probe  # noqa: E402
from tests.helpers import cli_env, free_port  # noqa: E402


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process `pid` so far (None where /proc is absent)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(url: str, make_request, clients: int, seconds: float, server_pid: int = 0) -> dict:
    """`clients` closed-loop clients for `seconds`; each waits for its answer before the next request."""
    cpu0, own0 = _cpu_seconds(server_pid), time.process_time()
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    conn = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=conn) as session:

        async def client(i: int) -> None:
            nonlocal errors
            rng = random.Random(i)
            while time.perf_counter() < stop:
                method, path, kwargs = make_request(rng)
                t0 = time.perf_counter()
                async with session.request(method, url + path, **kwargs) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        wall = time.perf_counter() - t0
    cpu1, own1 = _cpu_seconds(server_pid), time.process_time()
    lat = np.array(latencies) * 1000
    return {
        "requests": len(lat),
        "errors": errors,
        "req_per_s": round(len(lat) / wall, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "server_cpu_ms_per_req": None if cpu0 is None else round((cpu1 - cpu0) * 1000 / len(lat), 3),
        "client_cpu_ms_per_req": round((own1 - own0) * 1000 / len(lat), 3),
    }


def random_jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def routes(concepts: list[str], keys: list[str]) -> dict:
    """The measured routes, each a function from a seeded RNG to (method, path, request arguments)."""
    images = [random_jpeg(i) for i in range(16)]

    def upload(rng):
        form = aiohttp.FormData()
        form.add_field("file", rng.choice(images), filename="q.jpg", content_type="image/jpeg")
        return "POST", "/query/image?top=10", {"data": form}

    return {
        "GET /healthz (baseline)": lambda rng: ("GET", "/healthz", {}),
        "GET /concepts/{name}/units": lambda rng: ("GET", f"/concepts/{rng.choice(concepts)}/units?top=10", {}),
        "GET /frames/{key}.jpg": lambda rng: ("GET", f"/frames/{rng.choice(keys)}.jpg", {}),
        "POST /query/image": upload,
    }  # fmt: skip


def measure(url: str, server_pid: int, made: dict, clients: int, seconds: float, only: str = "") -> dict:
    """The baseline and each route of `made` whose name holds `only` under `clients` closed-loop clients for
    `seconds`, after a warm-up of the image route (the encoder loads on first use)."""
    asyncio.run(load(url, made["POST /query/image"], 4, 2.0))
    chosen = {n: m for n, m in made.items() if only in n or "baseline" in n}
    results = {
        name: asyncio.run(load(url, make, clients, seconds, server_pid)) for name, make in chosen.items()
    }
    base = results["GET /healthz (baseline)"]["req_per_s"]
    for r in results.values():
        r["throughput_vs_baseline"] = round(r["req_per_s"] / base, 3)
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--only", default="", help="run only the routes whose name contains this")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="unitscope-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        keys = write_dataset(root / "dataset", args.frames, videos=200, shard_frames=5000)
        layers = write_encoder(root / "run")  # the train stage's default architecture, random weights
        concepts = ["face", "cat", "body", "car", "tree"]
        write_probe(root / "run", root / "dataset", keys, layers, concepts, dim=list(layers.values())[-1])
        build_s = time.perf_counter() - t0

        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "unitscope", "serve", str(root / "run"), "--port", str(port), "--no-access-log"],
            cwd=ROOT, env=cli_env(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, server)
            results = measure(url, server.pid, routes(concepts, keys), args.clients, args.seconds, args.only)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(json.dumps({
        "frames": args.frames, "clients": args.clients, "seconds_per_route": args.seconds,
        "cpus": os.cpu_count(), "load_avg_before": os.getloadavg(), "build_s": round(build_s, 1),
        "results": results,
        "targets": {"GET p99_ms": 50, "POST /query/image p99_ms": 250},
    }, indent=1))  # fmt: skip


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            httpx.get(url + "/healthz", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise RuntimeError("the server did not start")


if __name__ == "__main__":
    main()
