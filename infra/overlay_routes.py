"""The query server's overlay route: a unit's map over one of the dataset's frames, as PNG.

GET /units/{layer}/{channel}/overlays/{key}.png: the frame with the unit's heat map blended in, the
frame's labelled boxes drawn (the unit's best concept solid), its corner green when the frame carries
that concept's label and red when not (probe/overlay.py). The map is computed for that frame only.
"""

from __future__ import annotations

import anyio
from fastapi import FastAPI, Path
from fastapi.responses import Response
from unitscope.infra.api_schema import (
    MAX_CHANNEL,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    OVERLAY_FILE_PATTERN,
    errors,
)
from unitscope.probe.query import RunQueries
from unitscope.probe.query.overlays import UnitOverlays


def add_overlay_routes(app: FastAPI, q: RunQueries) -> None:
    overlays = UnitOverlays(q)
    responses = {
        200: {"content": {"image/png": {}}, "description": "the frame with the unit's map overlaid"},
        **errors(404, 422),
    }

    @app.get("/units/{layer}/{channel}/overlays/{file}", response_class=Response, responses=responses)
    async def unit_overlay(
        layer: str = Path(min_length=1, max_length=MAX_NAME_LENGTH, description="layer name, e.g. conv3"),
        channel: int = Path(ge=0, le=MAX_CHANNEL, description="channel index within the layer"),
        file: str = Path(
            pattern=OVERLAY_FILE_PATTERN, max_length=MAX_KEY_LENGTH + 4, description="frame key + .png"
        ),
    ) -> Response:
        key = file.removesuffix(".png")
        png = await anyio.to_thread.run_sync(overlays.png, f"{layer}/{channel}", key)  # a forward pass
        return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})
