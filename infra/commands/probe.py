"""`unitscope probe RUN DATASET`: find the units of a trained encoder that became concept detectors."""

from __future__ import annotations

import argparse

from infra.options import add_common, build_config
from infra.runtime import init_ray


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "probe",
        help="find the units that became concept detectors (FAISS), with controls, catalogue and report",
        description="Compute every unit's response on every frame, search the units against concept "
        "labels with FAISS, check them against random weights and a permutation null, and write "
        "RUN/probe/catalog.parquet, units.parquet, a frame index and report.html.",
    )
    p.add_argument("run", metavar="RUN", help="run directory written by `unitscope train`")
    p.add_argument("dataset", metavar="DATASET", help="dataset directory written by `unitscope ingest`")
    p.add_argument(
        "--concepts", default=None, metavar="DIR", help="labelled images: DIR/<concept>/*, DIR/none/*"
    )
    p.add_argument(
        "--exemplars", default=None, metavar="DIR", help="a few images per concept, expanded by k-NN"
    )
    p.add_argument("--layers", default=None, metavar="L1,L2", help="layers to probe (default: all)")
    p.add_argument("--pool", default=None, choices=["max", "mean"], help="spatial pooling (default: max)")
    p.add_argument(
        "--permutations", type=int, default=None, metavar="N", help="shuffles of the permutation null (199)"
    )
    p.add_argument(
        "--workers", type=int, default=None, help="Ray tasks in flight (default: CPUs); 0 = no Ray"
    )
    add_common(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from probe.config import ProbeConfig
    from probe.probe import check_inputs, run

    cfg = build_config(ProbeConfig, args)
    check_inputs(cfg)
    if cfg.workers != 0:
        init_ray(cfg.address)
    result = run(cfg)
    print(format_table(result.table))
    if result.skipped_concepts:
        print(f"not scored: {', '.join(result.skipped_concepts)} (see probe.json)")
    if result.failed_shards:
        print(f"{len(result.failed_shards)} shard(s) failed (see probe.json)")
    if result.unreadable_images:
        print(f"{len(result.unreadable_images)} unreadable image(s) skipped")
    print(f"catalogue: {result.catalog}\nreport:    {result.report}")
    return 0


def format_table(rows: list[dict]) -> str:
    """The concept table: best unit, held-out scores, the random control, p, detector."""
    head = f"{'concept':<14} {'labels':<9} {'best unit':<12} {'AUC':>6} {'acc':>6} {'random':>7} {'p':>7}  detector"
    lines = [head, "-" * len(head)]
    for r in sorted(rows, key=lambda r: (r["label_source"], r["concept"])):
        lines.append(
            f"{r['concept']:<14} {r['label_source']:<9} {r['unit']:<12} {r['auc']:>6.3f} {r['accuracy']:>6.3f} "
            f"{r['random_auc']:>7.3f} {r['p_value']:>7.4f}  {'yes' if r['is_detector'] else 'no'}"
        )
    return "\n".join(lines)
