"""H.264 encoding of rendered frames with PyAV (libx264, yuv420p, even sizes) into an mp4 file."""

from __future__ import annotations

from fractions import Fraction
from typing import BinaryIO

import av
import numpy as np


class ClipEncoder:
    """Context manager that writes (H, W, 3) uint8 RGB frames to an mp4 at `target` (a local path or a
    seekable binary file object)."""

    def __init__(
        self,
        target: str | BinaryIO,
        width: int,
        height: int,
        fps: float,
        preset: str,
        crf: int,
        threads: int = 1,
    ):
        if width % 2 or height % 2:
            raise ValueError(f"H.264 in yuv420p needs even frame sizes, got {width}x{height}")
        self.container = av.open(target, mode="w", format="mp4")
        rate = Fraction(fps).limit_denominator(1001)
        stream = self.container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = max(1, round(fps * 2))
        stream.options = {"preset": preset, "crf": str(crf), "threads": str(threads)}
        self.stream = stream
        self.closed = False

    def write(self, rgb: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and finish the file (idempotent)."""
        if self.closed:
            return
        self.closed = True
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()

    def __enter__(self) -> ClipEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        elif not self.closed:
            self.closed = True
            self.container.close()
