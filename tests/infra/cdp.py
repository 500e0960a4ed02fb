"""A minimal Chrome DevTools Protocol driver for tests: headless Chromium, load a page, collect what the
page logged and evaluate JavaScript in it (over the browser's websocket, with aiohttp)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from typing import Any

import aiohttp

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-port=0",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless Chromium process; `visit(url)` opens a tab and reports what happened."""

    def __init__(self, exe: str):
        self._profile = tempfile.TemporaryDirectory(prefix="unitscope-chromium-")
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its helper processes share the group, so close() can stop them all
        )
        self.ws_url = self._ws_url()

    def _ws_url(self) -> str:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                return m.group(1)
        raise RuntimeError(f"chromium exited ({self.proc.wait()}) without opening DevTools")

    def close(self) -> None:
        """Stop Chromium and every helper it started (one of them still writing the profile made the
        profile's removal fail with 'Directory not empty'), then remove the profile."""
        os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._profile.cleanup()

    def visit(self, url: str, script: str, timeout: float = 30) -> dict[str, Any]:
        """Load `url`, wait for its load event, evaluate `script`; returns {"value", "errors"}."""
        return asyncio.run(asyncio.wait_for(self._visit(url, script), timeout))

    async def _visit(self, url: str, script: str) -> dict[str, Any]:
        ids = itertools.count(1)
        errors: list[str] = []
        async with aiohttp.ClientSession() as http, http.ws_connect(self.ws_url, max_msg_size=0) as ws:
            pending: dict[int, asyncio.Future] = {}
            loaded = asyncio.Event()

            async def reader() -> None:
                async for msg in ws:
                    data = json.loads(msg.data)
                    if "id" in data and data["id"] in pending:
                        pending.pop(data["id"]).set_result(data)
                    method, params = data.get("method"), data.get("params", {})
                    if method == "Page.loadEventFired":
                        loaded.set()
                    elif method == "Runtime.exceptionThrown":
                        errors.append(json.dumps(params["exceptionDetails"])[:500])
                    elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                        errors.append(json.dumps(params.get("args"))[:500])
                    elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                        errors.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}")

            async def call(method: str, session: str | None = None, **params: Any) -> dict:
                i = next(ids)
                pending[i] = asyncio.get_running_loop().create_future()
                msg = {"id": i, "method": method, "params": params}
                if session:
                    msg["sessionId"] = session
                await ws.send_str(json.dumps(msg))
                reply = await pending[i]
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

            task = asyncio.create_task(reader())
            try:
                target = (await call("Target.createTarget", url="about:blank"))["targetId"]
                session = (await call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
                for domain in ("Page", "Runtime", "Log"):
                    await call(f"{domain}.enable", session)
                await call("Page.navigate", session, url=url)
                await loaded.wait()
                result = await call("Runtime.evaluate", session, expression=script, returnByValue=True)
                await call("Target.closeTarget", targetId=target)
            finally:
                task.cancel()
        return {"value": result["result"].get("value"), "errors": errors}
