"""The query server's dissection routes: the page and JSON `unitscope dissect` wrote for a unit, under
/units/{layer}/{channel}/dissection (HTML) and /units/{layer}/{channel}/dissection.json.

They serve what is stored under RUN/probe/dissect/ (the demo dissects each concept's best unit); a unit
without one is a 404 that says how to make it. Nothing is computed here: a dissection runs gradient
ascent for seconds, which a request should not wait for."""

from __future__ import annotations

from fastapi import FastAPI, Path
from fastapi.responses import HTMLResponse, Response
from unitscope.infra.api_schema import MAX_CHANNEL, MAX_NAME_LENGTH, UnitDissection, errors, ok
from unitscope.probe.dissect.layout import JSON_FILE, PAGE, folder
from unitscope.probe.query import NotFound, RunQueries

from unitscope.core import storage


def add_dissection_routes(app: FastAPI, q: RunQueries) -> None:
    layer_p = Path(min_length=1, max_length=MAX_NAME_LENGTH, description="layer name, e.g. group1")
    channel_p = Path(ge=0, le=MAX_CHANNEL, description="channel index within the layer")

    def stored(layer: str, channel: int, name: str) -> bytes:
        q.catalog.unit(layer, channel)  # NotFound for a unit the probe does not have, before any path
        try:
            return storage.read_bytes(f"{folder(q.run_url, layer, channel)}/{name}")
        except FileNotFoundError:
            raise NotFound(
                f"unit {layer}/{channel} has not been dissected; run `unitscope dissect RUN {layer}/{channel}`"
            ) from None

    @app.get("/units/{layer}/{channel}/dissection.json", responses=ok(UnitDissection, 404, 422))
    async def dissection_json(layer: str = layer_p, channel: int = channel_p) -> Response:
        return Response(stored(layer, channel, JSON_FILE), media_type="application/json")

    @app.get(
        "/units/{layer}/{channel}/dissection",
        response_class=HTMLResponse,
        responses=errors(404, 422, html=True),
    )
    async def dissection_page(layer: str = layer_p, channel: int = channel_p) -> HTMLResponse:
        return HTMLResponse(stored(layer, channel, PAGE))
