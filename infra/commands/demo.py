"""`unitscope demo [OUT]`: synth → ingest → train → probe on the embedded default, then the concept table."""

from __future__ import annotations

import argparse

from unitscope.infra.options import add_common, add_profile, build_config

from unitscope.core.ray_runtime import ensure_ray

# The default demo's wall time on 2 quiet cores, as the help and README.md say it; docs/benchmarks.md
# ("`unitscope demo` wall time") holds the measurements, and tests/infra/test_demo_minutes.py all three.
MINUTES = 4


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help=f"the whole experiment on a synthetic corpus, locally (about {MINUTES} minutes on 2 quiet cores, "
        "several times that when other work shares them)",
        description="Synthesize a training and a held-out probe corpus, ingest both, train an encoder "
        "without labels, probe its units for the planted concepts, and print the concept table.",
    )
    p.add_argument(
        "out", metavar="OUT", nargs="?", default=None, help="output folder (default unitscope-demo)"
    )
    add_profile(p, "temporal conv4 width 128 on 128 clips; cpu (default without CUDA) = K-means units")
    add_common(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from unitscope.infra.demo import DemoConfig, run
    from unitscope.infra.tables import concept_table
    from unitscope.probe.detector import DetectorRule
    from unitscope.train.profiles import check_available

    cfg = build_config(DemoConfig, args)
    check_available(cfg.profile, cfg.address)
    ensure_ray(cfg.address)
    result = run(cfg)
    print(concept_table(result.table, DetectorRule.from_dict(result.rule)))
    print("stage seconds:", ", ".join(f"{k} {v:.0f}" for k, v in result.seconds.items()))
    print(f"report: {result.report}")
    from unitscope.infra.demo_dissect import ranges_text

    for entry in result.dissections:
        print(ranges_text(entry))
    return 0
