"""The query server's OpenAPI contract beyond what FastAPI infers: the JSON error model, the statuses each
route can answer, and the constraints on its inputs, so that a client generated from /openapi.json sends
what the server accepts and expects every answer it can get.

A schema-driven fuzzer (tests/infra/test_server_fuzz.py) holds the server to this document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# A frame key as `pipeline.schema.frame_key` writes it, written with [0-9] rather than \d: `\d` also
# matches other scripts' digits, which no key holds.
FRAME_KEY_PATTERN = r"^[0-9a-f]{16}-[0-9]+$"
FRAME_FILE_PATTERN = r"^[0-9a-f]{16}-[0-9]+\.jpg$"
OVERLAY_FILE_PATTERN = r"^[0-9a-f]{16}-[0-9]+\.png$"  # a unit's map over a frame (infra/overlay_routes.py)
VIDEO_ID_PATTERN = r"^[0-9a-f]{16}$"
MAX_UPLOAD_BYTES = 8 * 1024 * 1024  # POST /query/image's default limit (413 beyond it)
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


class Frame(BaseModel):
    """A dataset frame in an answer. Its video is named by id and file name, never by where the server
    keeps it: no other field is allowed, so the fuzzer fails any answer that adds a location."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=FRAME_KEY_PATTERN, description="the frame key, `<video_id>-<frame index>`")
    video_id: str = Field(pattern=VIDEO_ID_PATTERN, description="the id of the frame's video")
    video: str | None = Field(
        description="the video's file name, e.g. clip-0001.mp4 (null if the dataset has no row for it)"
    )
    frame_idx: int = Field(ge=0, description="the frame's index in the sampled frames of its video")
    pts: float = Field(description="the frame's time in its video, seconds")
    labels: list[str] = Field(description="concepts the frame shows, from the video's labels sidecar")


class UnitFrame(Frame):
    """A frame among a unit's top frames."""

    activation: float = Field(description="the unit's activation on the frame")


class Neighbor(Frame):
    """A dataset frame near the query."""

    score: float = Field(description="cosine similarity to the query in the encoder's embedding space")


class UnitFrames(BaseModel):
    """A unit's top-activating frames."""

    unit: str = Field(description="LAYER/CHANNEL")
    frames: list[UnitFrame] = Field(description="the frames that activate the unit most, highest first")


class Unit(BaseModel):
    """A unit: its activation statistics, concept labels and top-activating frames."""

    unit: str = Field(description="LAYER/CHANNEL")
    layer: str
    channel: int
    mean: float | None = Field(description="mean activation over the dataset")
    std: float | None = Field(description="standard deviation of the activation over the dataset")
    histogram: dict[str, list[float]] = Field(description="`counts` per bin between consecutive `edges`")
    concepts: list[dict[str, Any]] = Field(description="the unit's concept labels, best first")
    frames: list[UnitFrame] = Field(description="the frames that activate the unit most, highest first")


class Neighbors(BaseModel):
    """The dataset frames nearest to a frame of the dataset."""

    key: str = Field(pattern=FRAME_KEY_PATTERN, description="the query frame")
    neighbors: list[Neighbor] = Field(description="the nearest dataset frames, nearest first")


class ImageAnswer(BaseModel):
    """The units that fire most on an uploaded image, and the dataset frames nearest to it."""

    units: list[dict[str, Any]] = Field(description="the units that fire most on the image (z-score)")
    neighbors: list[Neighbor] = Field(description="the nearest dataset frames, nearest first")


def ok(model: type[BaseModel], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a JSON route whose 200 answer is `model` (the handler returns bytes already
    serialised, so the model documents the answer without validating it), and `errors(*statuses)`."""
    return {200: {"model": model, "description": "the answer"}, **errors(*statuses)}


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


class UnitDissection(BaseModel):
    """What `unitscope dissect` found about a unit (its dissection.json): scores, top frames, optimal
    stimuli and invariance curves of the unit and of its random-weights control."""

    unit: str = Field(description="LAYER/CHANNEL")
    run: str = Field(description="the run's name")
    concepts: list[dict[str, Any]] = Field(description="the unit's catalogue rows, best AUC first")
    top_frames: list[dict[str, Any]] = Field(description="its top frames: key, activation, labels")
    trained: dict[str, Any] = Field(description="optimal stimulus, templates, reference line, curves")
    control: dict[str, Any] = Field(description="the same for the random-weights control unit")
    translation_x_range: list[float] | None = Field(description="[first, last] shift above the line")
    translation_y_range: list[float] | None
    scale_range: list[float] | None
    rotation_range: list[float] | None
