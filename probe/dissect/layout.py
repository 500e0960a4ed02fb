"""Where dissections live: RUN/probe/dissect/LAYER-CHANNEL/{index.html, dissection.json, *.png}.

The probe's report links each concept's best unit here, and the query server serves these files."""

from __future__ import annotations

DISSECT_DIR = "probe/dissect"
PAGE, JSON_FILE = "index.html", "dissection.json"


def folder(run_url: str, layer: str, channel: int) -> str:
    """Where `unitscope dissect` writes a unit's page by default."""
    return f"{run_url.rstrip('/')}/{DISSECT_DIR}/{layer}-{channel}"


def page_link(layer: str, channel: int) -> str:
    """The page's address relative to RUN/probe/, where report.html is."""
    return f"dissect/{layer}-{channel}/{PAGE}"
