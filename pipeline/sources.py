"""Finding the videos named by SRC: a folder (recursive), a glob, a single video, or a text file of URIs."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from unitscope.pipeline import schema

from unitscope.core import storage
from unitscope.core.errors import InputError

VIDEO_EXTENSIONS = frozenset(
    [
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".webm",
        ".avi",
        ".mpg",
        ".mpeg",
        ".ts",
        ".m2ts",
        ".mts",
        ".flv",
        ".wmv",
        ".3gp",
        ".ogv",
        ".mjpeg",
        ".mjpg",
        ".mxf",
        ".gif",
    ]
)
LIST_EXTENSIONS = frozenset({".txt", ".lst", ".list", ".csv"})


@dataclass(frozen=True)
class Source:
    """One input: its URI, its name relative to SRC (which the video id is made from), and, for
    files that are not videos, why it is skipped."""

    uri: str
    rel: str
    skip_reason: str | None = None

    @property
    def video_id(self) -> str:
        return schema.video_id(self.rel)


def _ext(path: str) -> str:
    return posixpath.splitext(path)[1].lower()


def _is_hidden_or_sidecar(path: str) -> bool:
    name = posixpath.basename(path)
    return name.startswith(".") or name.endswith(schema.LABELS_SUFFIX)


def _from_listing(fs, base: str, paths: list[str], filter_ext: bool) -> list[Source]:
    out = []
    for p in paths:
        if _is_hidden_or_sidecar(p):
            continue
        rel = posixpath.relpath(p, base) if base else posixpath.basename(p)
        uri = storage.to_url(fs, p)
        reason = None
        if filter_ext and _ext(p) not in VIDEO_EXTENSIONS:
            reason = (
                f"not a video file name (extension {_ext(p) or 'none'!r}); rename it with a video "
                "extension or list it in a text file of URIs to ingest it"
            )
        out.append(Source(uri, rel, reason))
    return out


def _from_list_file(fs, path: str) -> list[Source]:
    base = posixpath.dirname(path)
    out = []
    for line in fs.cat_file(path).decode("utf-8", errors="replace").splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if "://" in entry or posixpath.isabs(entry):
            uri = entry
        else:
            uri = storage.to_url(fs, posixpath.normpath(posixpath.join(base, entry)))
        out.append(Source(uri, entry))
    return out


def list_sources(src: str) -> list[Source]:
    """All inputs named by SRC, sorted by their relative name (so shard assignment is deterministic).

    Raises InputError when SRC does not exist or names no video at all.
    """
    try:
        fs, path = storage.url_to_fs(src)
        if any(c in path for c in "*?["):
            base = path[: min(path.index(c) for c in "*?[" if c in path)].rsplit("/", 1)[0]
            matches = [p for p in fs.glob(path) if fs.isfile(p)]
            sources = _from_listing(fs, base, sorted(matches), filter_ext=False)
        elif fs.isdir(path):
            sources = _from_listing(fs, path.rstrip("/"), sorted(fs.find(path)), filter_ext=True)
        elif fs.isfile(path):
            if _ext(path) in LIST_EXTENSIONS:
                sources = _from_list_file(fs, path)
            else:
                sources = _from_listing(fs, "", [path], filter_ext=False)
        else:
            raise InputError(
                f"SRC {src!r} does not exist: give a folder of videos, a glob such as 'dir/*.mp4', "
                "or a text file with one video URI per line"
            )
    except (OSError, ValueError, ImportError) as exc:
        raise InputError(
            f"cannot read SRC {src!r}: {exc}; check the path or URL and its credentials"
        ) from exc
    if not any(s.skip_reason is None for s in sources):
        raise InputError(
            f"SRC {src!r} names no video files ({len(sources)} other files found); video names end in "
            f"one of {', '.join(sorted(VIDEO_EXTENSIONS))}, or list URIs in a .txt file"
        )
    by_id: dict[str, Source] = {}
    for s in sources:
        by_id.setdefault(s.video_id, s)  # a URI listed twice is ingested once
    return sorted(by_id.values(), key=lambda s: s.rel)
