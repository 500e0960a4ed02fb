"""A uvicorn server for tests: the real app on a free loopback port, in a background thread."""

from __future__ import annotations

import contextlib
import threading
import time

import uvicorn

from tests.helpers import free_port


@contextlib.contextmanager
def live_server(app):
    """Serve `app` on 127.0.0.1; yields its base URL and stops it on exit."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if not thread.is_alive() or time.time() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
