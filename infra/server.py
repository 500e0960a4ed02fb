"""The query server: a FastAPI app over one probed run (JSON API + HTML gallery), served by uvicorn.

Handlers only parse and validate; `probe.query.RunQueries` does the work. Every error is a JSON body
`{"error": message, "status": code}`. Uploads to POST /query/image are limited to `max_upload_bytes`
(default 8 MiB, 413 beyond it, enforced while the body is read) and to images of at most
`probe.query.image.MAX_PIXELS` declared pixels (422 beyond it, checked before decoding).
"""

from __future__ import annotations

import contextlib
import functools
import json
from typing import Any

import anyio
import numpy as np
from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from infra import gallery
from infra.batcher import Batcher
from pipeline import storage
from pipeline.errors import UnitscopeError
from probe.query import BadQuery, NotFound, RunQueries
from probe.query.image import decode_image

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_TOP = 1000
# A body without a declared length that runs past the limit is read (and discarded) up to this many
# bytes so the client can still receive its 413; beyond this the connection is closed.
_DRAIN_BYTES = 64 * 1024 * 1024

_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, "status": status, **extra}, status_code=status)


def _json(content: Any) -> Response:
    return Response(json.dumps(content, separators=(",", ":")).encode(), media_type="application/json")


def create_app(
    run_url: str,
    dataset_url: str | None = None,
    *,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    queries: RunQueries | None = None,
    threads: int | None = None,
) -> FastAPI:
    """The app for one run; loads the catalogue, frame manifest and frame index before serving.
    `threads`: FAISS threads per frame-index search (None: every core)."""
    q = (queries or RunQueries(run_url, dataset_url, threads)).load_all()

    def encode(items: list[tuple[Any, int]]) -> list[tuple[np.ndarray, np.ndarray, int]]:
        z, emb = q.encoder.encode([image for image, _ in items])
        return [(z[i], emb[i], top) for i, (_, top) in enumerate(items)]

    def answer(rows: list[tuple[np.ndarray, np.ndarray, int]]) -> list[dict[str, Any]]:
        return q.answers(
            np.stack([z for z, _, _ in rows]), np.stack([e for _, e, _ in rows]), [t for *_, t in rows]
        )

    # the index search of what the encoder finished runs while the encoder takes the next images
    batcher = Batcher(encode, answer, max_batch=64)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        batcher.close()

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
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _error(422, f"invalid request: {problems}")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _error(500, f"internal error: {type(exc).__name__}")

    top_q = Query(10, ge=1, le=MAX_TOP, description=f"how many results (1..{MAX_TOP})")
    channel_p = Path(ge=0, description="channel index within the layer")

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "run": q.run_url, "frames": len(q.frames)}

    concepts_json = json.dumps(q.concepts()).encode()

    @app.get("/concepts")
    async def concepts() -> Response:
        return Response(concepts_json, media_type="application/json")

    @functools.lru_cache(maxsize=4096)  # answers only: an unknown name raises, which is not cached
    def _concept_units(name: str, top: int) -> bytes:
        return json.dumps({"concept": name, "units": q.concept_units(name, top)}).encode()

    @app.get("/concepts/{name}/units")
    async def concept_units(name: str, top: int = top_q) -> Response:
        return Response(_concept_units(name, top), media_type="application/json")

    @app.get("/units/{layer}/{channel}")
    async def unit(layer: str, channel: int = channel_p, top: int = top_q) -> Response:
        return _json(q.unit(f"{layer}/{channel}", top))

    @app.get("/units/{layer}/{channel}/frames")
    async def unit_frames(layer: str, channel: int = channel_p, top: int = top_q) -> Response:
        return _json({"unit": f"{layer}/{channel}", "frames": q.unit_frames(f"{layer}/{channel}", top)})

    @app.get("/frames/{name}", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
    async def frame(name: str) -> Response:
        if not name.endswith(".jpg"):
            raise NotFound(f"no such frame file {name!r}: frames are served as /frames/KEY.jpg")
        key = name[: -len(".jpg")]
        data = q.frame_jpeg(key) if local_frames else await anyio.to_thread.run_sync(q.frame_jpeg, key)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/neighbors")
    async def neighbors(key: str = Query(..., max_length=64), top: int = top_q) -> Response:
        hits = await anyio.to_thread.run_sync(q.neighbors, key, top)  # a FAISS search: off the event loop
        return _json({"key": key, "neighbors": hits})

    @app.post("/query/image", openapi_extra=_IMAGE_BODY)
    async def query_image(request: Request, top: int = Query(10, ge=1, le=100)) -> Response:
        data = await _read_upload(request, max_upload_bytes)
        image = await anyio.to_thread.run_sync(decode_image, data)
        return _json(await batcher.submit((image, top)))

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(gallery.index_page(q.run_url, q.concepts()))

    @app.get("/gallery/concepts/{name}", response_class=HTMLResponse)
    async def concept_html(name: str, top: int = Query(50, ge=1, le=1000)) -> HTMLResponse:
        name = q.catalogue.concept_name(name)
        return HTMLResponse(gallery.concept_page(name, q.concept_units(name, top)))

    @app.get("/gallery/units/{layer}/{channel}", response_class=HTMLResponse)
    async def unit_html(
        layer: str, channel: int = channel_p, top: int = Query(24, ge=1, le=200)
    ) -> HTMLResponse:
        return HTMLResponse(gallery.unit_page(q.unit(f"{layer}/{channel}", top)))

    app.state.queries = q
    return app


async def _read_upload(request: Request, limit: int) -> bytes:
    """The `file` field of a multipart body, refusing (413) bodies over `limit` bytes as they arrive."""
    declared = request.headers.get("content-length")
    if declared is not None and not declared.isdigit():
        raise HTTPException(400, f"bad Content-Length header {declared!r}")
    if declared is not None and int(declared) > limit:
        raise HTTPException(
            413, f"upload of {declared} bytes is larger than {limit} bytes; send a smaller image"
        )
    body = bytearray()
    received = 0
    too_big = False
    try:
        async for chunk in request.stream():
            received += len(chunk)
            too_big = too_big or received > limit
            if not too_big:
                body += chunk
            elif received > _DRAIN_BYTES:
                break
    except ClientDisconnect:
        raise HTTPException(400, "the client closed the connection before the body was complete") from None
    if too_big:
        raise HTTPException(413, f"upload larger than {limit} bytes; send a smaller image")
    body_bytes = bytes(body)

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body_bytes, "more_body": False}

    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise BadQuery("send the image as multipart/form-data with a field named 'file'")
    form = await Request(request.scope, replay).form(max_files=1, max_fields=8)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise BadQuery("the multipart body has no file field named 'file'")
    return await upload.read()
