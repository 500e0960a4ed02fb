"""What checking shards costs: ingest, the train loader's read + decode and probe's activations, per frame
in wall and CPU time, for this checkout against the tree before the checks (a `git worktree` of
BASE_COMMIT, or --base DIR), on the same input in the same run, interleaved.

    python tests/bench/integrity_overhead.py [--base DIR] [--clips 8] [--frames 300] [--repeat 3]

CPU time (user + sys of the stage's process and its children, after the imports) is what to read on a
machine shared with other jobs: wall time there measures the other jobs. Each stage runs on one thread.

Each measurement runs in a fresh process with `unitscope.*` imported from the tree measured (a meta-path
finder put in front of the installed one), in this process (no Ray), so a per-frame cost shows in full:
    ingest   `pipeline.ingest.run` of the clips (one decoder thread), every frame at 64 px, into a new folder
    loader   every shard read through `train.shards.read_part` and each JPEG decoded (the loader's work)
    probe    `probe.activations.activate_shard` over every shard (read, decode, a small conv encoder)
The runs alternate base / this tree `--repeat` times; each keeps its best. Then each stage runs once more
in this tree under cProfile on process time, to sum the CPU spent in the checks' own functions. Prints
JSON: per stage the microseconds a frame and the throughput ratio checked / unchecked (wall and CPU), the
checks' share of the stage's CPU time, and the load average.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE_COMMIT = "77b6cb9"  # main just before the integrity checks
TREES = ("unchecked", "checked")  # the base tree, this one
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
PARTS = {"unitscope": "unitscope", "unitscope.pipeline": "pipeline", "unitscope.train": "train",
         "unitscope.probe": "probe", "unitscope.infra": "infra"}  # fmt: skip

CHILD = r"""
import importlib.abc, importlib.util, io, json, os, shutil, sys, time
tree, what, work = sys.argv[1], sys.argv[2], sys.argv[3]
parts = json.loads(sys.argv[4])

