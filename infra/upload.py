"""The multipart upload of POST /query/image, read with a size limit that holds while the body arrives
(a Content-Length over it is refused before the body is read; a chunked body is counted as it comes)."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect
from unitscope.probe.query import BadQuery

# A body without a declared length that runs past the limit is read (and discarded) up to this many
# bytes so the client can still receive its 413; beyond this the connection is closed.
_DRAIN_BYTES = 64 * 1024 * 1024


async def read_upload(request: Request, limit: int) -> bytes:
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
    others = sorted({name for name in form if name != "file"})
    if others:  # the schema allows no other field: a client sending one has misread it
        raise BadQuery(f"the multipart body may hold only the field 'file', not also {others}")
    return await upload.read()
