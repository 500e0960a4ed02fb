"""Clip-level tags from a CSV (`unitscope ingest --labels FILE`), as real datasets ship them: one row per
video, `video,tags`, where `video` (or `file`) is the file's path relative to SRC, its file name, or its full
URI, and `tags` holds the video's concepts separated by `;` or `|` (`none`: it shows none of them). Every frame of a tagged video carries its tags,
so they are scored like frame labels from a sidecar."""

from __future__ import annotations

import csv
import io
import posixpath
import re

from unitscope.core import storage
from unitscope.core.errors import InputError

VIDEO_COLUMNS = ("video", "file", "path")  # the first one present names the video
NONE = "none"  # a tag saying the clip shows none of the concepts, as a concepts folder's none/
SEPARATORS = re.compile(r"[;|]")


def read_tags(url: str) -> dict[str, tuple[str, ...]]:
    """{video name as written in the CSV: its sorted tags}; InputError naming the file and the fix."""
    try:
        fs, path = storage.url_to_fs(url)
        text = fs.cat_file(path).decode("utf-8-sig")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read --labels {url}: {exc}; give a CSV file with columns video,tags"
        ) from exc
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip() for f in reader.fieldnames or []]
    column = next((c for c in VIDEO_COLUMNS if c in fields), None)
    if column is None or "tags" not in fields:
        raise InputError(
            f"--labels {url} has columns {reader.fieldnames}; it needs a header line `video,tags` "
            "(tags separated by ';', e.g. `clips/a.mp4,dog;outdoor`)"
        )
    out: dict[str, tuple[str, ...]] = {}
    for row in reader:
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        video = row.get(column, "")
        if not video:
            continue
        tags = {t.strip() for t in SEPARATORS.split(row.get("tags", "")) if t.strip()} - {NONE}
        out[video] = tuple(sorted(set(out.get(video, ())) | tags))
    return out


def _names(uri: str, rel: str) -> list[str]:
    """What a CSV row may call a video: its path relative to SRC, its URI, its file name, or the tail of
    its URI (a CSV beside the folder names `videos/a.mp4`)."""
    parts = uri.split("/")
    return [rel, uri, posixpath.basename(rel)] + ["/".join(parts[-n:]) for n in range(2, min(len(parts), 5))]


def match_tags(table: dict[str, tuple[str, ...]], uri: str, rel: str) -> tuple[str, ...] | None:
    """The tags of one video (empty when its row says `none`), None when the CSV does not name it."""
    for key in _names(uri, rel):
        if key in table:
            return table[key]
    return None


def unmatched(table: dict[str, tuple[str, ...]], videos: list[tuple[str, str]]) -> list[str]:
    """CSV rows that name none of `videos` ((uri, rel) pairs), in file order."""
    names = {n for uri, rel in videos for n in _names(uri, rel)}
    return [k for k in table if k not in names]
