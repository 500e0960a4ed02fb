"""The dataset format: paths, keys and table schemas that ingest writes and every later stage reads.

This module is the contract between stages, documented for users in docs/outputs.md. Readers import
names from here instead of spelling paths or column names themselves.
"""

from __future__ import annotations

import hashlib
import re

import pyarrow as pa

FORMAT_VERSION = 1

# Paths inside a dataset directory (joined to the dataset URL with "/").
SHARDS_DIR = "shards"
SHARD_NAME = "frames-{index:06d}.tar"
SHARD_GLOB = "frames-*.tar"
MANIFEST_DIR = "manifest"
VIDEOS_TABLE = "manifest/videos.parquet"
FRAMES_TABLE = "manifest/frames.parquet"
SHARDS_TABLE = "manifest/shards.parquet"
DATASET_JSON = "dataset.json"
# Per-shard manifest parts, written beside the shard before it is committed; the run merges them.
PARTS_DIR = "manifest/parts"

# Label sidecar next to a video `x.mp4`: `x.mp4.labels.json` (or `x.labels.json` when the stem is unique).
LABELS_SUFFIX = ".labels.json"
LABELS_VERSION = 1
# A concept counts as visible in a frame (or in the crop ingest keeps of it) when at least this fraction
# of its area is inside the picture and unoccluded. The synthetic corpus writes `objects` by this rule;
# ingest re-applies it to the part of the frame that survives the center crop.
VISIBLE_MIN = 0.5

VIDEO_STATUSES = ("ok", "failed", "skipped")
SHARD_STATUSES = ("ok", "failed")

_KEY_RE = re.compile(r"^([0-9a-f]{16})-(\d+)$")


def shard_name(index: int) -> str:
    """File name of shard number `index`, relative to the shards directory."""
    return SHARD_NAME.format(index=index)


def shard_path(index: int) -> str:
    """Path of shard number `index`, relative to the dataset directory."""
    return f"{SHARDS_DIR}/{shard_name(index)}"


def video_id(uri: str) -> str:
    """A stable id for a video URI: 16 hex digits of its SHA-1 (no dots, no dashes)."""
    return hashlib.sha1(uri.encode("utf-8")).hexdigest()[:16]


def frame_key(vid: str, frame_idx: int) -> str:
    """Sample key `<video_id>-<frame_idx>`: no dots, so WebDataset keeps `.jpg`/`.json` together."""
    return f"{vid}-{frame_idx:07d}"


def parse_frame_key(key: str) -> tuple[str, int]:
    """Inverse of `frame_key`; raises ValueError naming the key when it is not one."""
    m = _KEY_RE.match(key)
    if not m:
        raise ValueError(f"not a frame key: {key!r} (expected <16 hex digits>-<frame index>)")
    return m.group(1), int(m.group(2))


# One row per input video.
VIDEOS_SCHEMA = pa.schema(
    [
        ("uri", pa.string()),
        ("video_id", pa.string()),
        ("shard", pa.int32()),  # the shard this video was assigned to
        ("status", pa.string()),  # ok / failed / skipped
        ("error", pa.string()),  # readable message when failed or skipped, else null
        ("codec", pa.string()),
        ("duration", pa.float64()),  # seconds
        ("fps", pa.float64()),
        ("width", pa.int32()),  # source size, after display rotation
        ("height", pa.int32()),
        ("size_bytes", pa.int64()),
        ("frames_written", pa.int64()),
        ("has_labels", pa.bool_()),
    ]
)

# One row per frame written. `jpg_offset`/`jpg_size` give the byte range of the JPEG member's data
# inside its shard, so a single frame can be served by one ranged read.
FRAMES_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("video_id", pa.string()),
        ("shard", pa.int32()),
        ("frame_idx", pa.int64()),
        ("pts", pa.float64()),  # seconds
        ("jpg_offset", pa.int64()),
        ("jpg_size", pa.int64()),
        ("labels", pa.list_(pa.string())),  # visible concepts from the sidecar; empty without one
    ]
)

# One row per shard.
SHARDS_SCHEMA = pa.schema(
    [
        ("shard", pa.int32()),
        ("path", pa.string()),  # relative to the dataset directory
        ("status", pa.string()),  # ok / failed
        ("videos", pa.int32()),
        ("frames", pa.int64()),
        ("bytes", pa.int64()),
        ("sha256", pa.string()),
        ("error", pa.string()),
    ]
)

# What each WebDataset sample holds: its key and two members, the frame's JPEG and its metadata.
SAMPLE_KEYS = ("__key__", "jpg", "json")
# Fields of each sample's `.json` member.
FRAME_JSON_FIELDS = ("uri", "video_id", "frame_idx", "pts", "width", "height", "labels", "objects")
