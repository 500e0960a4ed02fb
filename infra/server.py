"""The query server: a FastAPI app over one probed run (JSON API + HTML gallery), served by uvicorn.

Handlers only parse and validate; `probe.query.RunQueries` does the work. Every error is a JSON body
`{"error": message, "status": code}` (`api_schema.ErrorBody`), declared in /openapi.json for each
status a route can answer; a method a path does not serve is a 405 naming the ones it does (`Allow`).
Uploads to POST /query/image are limited to `max_upload_bytes` (default 8 MiB, 413 beyond it, enforced
while the body is read) and to images of at most `probe.query.image.MAX_PIXELS` declared pixels (422
beyond it, checked before decoding). The server names the run by a label (default: the run
directory's name) and never answers with where it keeps the run or dataset (`redaction.Redaction`),
nor the videos: a frame names its video by id and file name (`api_schema.Frame`), not by its URI.
"""

from __future__ import annotations

import contextlib
import functools
import json
from typing import Any

import anyio
import numpy as np
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from unitscope.infra import gallery
from unitscope.infra.api_schema import (
    FRAME_FILE_PATTERN,
    FRAME_KEY_PATTERN,
    MAX_CHANNEL,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_UPLOAD_BYTES,
    ImageAnswer,
    Neighbors,
    Unit,
    UnitFrames,
    errors,
    image_upload_body,
    ok,
)
from unitscope.infra.batcher import Batcher
from unitscope.infra.dissect_routes import add_dissection_routes
from unitscope.infra.overlay_routes import add_overlay_routes
from unitscope.infra.redaction import Redaction, default_name
from unitscope.infra.upload import read_upload
from unitscope.probe.query import BadQuery, NotFound, RunQueries
from unitscope.probe.query.image import decode_image

from unitscope.core import storage
from unitscope.core.errors import UnitscopeError
from unitscope.core.memory import release_free_heap

MAX_TOP = 1000


def _json(content: Any) -> Response:
    return Response(json.dumps(content, separators=(",", ":")).encode(), media_type="application/json")


