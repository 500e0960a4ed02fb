"""Progress on stderr while a job runs: videos, frames, frames/s, ETA."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    """Counts what has been done and prints a line at most every `every` seconds."""

    def __init__(
        self, total_videos: int, est_frames: int, enabled: bool = True, stream: TextIO | None = None
    ):
        self.total_videos = total_videos
        self.est_frames = max(1, est_frames)
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.videos = 0
        self.frames = 0
        self.start = time.monotonic()
        self._last = 0.0
        self._tty = self.stream.isatty()
        self.every = 0.5 if self._tty else 5.0
        self._lock = threading.Lock()

    def add(self, videos: int, frames: int) -> None:
        with self._lock:  # the driver's start-up thread and the main thread both report
            self.videos += videos
            self.frames += frames
            self.tick()

    def line(self) -> str:
        elapsed = max(1e-6, time.monotonic() - self.start)
        rate = self.frames / elapsed
        left = max(0, self.est_frames - self.frames)
        eta = f"{int(left / rate) // 60}:{int(left / rate) % 60:02d}" if rate > 0 and left else "--:--"
        return (
            f"ingest: {self.videos}/{self.total_videos} videos, {self.frames} frames, "
            f"{rate:.0f} frames/s, ETA {eta}"
        )

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < self.every):
            return
        self._last = now
        end = "\r" if self._tty else "\n"
        print(self.line(), end=end, file=self.stream, flush=True)

    def finish(self, summary: str) -> None:
        if self.enabled:
            print(("\n" if self._tty else "") + summary, file=self.stream, flush=True)
