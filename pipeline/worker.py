"""The unit of work: `process_shard(spec)` decodes a shard's videos into one tar, writes the shard's
manifest part, then commits the tar atomically. Shared by the in-process and the Ray executor."""

from __future__ import annotations

import json
from collections.abc import Callable

import av
from unitscope.pipeline import labels, manifest, schema
from unitscope.pipeline.decode import VideoReader
from unitscope.pipeline.manifest import ShardStatus
from unitscope.pipeline.plan import ShardSpec, VideoRef
from unitscope.pipeline.shards import ShardWriter

from unitscope.core import storage

Report = Callable[[int, int], None]  # (videos done, frames written) increments
READ_BLOCK = 8 * 2**20
REPORT_EVERY = 50  # frames
TRUNCATION_SLACK = (1.0, 0.1)  # seconds, fraction: decoding may end this much short of the header's duration


class ShardWriteError(Exception):
    """Writing the shard itself failed (storage, not the video): the whole shard task fails and retries."""


def _describe(exc: Exception, rel: str, kept: int) -> str:
    text = exc.strerror if isinstance(exc, av.FFmpegError) and exc.strerror else str(exc)
    msg = f"cannot decode {rel}: {text}"
    if not isinstance(exc, TruncatedError):
        msg += "; check that it is a complete video file in a format FFmpeg reads"
    if kept:
        msg += f" ({kept} frames before the error were kept)"
    return msg


class TruncatedError(ValueError):
    pass


def _check_complete(reader: VideoReader) -> None:
    if (
        not reader.complete
        or reader.settings.keyframes_only
        or not reader.duration
        or reader.last_pts is None
    ):
        return
    seconds, fraction = TRUNCATION_SLACK
    if reader.last_pts + max(seconds, fraction * reader.duration) < reader.duration:
        raise TruncatedError(
            f"truncated or damaged: frames end at {reader.last_pts:.1f}s but the file says it lasts "
            f"{reader.duration:.1f}s; re-copy or re-encode the file"
        )


def _ingest_video(
    v: VideoRef,
    spec: ShardSpec,
    writer: ShardWriter,
    frames: manifest.RowSink,
    concepts: set[str],
    report: Report,
) -> dict:
    vid = v.video_id
    row = {
        "uri": v.uri,
        "video_id": vid,
        "shard": spec.index,
        "status": "ok",
        "error": None,
        "frames_written": 0,
        "has_labels": False,
    }
    kept = 0
    try:
        fs, path = storage.url_to_fs(v.uri)
        row["size_bytes"] = fs.size(path)
        sidecar = labels.read_sidecar(fs, path)
        row["has_labels"] = sidecar is not None or v.tags is not None
        if sidecar:
            concepts.update(sidecar.concepts)
        concepts.update(v.tags or ())
        source = (
            path
            if storage.is_local(fs)
            else fs.open(path, "rb", block_size=READ_BLOCK, cache_type="readahead")
        )
        reader = VideoReader(source, spec.settings)
        try:
            row.update(codec=reader.codec, fps=reader.fps, duration=reader.duration)
            for s in reader.samples():
                key = schema.frame_key(vid, s.frame_idx)
                objects, names = (
                    labels.crop_objects(
                        labels.frame_objects(sidecar, s.frame_idx, reader.geometry), reader.geometry
                    )
                    if sidecar
                    else ([], [])
                )
                if v.tags:
                    names = sorted(set(names) | set(v.tags))
                meta = {
                    "uri": v.uri,
                    "video_id": vid,
                    "frame_idx": s.frame_idx,
                    "pts": s.pts,
                    "width": spec.settings.size,
                    "height": spec.settings.size,
                    "labels": names,
                    "objects": objects,
                }
                try:
                    offset, size = writer.add(key, s.jpeg, json.dumps(meta).encode())
                except OSError as exc:
                    raise ShardWriteError(f"writing shard {spec.index} failed: {exc}") from exc
                frames.append(
                    {
                        "key": key,
                        "video_id": vid,
                        "shard": spec.index,
                        "frame_idx": s.frame_idx,
                        "pts": s.pts,
                        "jpg_offset": offset,
                        "jpg_size": size,
                        "labels": names,
                    }
                )
                kept += 1
                if kept % REPORT_EVERY == 0:
                    report(0, REPORT_EVERY)
            if kept == 0:
                raise ValueError("no frame could be decoded from the video stream")
            _check_complete(reader)
        finally:
            if reader.geometry is not None:
                row.update(width=reader.geometry.width, height=reader.geometry.height)
            reader.close()
            if source is not path:
                source.close()
    except ShardWriteError:
        raise
    except Exception as exc:  # any decode/read problem of this video is recorded as data; the shard goes on
        row.update(status="failed", error=_describe(exc, v.rel, kept))
    row["frames_written"] = kept
    report(1, kept % REPORT_EVERY)
    return row


def _noop(videos: int, frames: int) -> None:
    pass


def process_shard(spec: ShardSpec, report: Report | None = None) -> ShardStatus:
    """Build shard `spec.index` (or return the status of the already committed one: no work)."""
    report = report or _noop
    fs, root = storage.url_to_fs(spec.out)
    tar_path = storage.join(root, schema.shard_path(spec.index))
    done = manifest.read_status(fs, root, spec.index)
    if done is not None and fs.isfile(tar_path):
        return done.model_copy(update={"reused": True})
    videos: list[dict] = []
    concepts: set[str] = set()
    # Publication order: frames part, videos part, status (the part is complete), then the tar (the commit).
    with storage.staged_writer(fs, tar_path, root) as f:
        with manifest.frames_part(fs, root, spec.index) as frames:
            writer = ShardWriter(f)
            for v in spec.videos:
                videos.append(_ingest_video(v, spec, writer, frames, concepts, report))
            nbytes, sha = writer.close()
        ok = sum(r["status"] == "ok" for r in videos)
        status = ShardStatus(
            index=spec.index,
            videos=len(videos),
            videos_ok=ok,
            videos_failed=len(videos) - ok,
            frames=frames.count,
            bytes=nbytes,
            sha256=sha,
            concepts=sorted(concepts),
        )
        manifest.write_part(fs, root, spec.index, videos, status)
    return status
