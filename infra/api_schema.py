"""The query server's OpenAPI contract beyond what FastAPI infers: the JSON error model, the statuses each
route can answer, and the constraints on its inputs, so that a client generated from /openapi.json sends
what the server accepts and expects every answer it can get.

A schema-driven fuzzer (tests/infra/test_server_fuzz.py) holds the server to this document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

# A frame key as `pipeline.schema.frame_key` writes it, written with [0-9] rather than \d: `\d` also
# matches other scripts' digits, which no key holds.
FRAME_KEY_PATTERN = r"^[0-9a-f]{16}-[0-9]+$"
FRAME_FILE_PATTERN = r"^[0-9a-f]{16}-[0-9]+\.jpg$"
MAX_KEY_LENGTH = 64
MAX_NAME_LENGTH = 256  # concept and layer names; the probe writes short identifiers
MAX_CHANNEL = 2**31 - 1
# What Pillow decodes in this build and a client can be expected to send; the server decodes the bytes
# whatever the part's Content-Type says, and refuses (422) what is not an image.
IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff")


class ErrorBody(BaseModel):
    """Every error answer: what went wrong and how to fix it, and the HTTP status again."""

    error: str = Field(min_length=1, description="what went wrong, and how to fix the request")
    status: int = Field(ge=400, le=599, description="the HTTP status of the response")


_WHY = {
    400: "the request is malformed at the HTTP level (bad Content-Length, body cut short)",
    404: "no such concept, unit, layer, channel or frame in this run",
    413: "the upload is larger than the server's limit",
    422: "a parameter or the upload is invalid (wrong type, out of range, not an image)",
    500: "the run's data on the server is unreadable or inconsistent",
}


def errors(*statuses: int, html: bool = False) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each of `statuses` (and 500, which any route can answer) with the
    JSON error model. Declaring 422 here replaces FastAPI's default validation-error schema, which
    does not describe this server's error bodies. `html`: the route answers HTML, its errors JSON;
    FastAPI would give a `model` the route's media type, so the content is spelled out instead (the
    model's schema is in the document through the JSON routes)."""
    if html:
        ref = {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}
        return {
            s: {"content": {"application/json": {"schema": ref}}, "description": _WHY[s]}
            for s in sorted({*statuses, 500})
        }
    return {s: {"model": ErrorBody, "description": _WHY[s]} for s in sorted({*statuses, 500})}


def image_upload_body(limit: int) -> dict[str, Any]:
    """`openapi_extra=` of POST /query/image: a multipart body whose `file` part is an image."""
    return {
        "requestBody": {
            "required": True,
            "description": f"an image (JPEG, PNG, WebP, ...) of at most {limit} bytes in all",
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        # the limit is on the whole body, which no keyword of the part can state
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "contentMediaType": "image/*",
                                "description": "the image, encoded in one of the listed formats",
                            }
                        },
                        "additionalProperties": False,
                    },
                    "encoding": {"file": {"contentType": ", ".join(IMAGE_MEDIA_TYPES)}},
                }
            },
        }
    }
