"""Benchmark: the default `unitscope demo` over several seed pairs, because a detector on one seed is an anecdote.

For train seeds 1-5 paired with probe seeds 1001-1005 (`--seeds`, `--probe-offset`) it runs the demo as a
user would with other seeds, each pair in its own folder under OUT (so a recipe change reuses the
synthesized and ingested corpora and redoes only train and probe), and prints per seed and concept: the
rank-1 unit, its held-out AUC, the random-weights control's AUC, the permutation p, whether it is a detector,
and the same unit choice made the other way round (the evaluation half selects, the selection half scores:
`flip_auc`, `flip_random_auc`). Summary rows give per concept the median and range of each figure and the
number of seeds with a detector; the last line is JSON. A seed pair whose result was written with the same
settings is not run again (delete OUT/t*-p*/seeds-*.json to redo it).

    python tests/bench/demo_seeds.py [OUT] [--seeds 1-5] [--jobs 1] [--config FILE] [--profile cpu]

AUCs are deterministic for a given recipe; wall times depend on what else runs on the machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

FIELDS = ("unit", "auc", "random_auc", "p_value", "is_detector", "flip_unit", "flip_auc", "flip_random_auc")


def seed_list(text: str) -> list[int]:
    """'1-5' or '1,3,11' -> seeds."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def flipped(run: str, dataset: str, probe: dict) -> dict[str, dict]:
    """Per concept: the rank-1 unit when the probe's evaluation half selects and its selection half scores,
    for the trained network and the random-weights control (from the activations the probe stored)."""
    from unitscope.probe.catalog import unit_name
    from unitscope.probe.concepts import dataset_labels
    from unitscope.probe.config import ProbeConfig
    from unitscope.probe.search import UnitIndex
    from unitscope.probe.selection import select_and_evaluate
    from unitscope.probe.splits import split_mask
    from unitscope.probe.store import ActivationStore

    cfg = ProbeConfig(**{**probe, "run": run, "dataset": dataset})
    store = ActivationStore(run)
    units = store.read_meta().units
    cs = dataset_labels(dataset, store, cfg.max_labelled_frames, cfg.seed)
    sel = ~split_mask(cs.groups, cfg.select_fraction, cfg.seed, cs.strata)  # the other half selects
    acts = {n: store.gather(n, cs.items) for n in ("trained", "random")}
    index = {n: UnitIndex(a[sel], cfg.exact_max_units, cfg.seed) for n, a in acts.items()}
    out = {}
    for concept, y in cs.labels.items():
        best = {n: select_and_evaluate(index[n], acts[n][~sel], y[sel], y[~sel], cfg.candidates, 1)[0]
                for n in acts}  # fmt: skip
        out[concept] = {"flip_unit": unit_name(*units[best["trained"].unit]),
                        "flip_auc": best["trained"].auc, "flip_random_auc": best["random"].auc}  # fmt: skip
    return out


def one(train_seed: int, probe_seed: int, out: str, config: dict, profile: str | None) -> dict:
    """Run the demo for one seed pair (in this process) and return its rows."""
    from unitscope.infra.demo import PROBE, DemoConfig, run

    from unitscope.core.ray_runtime import ensure_ray

    cfg = DemoConfig(**{**config, "out": out, "train_seed": train_seed, "probe_seed": probe_seed,
                        **({"profile": profile} if profile else {})})  # fmt: skip
    t0 = time.perf_counter()
    if cfg.probe.get("workers") != 0:  # the stages that run in-process need no Ray to start
        ensure_ray(cfg.address)
    result = run(cfg)
    wall = time.perf_counter() - t0
    flip = flipped(f"{result.out}/run", f"{result.out}/data-probe", {**PROBE, **cfg.probe})
    rows = {}
    for r in result.table:
        rows[r["concept"]] = {**{k: r.get(k) for k in FIELDS if k in r}, **flip.get(r["concept"], {})}
    return {"train_seed": train_seed, "probe_seed": probe_seed, "wall_s": round(wall, 1),
            "stage_s": result.seconds, "rows": rows}  # fmt: skip


def run_pair(args, seed: int, config: dict, key: str) -> dict:
    """One seed pair in a child process (its own local Ray), or its stored result."""
    folder = Path(args.out) / f"t{seed}-p{seed + args.probe_offset}"
    done = folder / f"seeds-{key}.json"
    if done.exists():
        return json.loads(done.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, "--one", str(seed), str(seed + args.probe_offset), str(folder),
           json.dumps(config), args.profile or ""]  # fmt: skip
    load0 = os.getloadavg()[0]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        return {
            "train_seed": seed,
            "error": [f"exit {proc.returncode}", *proc.stderr.strip().splitlines()[-3:]],
        }
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["load_avg_start"] = round(load0, 2)
    done.write_text(json.dumps(res))
    return res


