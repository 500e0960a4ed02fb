"""Benchmark: `unitscope demo` on its default budget; prints the concept table and the bar as JSON.

Per concept: the best unit (chosen on one half of the held-out videos, scored on the other), its held-out
AUC and accuracy, the random-weights control, the permutation p, the linear probe on all units (and on the
random weights' units), and whether the unit is a detector under the one definition (probe/detector.py).
The bar: at least one concept has a detector; also the wall time against its budget of
600 s on 2 cores, with the machine's CPU count and load (other work on the machine slows it).

    python tests/bench/demo_quality.py [OUT] [--config FILE] [--profile cpu|gpu|auto]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from unitscope.infra import options
from unitscope.infra.demo import DemoConfig, run

from unitscope.core.ray_runtime import ensure_ray

FIELDS = ("concept", "unit", "auc", "accuracy", "random_auc", "random_unit", "p_value", "linear_auc",
          "random_linear_auc", "is_detector")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default=None)
    ap.add_argument("--config", default=None)
    ap.add_argument("--profile", default=None, choices=["cpu", "gpu", "auto"])
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="unitscope-demo-")
    cfg = options.build_config(DemoConfig, argparse.Namespace(config=a.config, profile=a.profile), out=out)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    ensure_ray(cfg.address)
    result = run(cfg)
    wall = time.perf_counter() - t0
    table = [{k: r.get(k) for k in FIELDS} for r in sorted(result.table, key=lambda r: r["concept"])]
    report = {
        "bench": "demo_quality",
        "profile": cfg.profile,
        "train": {**cfg.train, "videos": cfg.train_videos},
        "probe_videos": cfg.probe_videos,
        "detector_rule": result.rule,
        "table": table,
        "detectors": [r["concept"] for r in table if r["is_detector"]],
        "bar_met": any(r["is_detector"] for r in table),
        "wall_s": round(wall, 1),
        "stage_s": result.seconds,
        "budget_s": 600,
        "cpus": os.cpu_count(),
        "load_avg_start": round(load0, 2),
        "load_avg_end": round(os.getloadavg()[0], 2),
        "report": result.report,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
