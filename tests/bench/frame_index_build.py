"""The frame-index benchmark's build side: a stand-in probed run of N frames, and both frame indexes, each
stage skipped when a kept work folder already holds it (its figures are read back from `build.json`).

Stages, in order: the dataset (with a server), the run's encoder and probe tables, the activation store,
the exact flat file (with probe.json's digest of it, as the probe records), the IVF index. Each index is
built in a child process, which reports its wall time, peak RSS (VmHWM, counting mapped file pages) and
peak anonymous RSS (sampled: the process's own memory).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from unitscope.probe import catalog, ivf_index

from tests.bench.frame_corpus import Draw, mixture, write_store
from tests.bench.standin_dataset import frame_keys, make_keys, write_dataset
from tests.helpers import cli_env

ROOT = Path(__file__).resolve().parents[2]
BUILD_JSON = "build.json"

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


class Built:
    """What a size's work folder holds, recorded stage by stage in its build.json."""

    def __init__(self, root: Path):
        self.root = root
        self.path = root / BUILD_JSON
        self.done: dict = json.loads(self.path.read_text()) if self.path.exists() else {}

    def stage(self, name: str, make) -> dict:
        """The figures of stage `name`: recorded ones, or those of `make()` (run now, then recorded)."""
        if name not in self.done:
            t0 = time.perf_counter()
            got = make() or {}
            self.done[name] = {"s": round(time.perf_counter() - t0, 1), **got}
            self.path.write_text(json.dumps(self.done, indent=1))
            print(
                f"built {self.root.name} {name}: {json.dumps(self.done[name])}", file=sys.stderr, flush=True
            )
        return self.done[name]


def _probe_tables(run: Path, dataset: Path, width: int) -> dict:
    from tests.bench.standin_run import write_encoder, write_probe

    layers = write_encoder(run, width=width)
    sample = frame_keys(dataset, 1000).to_pylist() if dataset.exists() else [f"{i:024d}" for i in range(64)]
    write_probe(run, dataset, sample, layers, ["face"], dim=list(layers.values())[-1])
    return {"dim": list(layers.values())[-1]}


def _record_index(run: Path, kind: dict) -> dict:
    """probe.json's frame-index fields, as the probe writes them: the kind and the flat file's digest."""
    from unitscope.core.storage import file_sha256

    t0 = time.perf_counter()
    info = json.loads((run / catalog.PROBE_JSON).read_text())
    info["frame_index"] = kind
    info["frame_index_sha256"] = file_sha256(str(run / catalog.FRAME_INDEX))
    (run / catalog.PROBE_JSON).write_text(json.dumps(info, indent=1))
    return {"digest_s": round(time.perf_counter() - t0, 1)}


def build(n: int, args, root: Path) -> tuple[dict, Draw]:
    """Every stage of size `n` under `root` (kept ones reused); returns the build figures and the draw of
    the mixture (for held-out queries)."""
    root.mkdir(parents=True, exist_ok=True)
    run, dataset = root / "run", root / "dataset"
    built = Built(root)
    if args.server:
        built.stage("dataset", lambda: write_dataset(dataset, n))
    dim = built.stage("probe_tables", lambda: _probe_tables(run, dataset, args.width))["dim"]
    draw = mixture(dim, args.clusters)

    def store() -> dict:
        keys = frame_keys(dataset) if args.server else make_keys(n)
        return {"chunks_written": write_store(str(run), keys, draw)}

    built.stage("store", store)
    r = str(run)
    exact = built.stage(
        "exact", lambda: child(f"frame_index.write({r!r}, ActivationStore({r!r}).iter_chunks('embeddings'))")
    )
    params = ivf_index.choose(n, args.codes)
    ivf = built.stage("ivf", lambda: child(f"ivf_index.build({r!r}, ivf_index.choose({n}, {args.codes!r}))"))
    built.stage(
        "probe_json", lambda: _record_index(run, json.loads((run / ivf_index.FRAME_IVF_META).read_text()))
    )
    out = {
        "frames": n,
        "dim": dim,
        "data_s": round(
            sum(built.done[s]["s"] for s in ("dataset", "probe_tables", "store") if s in built.done), 1
        ),
        "ivf_params": params.__dict__,
        "build": {"exact": exact, "ivf": ivf},
        "bytes": {
            name: (run / name).stat().st_size
            for name in (catalog.FRAME_INDEX, ivf_index.FRAME_IVF, ivf_index.FRAME_IVF_DATA)
        },
    }
    return out, draw
