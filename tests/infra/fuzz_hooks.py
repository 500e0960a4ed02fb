"""Schemathesis hooks for tests/infra/test_server_fuzz.py (loaded by the `st` CLI through SCHEMATHESIS_HOOKS).

- Real images, of random size and colour in every declared format, for the `file` part of POST
  /query/image: the schema says the part is an image (`encoding.contentType`), and without these the
  fuzzer could only send random bytes, which the server rightly refuses.
- A check run on every response: no body or header names a location listed in UNITSCOPE_FUZZ_HIDDEN
  (os.pathsep-separated), i.e. where the server keeps the run.
"""

from __future__ import annotations

import io
import os
from functools import partial

import schemathesis
from hypothesis import strategies as st
from PIL import Image

_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
}


def _encode(fmt: str, width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, fmt)
    return buf.getvalue()


_side = st.integers(1, 96)
_colour = st.tuples(*[st.integers(0, 255)] * 3)
for _media_type, _fmt in _FORMATS.items():
    schemathesis.openapi.media_type(_media_type, st.builds(partial(_encode, _fmt), _side, _side, _colour))

HIDDEN = [p for p in os.environ.get("UNITSCOPE_FUZZ_HIDDEN", "").split(os.pathsep) if p]


@schemathesis.check
def no_server_path(ctx, response, case):
    """No response body or header holds a location the server must not disclose."""
    headers = [f"{name}: {value}" for name, values in response.headers.items() for value in values]
    for hidden in HIDDEN:
        if hidden.encode() in response.content or any(hidden in h for h in headers):
            raise AssertionError(f"the response discloses the server path {hidden!r}")
