"""`unitscope synth OUT`: write the planted-concept corpus (clips, label sidecars, corpus.json)."""

from __future__ import annotations

import argparse
import json

from unitscope.infra.options import add_common, build_config, epilog_when_shown

from unitscope.core.ray_runtime import ensure_ray


def _concepts() -> str:
    from unitscope.pipeline.synth.concepts import CONCEPT_KINDS

    return "planted concepts (pipeline/synth/concepts.py): " + ", ".join(CONCEPT_KINDS)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="planted-concept corpus: clips with cluttered backgrounds, planted figures, per-frame labels",
        description="Write N H.264 clips with planted concepts (listed below) and distractors to OUT, each "
        "with a <name>.mp4.labels.json sidecar, plus corpus.json. OUT already holding the corpus these "
        "settings make is kept; one made with other settings is replaced.",
    )
    epilog_when_shown(p, _concepts)
    p.add_argument("out", metavar="OUT", help="output directory (local path or fsspec URL)")
    p.add_argument("--videos", type=int, default=None, help="number of clips (default 8)")
    p.add_argument("--seconds", type=float, default=None, help="seconds per clip (default 10)")
    p.add_argument("--fps", type=float, default=None, help="frames per second (default 30)")
    p.add_argument(
        "--size", type=int, default=None, metavar="PX", help="frame height, width 16:9 (default 360)"
    )
    p.add_argument("--seed", type=int, default=None, help="corpus seed (default 0)")
    p.add_argument(
        "--workers", type=int, default=None, help="Ray tasks at once (default: CPUs); 0 = in this process"
    )
    p.add_argument("--preview", default=None, metavar="PNG", help="also write a labelled contact sheet here")
    add_common(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from unitscope.pipeline.synth import (  # here, not at import: every command builds this parser
        SynthConfig,
        run,
    )

    cfg = build_config(SynthConfig, args)
    if cfg.workers != 0:
        ensure_ray(args.address, num_cpus=cfg.workers)
    result = run(cfg)
    fps = result.frames / result.seconds if result.seconds else 0.0
    if result.reused:
        print(
            f"kept {len(result.clips)} clips, {result.frames} frames in {cfg.out}: made with these settings"
        )
    else:
        print(
            f"wrote {len(result.clips) - len(result.failed)} clips, {result.frames} frames to {cfg.out} "
            f"in {result.seconds:.1f}s ({fps:.0f} frames/s)"
        )
    print("measured:", json.dumps({k: v for k, v in result.stats.items() if k != "frames"}))
    if result.preview:
        print(f"preview: {result.preview}")
    for clip in result.failed:
        print(f"failed: {clip.name}: {clip.error}")
    return 1 if result.failed else 0