def create_app(
    run_url: str,
    dataset_url: str | None = None,
    *,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    queries: RunQueries | None = None,
    threads: int | None = None,
    label: str | None = None,
    nprobe: int | None = None,
) -> FastAPI:
    """The app for one run; loads the catalogue, frame manifest and frame index before serving.
    `threads`: FAISS threads per frame-index search (None: every core); `nprobe`: IVF lists per search. `label`: the run's name in
    answers (default: the run directory's name), which stand in for its location everywhere."""
    q = (queries or RunQueries(run_url, dataset_url, threads, video_uris=False, nprobe=nprobe)).load_all()
    release_free_heap()  # what building the frame lookup left free in the heap
    if q.video_uris:  # where the videos are stored is for the operator, not for clients
        raise ValueError("the server's RunQueries must be made with video_uris=False")
    label = label or default_name(q.run_url)
    rule = q.catalog.rule.text()  # stated on every gallery page that says "detector"
    redact = Redaction(
        {
            q.run_url: label,
            q.dataset_url: default_name(q.dataset_url),
            q.frames.url: default_name(q.frames.url),
        }
    )

    def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": redact(message), "status": status}, status_code=status, headers=headers)

    def encode(items: list[tuple[Any, int]]) -> list[tuple[np.ndarray, np.ndarray, int]]:
        z, emb = q.encoder.encode([image for image, _ in items])
        return [(z[i], emb[i], top) for i, (_, top) in enumerate(items)]

    def answer(rows: list[tuple[np.ndarray, np.ndarray, int]]) -> list[dict[str, Any]]:
        return q.answers(
            np.stack([z for z, _, _ in rows]), np.stack([e for _, e, _ in rows]), [t for *_, t in rows]
        )

    # the index search of what the encoder finished runs while the encoder takes the next images
    batcher = Batcher(encode, answer, max_batch=64)
    # neighbour queries that arrive together share one index search (a batch scans each list once)
    nearby = Batcher(lambda items: q.neighbors_of([k for k, _ in items], [t for _, t in items]), max_batch=64)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        batcher.close()
        nearby.close()

    app = FastAPI(
        lifespan=lifespan,
        title="unitscope query",
        description="Concept units of an unsupervised encoder: concept → units, unit → frames, "
        f"image → units and nearest frames. Uploads are limited to {max_upload_bytes} bytes.",
        version="1",
    )
    # Local reads take microseconds and run inline; remote ones go to a worker thread.
    local_frames = storage.is_local(q.frames.fs)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(BadQuery)
    async def _bad_query(request: Request, exc: BadQuery) -> JSONResponse:
        return _error(422, str(exc))

    @app.exception_handler(UnitscopeError)
    async def _server_data(request: Request, exc: UnitscopeError) -> JSONResponse:
        return _error(500, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # carries the `Allow` header of a 405 (RFC 9110 requires it), which Starlette puts on the exception
        return _error(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _error(422, f"invalid request: {problems}")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _error(500, f"internal error: {type(exc).__name__}")

    top_q = Query(10, ge=1, le=MAX_TOP, description=f"how many results (1..{MAX_TOP})")
    channel_p = Path(ge=0, le=MAX_CHANNEL, description="channel index within the layer")
    layer_p = Path(min_length=1, max_length=MAX_NAME_LENGTH, description="layer name, e.g. conv3")
    unit_errors = errors(404, 422)

    @app.get("/healthz", responses=errors())
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "run": label, "frames": len(q.frames)}

    concepts_json = json.dumps(q.concepts()).encode()

    @app.get("/concepts", responses=errors())
    async def concepts() -> Response:
        return Response(concepts_json, media_type="application/json")

    @functools.lru_cache(maxsize=4096)  # answers only: an unknown name raises, which is not cached
    def _concept_units(name: str, top: int) -> bytes:
        return json.dumps({"concept": name, "units": q.concept_units(name, top)}).encode()

    @app.get("/concepts/{name}/units", responses=unit_errors)
    async def concept_units(
        name: str = Path(min_length=1, max_length=MAX_NAME_LENGTH, description="concept name"),
        top: int = top_q,
    ) -> Response:
        return Response(_concept_units(name, top), media_type="application/json")

    @app.get("/units/{layer}/{channel}", responses=ok(Unit, 404, 422))
    async def unit(layer: str = layer_p, channel: int = channel_p, top: int = top_q) -> Response:
        return _json(q.unit(f"{layer}/{channel}", top))

    @app.get("/units/{layer}/{channel}/frames", responses=ok(UnitFrames, 404, 422))
    async def unit_frames(layer: str = layer_p, channel: int = channel_p, top: int = top_q) -> Response:
        return _json({"unit": f"{layer}/{channel}", "frames": q.unit_frames(f"{layer}/{channel}", top)})

    frame_responses = {200: {"content": {"image/jpeg": {}}, "description": "the frame"}, **unit_errors}

    @app.get("/frames/{name}", response_class=Response, responses=frame_responses)
    async def frame(
        name: str = Path(
            pattern=FRAME_FILE_PATTERN, max_length=MAX_KEY_LENGTH + 4, description="frame key + .jpg"
        ),
    ) -> Response:
        key = name.removesuffix(".jpg")
        data = q.frame_jpeg(key) if local_frames else await anyio.to_thread.run_sync(q.frame_jpeg, key)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})

    key_q = Query(pattern=FRAME_KEY_PATTERN, max_length=MAX_KEY_LENGTH, description="a frame key")

    @app.get("/neighbors", responses=ok(Neighbors, 404, 422))
    async def neighbors(key: str = key_q, top: int = top_q) -> Response:
        q.check_indexed(key)  # here, so that a bad key fails its own request, not the batch it would join
        return _json({"key": key, "neighbors": await nearby.submit((key, top))})

    @app.post(
        "/query/image",
        openapi_extra=image_upload_body(max_upload_bytes),
        responses=ok(ImageAnswer, 400, 413, 422),
    )
    async def query_image(request: Request, top: int = Query(10, ge=1, le=100)) -> Response:
        data = await read_upload(request, max_upload_bytes)
        image = await anyio.to_thread.run_sync(decode_image, data)
        return _json(await batcher.submit((image, top)))

    @app.get("/", response_class=HTMLResponse, responses=errors(html=True))
    async def index() -> HTMLResponse:
        return HTMLResponse(gallery.index_page(label, q.concepts(), rule))

    @app.get("/gallery/concepts/{name}", response_class=HTMLResponse, responses=errors(404, 422, html=True))
    async def concept_html(
        name: str = Path(min_length=1, max_length=MAX_NAME_LENGTH, description="concept name"),
        top: int = Query(50, ge=1, le=1000),
    ) -> HTMLResponse:
        name = q.catalog.concept_name(name)
        return HTMLResponse(gallery.concept_page(name, q.concept_units(name, top), rule))

    @app.get(
        "/gallery/units/{layer}/{channel}", response_class=HTMLResponse, responses=errors(404, 422, html=True)
    )
    async def unit_html(
        layer: str = layer_p, channel: int = channel_p, top: int = Query(24, ge=1, le=200)
    ) -> HTMLResponse:
        return HTMLResponse(gallery.unit_page(q.unit(f"{layer}/{channel}", top), rule))

    add_overlay_routes(app, q)
    add_dissection_routes(app, q)
    app.state.queries = q
    return app
