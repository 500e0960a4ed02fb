"""`unitscope query RUN concept NAME | unit LAYER/CHANNEL | image PATH`: ask a probed run questions."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from unitscope.core.errors import InputError

UNIT_CONCEPT_COLUMNS = ["concept", "rank", "auc", "accuracy", "chance", "random_auc", "p_value", "is_detector",
                        "pointing", "iou"]  # fmt: skip


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "query",
        help="concept → units, unit → top frames, image → units + nearest frames",
        description="Ask a probed run: which units detect a concept, what a unit's top frames are, which "
        "units fire on an image and which frames are nearest to it. Reads RUN directly, without Ray.",
    )
    p.add_argument("run", metavar="RUN", help="run directory (fsspec URL) that `unitscope probe` wrote into")
    # The shared options are taken before the kind (`query RUN --json concept X`) and after it; given
    # after, the kind's parser holds no default of its own (SUPPRESS), so one given before is kept.
    _common_options(p, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, suppress=True)
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    kinds.add_parser("concept", parents=[common], help="units that detect a concept").add_argument(
        "name", metavar="NAME"
    )
    unit = kinds.add_parser("unit", parents=[common], help="a unit's concept labels and top frames")
    unit.add_argument("unit", metavar="LAYER/CHANNEL")
    unit.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="write the top frames' JPEGs here, each with NNN-KEY-overlay.png beside it: the unit's map "
        "over the frame, its boxes drawn, its corner green if it carries the unit's best concept, red if not",
    )
    image = kinds.add_parser("image", parents=[common], help="units that fire on an image + nearest frames")
    image.add_argument("path", metavar="PATH")
    p.set_defaults(func=main)


def _common_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """--top, --json, --dataset, --nprobe: with their defaults on the query's parser, without (SUPPRESS) on the kinds'."""

    def default(value):
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--top", type=int, default=default(10), help="how many results (default 10)")
    parser.add_argument("--json", action="store_true", default=default(False), help="print JSON, not a table")
    parser.add_argument("--dataset", default=default(None), help="dataset URL, if it moved since the probe")
    parser.add_argument(
        "--nprobe",
        type=int,
        default=default(None),
        help="lists an IVF frame index searches (default: the probe's)",
    )


def main(args: argparse.Namespace) -> int:
    from unitscope.infra.tables import ranked_table, table
    from unitscope.probe.query import RunQueries
    from unitscope.probe.query.image import decode_image

    if not 1 <= args.top <= 1000:
        raise InputError(f"--top must be between 1 and 1000, not {args.top}")
    if args.nprobe is not None and args.nprobe < 1:
        raise InputError(f"--nprobe must be at least 1, not {args.nprobe}")
    q = RunQueries(args.run, args.dataset, nprobe=args.nprobe)
    if args.kind == "concept":
        name = q.catalog.concept_name(args.name)
        result: Any = {"concept": name, "units": q.concept_units(name, args.top)}
        text = ranked_table(result["units"], q.catalog.rule)
    elif args.kind == "unit":
        result = q.unit(args.unit, args.top)
        if args.out:
            _write_frames(q, result["unit"], result["frames"], Path(args.out))
        text = (
            f"unit {result['unit']}  mean {result['mean']:.4g}  std {result['std']:.4g}\n\nconcepts:\n"
            + table(
                result["concepts"],
                UNIT_CONCEPT_COLUMNS,
            )
            + f"\n{q.catalog.rule.text()}"
            + "\n\ntop frames:\n"
            + table(result["frames"], ["key", "activation", "video_uri", "pts"])
        )
    else:
        try:
            data = Path(args.path).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read image {args.path}: {exc.strerror or exc}") from exc
        image = decode_image(data, name=args.path)
        result = q.describe([image], [args.top])[0]
        units = [{**u, "concepts": ", ".join(c["concept"] for c in u["concepts"])} for u in result["units"]]
        text = (
            "units that fire most:\n"
            + table(units, ["unit", "z", "concepts"])
            + "\n\nnearest frames:\n"
            + table(result["neighbors"], ["key", "score", "video_uri", "pts"])
        )
    print(json.dumps(result, indent=2) if args.json else text)
    return 0


def _write_frames(q, unit: str, frames: list[dict[str, Any]], out: Path) -> None:
    from unitscope.probe.query.overlays import UnitOverlays

    pngs = UnitOverlays(q).pngs(unit, [f["key"] for f in frames])  # fails before anything is written
    out.mkdir(parents=True, exist_ok=True)
    for i, (f, png) in enumerate(zip(frames, pngs, strict=True)):
        (out / f"{i:03d}-{f['key']}.jpg").write_bytes(q.frame_jpeg(f["key"]))
        (out / f"{i:03d}-{f['key']}-overlay.png").write_bytes(png)
