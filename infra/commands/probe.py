"""`unitscope probe RUN DATASET`: find the units of a trained encoder that became concept detectors."""

from __future__ import annotations

import argparse

from unitscope.infra.options import add_common, add_max_bad_frames, build_config


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
        "--concepts",
        default=None,
        metavar="DIR",
        help="labelled images: DIR/<concept>/*, DIR/none/* (docs/outputs.md)",
    )
    p.add_argument(
        "--exemplars",
        default=None,
        metavar="DIR",
        help="a few images per concept, DIR/<concept>/*, each expanded to its nearest frames (docs/outputs.md)",
    )
    p.add_argument("--layers", default=None, metavar="L1,L2", help="layers to probe (default: all)")
    p.add_argument("--pool", default=None, choices=["max", "mean"], help="spatial pooling (default: max)")
    p.add_argument(
        "--permutations",
        type=int,
        default=None,
        metavar="N",
        help="shuffles of the permutation null (default 199)",
    )
    p.add_argument(
        "--workers", type=int, default=None, help="Ray tasks in flight (default: CPUs); 0 = no Ray"
    )
    add_max_bad_frames(p)
    p.add_argument(
        "--frame-index", dest="frame_index", default=None, choices=["exact", "ivf", "auto"],
        help="frame index for image and neighbour queries: exact scan, approximate IVF re-ranked exactly, "
        "or auto (default): IVF from 200,000 frames",
    )  # fmt: skip
    add_common(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from unitscope.infra.tables import concept_table
    from unitscope.probe.config import ProbeConfig
    from unitscope.probe.probe import run

    cfg = build_config(ProbeConfig, args)
    result = run(cfg)  # checks its inputs before Ray starts
    print(concept_table(result.table, cfg.rule))
    for why in result.skipped_concepts.values():
        print(f"not scored: {why}")
    if result.failed_shards:
        print(f"{len(result.failed_shards)} shard(s) failed or damaged (see probe.json)")
    print(f"{result.frames} frames probed, {result.bad_frames} bad frames")
    if result.damage:
        print(result.damage)
    if result.unreadable_images:
        print(f"{len(result.unreadable_images)} unreadable image(s) skipped")
    print(f"catalogue: {result.catalog}\nreport:    {result.report}")
    return 0
