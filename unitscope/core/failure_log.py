"""Where the tracebacks of failed tasks go: a log file on the driver's machine that the summary names,
so the terminal gets one line per failure (a full disk used to print ~40 lines of Ray traceback per shard).
The file is under the system temp folder, which stays writable when the output storage is full."""

from __future__ import annotations

import os
import tempfile
import time
import traceback


class FailureLog:
    """Appends tracebacks to `<tmp>/unitscope-logs/<stage>-<time>-<pid>.log`, created on first use."""

    def __init__(self, stage: str):
        folder = os.path.join(tempfile.gettempdir(), "unitscope-logs")
        self.path = os.path.join(folder, f"{stage}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log")
        self.count = 0

    def add(self, what: str, exc: BaseException) -> str:
        """Record `exc` under the heading `what`; returns the one line for the terminal."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        text = "".join(traceback.format_exception(exc))
        with open(self.path, "a") as f:
            f.write(f"=== {what}\n{text}\n")
        self.count += 1
        return f"{what}: {one_line(exc)} (traceback in {self.path})"


def one_line(exc: BaseException) -> str:
    """`Type: first line of the message` of the task's own exception (Ray's wrapper carries it as `cause`)."""
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip()
    return f"{type(cause).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
