"""What the query server tells a client in place of where it keeps the run: a name, never the path.

The query layer's messages name the run and dataset by their URLs, which is what a user of
`unitscope query` on their own machine needs. A client of the server needs names, not the server's
file layout, so every error the server answers passes through one `Redaction` that replaces each
location (as configured, made absolute, with symlinks resolved, as a file:// URL, and without the
protocol as fsspec prints remote paths) by its name. One place at the boundary covers the messages of
every layer below, including ones written after this file.
"""

from __future__ import annotations

import os

from unitscope.core import storage


def default_name(url: str) -> str:
    """The last component of a run or dataset URL: `/data/demo/run` → `run`."""
    return url.rstrip("/").rsplit("/", 1)[-1] or "run"


def spellings(url: str) -> set[str]:
    """The ways a message can spell the location `url`."""
    url = url.rstrip("/")
    out = {url}
    fs, path = storage.url_to_fs(url)
    out.add(path.rstrip("/"))
    if storage.is_local(fs):
        for p in (os.path.abspath(path), os.path.realpath(path)):
            out |= {p, "file://" + p}
    else:
        out.add(fs.unstrip_protocol(path))
    return {s for s in out if len(s) > 1}  # "/" alone would mangle every message


class Redaction:
    """Replaces every spelling of each location by its name; longest spelling first, so a dataset
    inside the run directory is named as the dataset, not as the run followed by a path."""

    def __init__(self, names: dict[str, str]):
        pairs = {s: name for url, name in names.items() for s in spellings(url)}
        self._pairs = sorted(pairs.items(), key=lambda kv: -len(kv[0]))

    def __call__(self, text: str) -> str:
        for spelling, name in self._pairs:
            if spelling in text:
                text = text.replace(spelling, name)
        return text
