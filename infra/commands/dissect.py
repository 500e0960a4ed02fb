"""`unitscope dissect RUN LAYER/CHANNEL [--out DIR]`: one page on what a unit wants and what it ignores."""

from __future__ import annotations

import argparse

from unitscope.core.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dissect",
        help="one unit's scores, top frames, optimal stimulus and invariance curves, as one HTML page",
        description="Dissect one unit of a probed run: its scores per concept with controls and p-values, "
        "its top frames, its optimal stimulus beside the random-weights control's, and its invariance to "
        "shift, zoom and rotation. Reads the stored top frames and activations, never the whole corpus. "
        "Writes index.html, dissection.json and PNGs (default RUN/probe/dissect/LAYER-CHANNEL/).",
    )
    p.add_argument("run", metavar="RUN", help="run directory that `unitscope probe` wrote into")
    p.add_argument("unit", metavar="LAYER/CHANNEL", help="the unit, e.g. group1/17")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (fsspec URL)")
    p.add_argument("--dataset", default=None, help="dataset URL, if it moved since the probe")
    p.add_argument("--frames", type=int, default=8, metavar="K", help="top frames the curves use (8)")
    p.add_argument("--steps", type=int, default=None, metavar="N", help="gradient-ascent steps (96)")
    p.add_argument("--seed", type=int, default=0, help="seed of the optimal stimulus (0)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from unitscope.probe.dissect.dissection import DissectConfig, dissect, folder, write
    from unitscope.probe.query import RunQueries
    from unitscope.probe.query.catalog_view import parse_unit

    from unitscope.core.storage import absolute

    if not 1 <= args.frames <= 200:
        raise InputError(f"--frames must be between 1 and 200, not {args.frames}")
    if args.steps is not None and not 1 <= args.steps <= 100_000:
        raise InputError(f"--steps must be between 1 and 100000, not {args.steps}")
    layer, channel = parse_unit(args.unit)
    run = absolute(args.run.rstrip("/"))
    cfg = DissectConfig(frames=args.frames)
    cfg = replace(cfg, stimulus=replace(cfg.stimulus, seed=args.seed, steps=args.steps or cfg.stimulus.steps))
    d = dissect(run, args.unit, cfg, RunQueries(run, args.dataset) if args.dataset else None)
    paths = write(d, absolute(args.out) if args.out else folder(run, layer, channel))
    print(describe(d.summary))
    print(f"page: {paths['index.html']}")
    return 0


def describe(summary: dict) -> str:
    """The unit's invariance ranges beside its control's, one line per transform."""
    t, c = summary["trained"], summary["control"]

    def fmt(r) -> str:
        return "none" if r is None else f"{r[0]:g}..{r[1]:g}"

    lines = [f"unit {summary['unit']} (control {c['unit']}): invariance ranges, unit | control"]
    for name in t["curves"]:
        lines.append(f"  {name:14s} {fmt(t[name + '_range']):>16s} | {fmt(c[name + '_range'])}")
    return "\n".join(lines)
