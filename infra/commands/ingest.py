"""`unitscope ingest SRC OUT`: videos → WebDataset shards + Parquet manifest."""

from __future__ import annotations

import argparse
import functools

from unitscope.infra.options import add_common, build_config, default
from unitscope.pipeline.config import IngestConfig


def register(sub: argparse._SubParsersAction) -> None:
    d = functools.partial(default, IngestConfig)
    p = sub.add_parser(
        "ingest",
        help="decode videos into WebDataset shards + a Parquet manifest",
        description="Decode, sample, resize and JPEG-encode videos into a dataset directory.",
    )
    p.add_argument(
        "src", metavar="SRC", help="folder (recursive), glob, or .txt list of video URIs; any fsspec URL"
    )
    p.add_argument("out", metavar="OUT", help="dataset directory to write (rerun the same command to resume)")
    p.add_argument(
        "--fps",
        type=float,
        default=None,
        help=f"frames kept per second of video; 0 = every frame (default {d('fps'):g})",
    )
    p.add_argument(
        "--size",
        type=int,
        default=None,
        help=f"output frames are PX x PX, short side + center crop (default {d('size')})",
    )
    p.add_argument(
        "--shard-frames",
        dest="shard_frames",
        type=int,
        default=None,
        metavar="N",
        help=f"frames per shard (default {d('shard_frames')})",
    )
    p.add_argument(
        "--shard-bytes",
        dest="shard_bytes",
        type=int,
        default=None,
        metavar="N",
        help=f"bytes per shard (default {d('shard_bytes') // 2**20} MiB)",
    )
    p.add_argument(
        "--max-frames",
        dest="max_frames",
        type=int,
        default=None,
        metavar="N",
        help="at most N frames per video",
    )
    p.add_argument(
        "--keyframes-only",
        dest="keyframes_only",
        action="store_true",
        default=None,
        help="decode keyframes only (fast; frame indices from timestamps)",
    )
    p.add_argument(
        "--jpeg-quality",
        dest="jpeg_quality",
        type=int,
        default=None,
        metavar="Q",
        help=f"JPEG qscale 2 (best) .. 31 (default {d('jpeg_quality')})",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="Ray tasks at once (default: CPUs / threads); 0 = no Ray, in this process",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help=f"decoder threads per Ray task, each reserving that many CPUs (default {d('threads')}: 1 per Ray "
        "task, in-process all CPUs)",
    )
    p.add_argument(
        "--labels",
        default=None,
        metavar="FILE",
        help="CSV of clip-level tags with a header `video,tags` (video: path relative to SRC, file name or "
        "URI; tags split by ';'); every frame of a tagged video carries them (docs/outputs.md)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument(
        "--verify",
        action="store_true",
        default=None,
        help="rebuild committed shards whose SHA-256 differs from the manifest (reads every shard; sizes "
        "are always compared)",
    )
    add_common(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from unitscope.pipeline.ingest import run

    cfg = build_config(IngestConfig, args, src=args.src, out=args.out, progress=False if args.quiet else None)
    result = run(cfg)
    return 0 if result.shards_failed == 0 else 1
