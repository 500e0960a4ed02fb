"""Hostile input to the query server: each is a 4xx with a JSON error, and the server keeps serving."""

from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlsplit

import pytest
from unitscope.infra.server import create_app

from tests.infra.live_server import live_server
from tests.probe.query_run import small_run
from tests.probe.test_query import _png

pytestmark = pytest.mark.slow  # Ray, a subprocess or a server in every test

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory, ray_local):
    run = small_run(tmp_path_factory)
    with live_server(create_app(str(run.run), max_upload_bytes=LIMIT)) as url:
        yield urlsplit(url)


def _request(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """Send `path` exactly as given (no client-side normalisation of `..` or %-escapes)."""
    conn = http.client.HTTPConnection(server.hostname, server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheader("content-type"), resp.read()
    finally:
        conn.close()


def _assert_json_4xx(server, status, ctype, body, expect=None):
    assert 400 <= status < 500, (status, body[:200])
    if expect is not None:
        assert status == expect, (status, body[:200])
    assert ctype == "application/json"
    assert json.loads(body)["error"]
    # ...and the server still answers.
    assert _request(server, "GET", "/healthz")[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/frames/../../../etc/passwd",
        "/frames/..%2f..%2f..%2fetc%2fpasswd.jpg",
        "/frames/%2e%2e%2f%2e%2e%2fetc%2fpasswd.jpg",
        "/frames/%252e%252e%252fetc%252fpasswd.jpg",
        "/frames//etc/passwd.jpg",
        "/frames/%2Fetc%2Fpasswd.jpg",
        "/frames/..%5c..%5cwindows%5cwin.ini.jpg",
        "/frames/0123456789abcdef-0000001.jpg",
        "/frames/0123456789abcdef-0000001",
        "/frames/" + "a" * 5000 + ".jpg",
        "/neighbors?key=..%2f..%2fetc%2fpasswd",
        "/neighbors?key=%2Fetc%2Fpasswd",
        "/neighbors",
        "/units/conv1/x",
        "/units/conv1/-1",
        "/units/conv1/99999999999999999999999",
        "/units/nolayer/0/frames",
        "/concepts/face/units?top=-1",
        "/concepts/face/units?top=0",
        "/concepts/face/units?top=1000000",
        "/concepts/face/units?top=ten",
        "/units/conv1/0/frames?top=100000",
        "/gallery/units/conv1/abc",
    ],
)
def test_bad_paths(server, path):
    _assert_json_4xx(server, *_request(server, "GET", path))


def _multipart(data: bytes, field: str = "file", ctype: str = "image/png") -> tuple[bytes, dict]:
    boundary = "unitscope-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="x"\r\n'
            f"Content-Type: {ctype}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.parametrize(
    ("data", "field", "status"),
    [
        (b"%PDF-1.4 this is not an image" * 20, "file", 422),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "file", 422),  # truncated PNG
        (_png(30000, 30000), "file", 422),  # bomb: 900 megapixels declared in ~100 bytes
        (_png(9000, 9000), "file", 422),  # bomb under Pillow's own limit, over ours
        (b"whatever", "notfile", 422),
    ],
)
def test_bad_uploads(server, data, field, status):
    body, headers = _multipart(data, field)
    _assert_json_4xx(server, *_request(server, "POST", "/query/image", body, headers), expect=status)


def test_not_multipart(server):
    st = _request(server, "POST", "/query/image", b'{"file": 1}', {"Content-Type": "application/json"})
    _assert_json_4xx(server, *st, expect=422)


def test_oversized_body_is_413(server):
    body, headers = _multipart(b"\0" * (LIMIT + 1))
    _assert_json_4xx(server, *_request(server, "POST", "/query/image", body, headers), expect=413)


def test_oversized_chunked_body_is_413_while_streaming(server):
    """No Content-Length: the limit holds on the bytes as they arrive."""
    body, headers = _multipart(b"\0" * (3 * LIMIT))
    chunks = [body[i : i + 8192] for i in range(0, len(body), 8192)]
    conn = http.client.HTTPConnection(server.hostname, server.port, timeout=30)
    try:
        conn.request("POST", "/query/image", body=iter(chunks), headers=headers, encode_chunked=True)
        resp = conn.getresponse()
        st = resp.status, resp.getheader("content-type"), resp.read()
    finally:
        conn.close()
    _assert_json_4xx(server, *st, expect=413)


def test_declared_oversize_is_refused_before_the_body(server):
    """A Content-Length over the limit is answered without waiting for the body to arrive."""
    with socket.create_connection((server.hostname, server.port), timeout=10) as s:
        s.sendall(
            b"POST /query/image HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            + f"Content-Length: {100 * LIMIT}\r\n\r\n".encode()
        )
        s.shutdown(socket.SHUT_WR)
        head = s.recv(65536).split(b"\r\n", 1)[0]
    assert b" 413 " in head
    assert _request(server, "GET", "/healthz")[0] == 200


def test_bad_content_length(server):
    with socket.create_connection((server.hostname, server.port), timeout=10) as s:
        s.sendall(b"POST /query/image HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        head = s.recv(65536).split(b"\r\n", 1)[0]
    assert b" 400 " in head  # refused by the HTTP parser itself
    assert _request(server, "GET", "/healthz")[0] == 200