def summary(results: list[dict]) -> dict[str, dict]:
    ok = [r for r in results if "rows" in r]
    concepts = sorted({c for r in ok for c in r["rows"]})
    out = {}
    for c in concepts:
        rows = [r["rows"][c] for r in ok if c in r["rows"]]
        out[c] = {k: {"median": round(statistics.median(v), 3), "min": round(min(v), 3), "max": round(max(v), 3)}
                  for k in ("auc", "random_auc", "p_value", "flip_auc", "flip_random_auc")
                  if (v := [row[k] for row in rows if row.get(k) is not None])}  # fmt: skip
        out[c]["detector_seeds"] = sum(bool(row.get("is_detector")) for row in rows)
    out["seeds_with_a_detector"] = sum(any(row.get("is_detector") for row in r["rows"].values()) for r in ok)
    out["seeds"] = len(ok)
    return out


def table(results: list[dict], summ: dict) -> str:
    lines = ["| seeds | concept | unit | AUC | random | p | detector | other half: unit | AUC | random |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for r in results:
        if "rows" not in r:
            lines.append(f"| {r['train_seed']} | error: {r.get('error')} |")
            continue
        for c, row in sorted(r["rows"].items()):
            lines.append(
                f"| {r['train_seed']}/{r['probe_seed']} | {c} | {row['unit']} | {row['auc']:.3f} | "
                f"{row['random_auc']:.3f} | {row['p_value']:.3f} | {'yes' if row['is_detector'] else 'no'} | "
                f"{row.get('flip_unit')} | {row.get('flip_auc', float('nan')):.3f} | "
                f"{row.get('flip_random_auc', float('nan')):.3f} |"
            )
    for c, s in summ.items():
        if not isinstance(s, dict):
            continue

        def f(k: str, s=s) -> str:
            v = s.get(k)
            return f"{v['median']:.3f} ({v['min']:.3f}-{v['max']:.3f})" if v else "-"

        lines.append(f"| median (range) | {c} | | {f('auc')} | {f('random_auc')} | {f('p_value')} | "
                     f"{s['detector_seeds']}/{summ['seeds']} seeds | | {f('flip_auc')} | {f('flip_random_auc')} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        t, p, out, config, profile = sys.argv[2:7]
        print(json.dumps(one(int(t), int(p), out, json.loads(config), profile or None), default=float))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default="/tmp/unitscope-demo-seeds")
    ap.add_argument("--seeds", default="1-5", help="train seeds: '1-5' or '1,2,11'")
    ap.add_argument("--probe-offset", type=int, default=1000, help="probe seed = train seed + this")
    ap.add_argument("--jobs", type=int, default=1, help="seed pairs run at once (each with its own Ray)")
    ap.add_argument("--config", default=None, help="demo config overrides (JSON or YAML), as `demo --config`")
    ap.add_argument("--profile", default="cpu", choices=["cpu", "gpu", "auto"])
    ap.add_argument("--key", default=None, help="report the stored results of this key (an earlier recipe)")
    ap.add_argument(
        "--no-ray",
        action="store_true",
        help="synth, ingest and probe in-process (several local Rays started at once on a busy machine time out)",
    )
    args = ap.parse_args()
    config: dict = {}
    if args.config:
        import yaml

        config = yaml.safe_load(Path(args.config).read_text()) or {}
    if args.no_ray:  # same numbers (every stage is deterministic), no local Ray per pair to start
        for stage in ("synth", "ingest", "probe"):
            config[stage] = {"workers": 0, **config.get(stage, {})}
    from unitscope.infra import demo

    # The key covers the overrides and the demo's embedded recipe, so a recipe change reruns the seeds.
    recipe = {
        k: getattr(demo, k) for k in ("SYNTH", "PROBE_SECONDS", "FRAME_SIZE", "INGEST", "TRAIN", "PROBE")
    }
    from unitscope.train import config as train_config
    from unitscope.train import profiles

    recipe.update(profiles=profiles.PROFILES, corpus=profiles.DEMO_CORPUS,
                  train_defaults=train_config.TrainConfig.model_json_schema())  # fmt: skip
    # How many workers (and whether Ray) does not change a figure, so it is not part of the key.
    numbers = {k: {o: v for o, v in s.items() if o != "workers"} if isinstance(s, dict) else s
               for k, s in config.items()}  # fmt: skip
    numbers = {k: s for k, s in numbers.items() if s != {}}
    key = hashlib.sha256(json.dumps([numbers, args.profile, recipe], sort_keys=True, default=str).encode())
    key = args.key or key.hexdigest()[:12]
    seeds = seed_list(args.seeds)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(lambda s: run_pair(args, s, config, key), seeds))
    summ = summary(results)
    print(table(results, summ), file=sys.stderr)
    report = {"bench": "demo_seeds", "profile": args.profile, "config": config, "key": key,
              "seeds": [[s, s + args.probe_offset] for s in seeds], "results": results, "summary": summ,
              "wall_s": round(time.perf_counter() - t0, 1), "cpus": os.cpu_count(),
              "note": "AUCs are deterministic; wall_s depends on the machine's load (load_avg_start)"}  # fmt: skip
    print(json.dumps(report, default=float))


if __name__ == "__main__":
    main()