class Tree(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        for pkg, folder in sorted(parts.items(), key=lambda p: -len(p[0])):
            if name == pkg or name.startswith(pkg + "."):
                rel = name[len(pkg):].lstrip(".").replace(".", "/")
                base = os.path.join(tree, folder, rel) if rel else os.path.join(tree, folder)
                if os.path.isdir(base):
                    return importlib.util.spec_from_file_location(
                        name, os.path.join(base, "__init__.py"), submodule_search_locations=[base])
                if os.path.exists(base + ".py"):
                    return importlib.util.spec_from_file_location(name, base + ".py")
                return None
        return None

sys.meta_path.insert(0, Tree())
from PIL import Image
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.ingest import run
from unitscope.pipeline.dataset import Dataset
from unitscope.probe import activations, probe
from unitscope.train import shards
src, ds = os.path.join(work, "clips"), os.path.join(work, "ds")
import resource
def cpu_s():  # user + sys of this process (its threads) and the children it waited for, to the us
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime
def stage():
    if what == "ingest":
        out = os.path.join(work, "ingest-" + str(os.getpid()))
        n = run(IngestConfig(src=src, out=out, fps=0, size=64, shard_frames=400, workers=0, threads=1,
                             progress=False)).frames
        shutil.rmtree(out)
        return n
    if what == "loader":
        found = shards.list_records(ds) if hasattr(shards, "list_records") else shards.list_shards(ds)
        n = 0
        for part in shards.plan_parts(found, 1):
            for f in shards.read_part(part, 0, {}):
                Image.open(io.BytesIO(f.jpg)).convert("RGB")
                n += 1
        return n
    run_dir = os.path.join(work, "run-" + str(os.getpid()))
    shutil.copytree(os.path.join(work, "run"), run_dir)
    listed, _ = probe.list_shards(Dataset(ds))
    layers = tuple(json.load(open(os.path.join(run_dir, "encoder.json")))["layers"])
    spec = activations.EncodeSpec(run_dir, layers, "max", 0, True, 64, "cpu")
    tasks = [activations.ActivationTask(spec, r.index, r.url, r) if hasattr(r, "url")
             else activations.ActivationTask(spec, r[0], r[1]) for r in listed]
    n = sum(activations.activate_shard(t).frames for t in tasks)
    shutil.rmtree(run_dir)
    return n

def is_check(fn, name):  # the checks' own code; ingest hashed its shards before the checks too
    hashing = name.startswith(("<method 'update' of '_hashlib", "<method 'hexdigest' of '_hashlib",
                               "<built-in method _hashlib"))
    return (fn.endswith(("shard_check.py", "repair.py")) or (hashing and what != "ingest")
            or name in ("sha256_hex", "check_digest", "recorded_digest", "digests", "intact", "_partial"))

if len(sys.argv) > 5:  # the checks' share: CPU in their functions, profiled on process time
    import cProfile, pstats
    prof = cProfile.Profile(time.process_time)
    n = prof.runcall(stage)
    stats = pstats.Stats(prof).stats
    print(json.dumps({"frames": n, "checks_cpu": sum(v[2] for (fn, _, name), v in stats.items()
                                                      if is_check(fn, name))}))
    sys.exit()
t0, c0 = time.perf_counter(), cpu_s()  # after the imports: their time is not the stages' throughput
n = stage()
print(json.dumps({"frames": n, "seconds": time.perf_counter() - t0, "cpu": cpu_s() - c0}))
"""


def measure(tree: Path, what: str, work: Path, profile: bool = False) -> dict:
    """One stage in a fresh process on one thread (torch's idle threads spin, which CPU time would count);
    `profile`: the CPU seconds in the checks' own functions instead."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **dict.fromkeys(THREAD_VARS, "1")}
    argv = [
        sys.executable,
        "-c",
        CHILD,
        str(tree),
        what,
        str(work),
        json.dumps(PARTS),
        *["profile"][:profile],
    ]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def setup(work: Path, clips: int, frames: int) -> None:
    """Clips of moving noise at 64 px, their dataset (this tree's ingest) and a run with a small encoder."""
    import av
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from unitscope.pipeline.config import IngestConfig
    from unitscope.pipeline.ingest import run

    from tests.probe.tiny_dataset import write_run

    (work / "clips").mkdir(parents=True)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (160, 400, 3), dtype=np.uint8)
    for c in range(clips):
        with av.open(str(work / "clips" / f"clip-{c}.mp4"), "w") as out:
            stream = out.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
            for t in range(frames):
                img = np.ascontiguousarray(base[20:140, (c * 7 + t) % 240 :][:, :160])
                out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
            out.mux(stream.encode())
    run(IngestConfig(src=str(work / "clips"), out=str(work / "ds"), fps=0, size=64, shard_frames=400,
                     workers=0, progress=False))  # fmt: skip
    write_run(work / "run", size=64)


@contextlib.contextmanager
def base_tree(base: str | None) -> Iterator[Path]:
    """The tree to compare with: `base` when given, else a `git worktree` of BASE_COMMIT, removed after."""
    if base:
        yield Path(base)
        return
    path = Path(tempfile.mkdtemp(prefix="unitscope-base-")) / "tree"
    git = ["git", "-C", str(ROOT)]
    subprocess.run(
        [*git, "worktree", "add", "--detach", str(path), BASE_COMMIT], check=True, capture_output=True
    )
    try:
        yield path
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(path)], check=False, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--base", default=None, help=f"the tree to compare with (default: a git worktree of {BASE_COMMIT})"
    )
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="ingest,loader,probe")
    args = ap.parse_args()
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    work = Path(tempfile.mkdtemp(prefix="unitscope-integrity-"))
    setup(work, args.clips, args.frames)
    kinds = args.only.split(",")
    wall = {(k, t): math.inf for k in kinds for t in TREES}  # seconds a frame, the best of the repeats
    cpu = dict(wall)
    load = [os.getloadavg()[0]]
    with base_tree(args.base) as base:
        for _ in range(args.repeat):
            for k in kinds:
                for t, tree in zip(TREES, (base, ROOT), strict=True):
                    doc = measure(tree, k, work)
                    wall[k, t] = min(wall[k, t], doc["seconds"] / doc["frames"])
                    cpu[k, t] = min(cpu[k, t], doc["cpu"] / doc["frames"])
            load.append(os.getloadavg()[0])
    share = {k: measure(ROOT, k, work, profile=True) for k in kinds}
    shutil.rmtree(work, ignore_errors=True)
    result = {
        "frames": args.clips * args.frames,
        "repeat": args.repeat,
        "base": str(args.base or BASE_COMMIT),
        "load_avg_1min": [round(x, 2) for x in load],
        **{
            f"{k}_us_per_frame": {
                f"{m}_{t}": round(d[k, t] * 1e6, 1) for m, d in (("wall", wall), ("cpu", cpu)) for t in TREES
            }
            for k in kinds
        },
        # throughput of the checked tree over the unchecked one's: >= 0.97 is what the checks may cost
        **{
            f"{k}_ratio": {
                m: round(d[k, "unchecked"] / d[k, "checked"], 3) for m, d in (("wall", wall), ("cpu", cpu))
            }
            for k in kinds
        },
        # CPU in the checks' own functions over the checked tree's best CPU time: what they cost, less
        # exposed to the other jobs than the ratios (under the profiler, per-call timing adds to it)
        **{
            f"{k}_checks_share": round(share[k]["checks_cpu"] / share[k]["frames"] / cpu[k, "checked"], 4)
            for k in kinds
        },
        "started": started,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
