"""Decoding one video with PyAV: threaded decode, frame sampling, and center-crop + scale + rotation + JPEG
all inside FFmpeg (filter graph and MJPEG encoder), so no full-size frame is ever touched from Python."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

import av
from pydantic import BaseModel, ConfigDict


class DecodeSettings(BaseModel):
    """Which frames to keep and how to encode them (a small, picklable part of a shard spec)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fps: float = 1.0  # 0 keeps every frame
    size: int = 128
    max_frames: int | None = None
    keyframes_only: bool = False
    jpeg_quality: int = 3  # MJPEG qscale
    threads: int = 0  # decoder threads; 0 lets FFmpeg choose


@dataclass(frozen=True)
class Geometry:
    """How source pixels (display orientation) map to the size x size output: the centred square of side
    min(width, height) is cut out in source pixels, then scaled to size (cropping first means the scaler
    touches only the pixels that are kept)."""

    width: int  # source size after display rotation
    height: int
    rotation: int  # counterclockwise degrees from the display matrix: 0, 90, 180 or 270
    size: int

    @property
    def side(self) -> int:
        """Side of the square crop, in source pixels."""
        return min(self.width, self.height)

    @property
    def scale(self) -> float:
        return self.size / self.side

    @property
    def offset(self) -> tuple[int, int]:
        """Top-left corner of the crop in source (display) pixels."""
        return (self.width - self.side) // 2, (self.height - self.side) // 2

    def map_box(self, box: list[float]) -> list[float]:
        """A box [x0, y0, x1, y1] in source pixels, in output-crop pixels (not clipped)."""
        ox, oy = self.offset
        s = self.scale
        return [(box[0] - ox) * s, (box[1] - oy) * s, (box[2] - ox) * s, (box[3] - oy) * s]

    def coded_crop(self) -> tuple[int, int]:
        """Top-left corner of the same square in the coded (stored) frame, which is what the filter graph
        crops before it scales and rotates."""
        dx, dy = self.offset
        m = self.side
        if self.rotation == 90:  # display (x, y) = coded (W - 1 - y, x)
            return self.height - dy - m, dx
        if self.rotation == 180:
            return self.width - dx - m, self.height - dy - m
        if self.rotation == 270:  # display (x, y) = coded (y, H - 1 - x)
            return dy, self.width - dx - m
        return dx, dy


@dataclass(frozen=True)
class Sample:
    frame_idx: int  # index of the frame in the source video
    pts: float  # seconds
    jpeg: bytes


def rotation_of(stream: av.video.stream.VideoStream, first: av.VideoFrame) -> int:
    """Display rotation (counterclockwise degrees, multiple of 90) from the first frame's display matrix."""
    rot = getattr(first, "rotation", 0) or 0
    return round(rot / 90.0) * 90 % 360


def geometry_for(frame: av.VideoFrame, rotation: int, size: int) -> Geometry:
    w, h = frame.width, frame.height
    if rotation in (90, 270):
        w, h = h, w
    return Geometry(width=w, height=h, rotation=rotation, size=size)


class FrameEncoder:
    """FFmpeg filter graph (center crop, scale, rotate, pixel format) feeding an MJPEG encoder."""

    _ROTATE: ClassVar[dict[int, list[tuple[str, str]]]] = {
        90: [("transpose", "cclock")],
        180: [("hflip", ""), ("vflip", "")],
        270: [("transpose", "clock")],
    }

    def __init__(self, stream: av.video.stream.VideoStream, geometry: Geometry, quality: int):
        x, y = geometry.coded_crop()
        m, n = geometry.side, geometry.size
        self.graph = av.filter.Graph()
        nodes = [self.graph.add_buffer(template=stream)]
        chain = [
            ("crop", f"{m}:{m}:{x}:{y}"),
            ("scale", f"{n}:{n}"),
            *self._ROTATE.get(geometry.rotation, []),
        ]
        chain.append(("format", "yuvj420p"))
        for name, args in chain:
            nodes.append(self.graph.add(name, args) if args else self.graph.add(name))
        nodes.append(self.graph.add("buffersink"))
        for a, b in itertools.pairwise(nodes):
            a.link_to(b)
        self.graph.configure()
        self.encoder = av.CodecContext.create("mjpeg", "w")
        self.encoder.width = n
        self.encoder.height = n
        self.encoder.pix_fmt = "yuvj420p"
        self.encoder.time_base = Fraction(1, 1000)
        # Fixed quantiser: qscale mode with qmin = qmax (PyAV cannot set the per-frame quality field).
        self.encoder.flags |= av.codec.context.Flags.qscale
        self.encoder.options = {"qmin": str(quality), "qmax": str(quality)}
        self._count = 0

    def encode(self, frame: av.VideoFrame) -> bytes:
        self.graph.push(frame)
        out = self.graph.pull()
        out.pts = self._count  # the encoder wants increasing timestamps; the JPEGs do not carry them
        out.time_base = self.encoder.time_base
        self._count += 1
        return b"".join(bytes(p) for p in self.encoder.encode(out))


class VideoReader:
    """One open video: its metadata, and the sampled frames as JPEGs in source order."""

    def __init__(self, file, settings: DecodeSettings):
        self.settings = settings
        self.container = av.open(file, mode="r", metadata_errors="ignore")
        if not self.container.streams.video:
            raise ValueError("no video stream (audio-only or not a video container)")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        if settings.threads:
            self.stream.codec_context.thread_count = settings.threads
        if settings.keyframes_only:
            self.stream.codec_context.skip_frame = "NONKEY"
        self.codec = self.stream.codec_context.name
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.fps = float(rate) if rate else None
        self.duration = self._duration()
        self.geometry: Geometry | None = None
        self.last_pts: float | None = None  # seconds from the first frame to the last one decoded
        self.complete = False  # True once decoding reached the end of the stream

    def _duration(self) -> float | None:
        s = self.stream
        if s.duration is not None and s.time_base is not None:
            return float(s.duration * s.time_base)
        if self.container.duration is not None:
            return self.container.duration / 1e6
        return None

    def samples(self) -> Iterator[Sample]:
        """Decode and yield the kept frames; stops early once max_frames are kept."""
        st = self.settings
        interval = 1.0 / st.fps if st.fps > 0 else 0.0
        next_t = 0.0
        start: float | None = None
        encoder: FrameEncoder | None = None
        kept = 0
        last_idx = -1
        for count, frame in enumerate(self.container.decode(self.stream)):
            t_abs = frame.time if frame.pts is not None else None
            if start is None:
                start = t_abs if t_abs is not None else 0.0
            t = (t_abs - start) if t_abs is not None else count / (self.fps or 25.0)
            idx = max(last_idx + 1, round(t * (self.fps or 25.0))) if st.keyframes_only else count
            last_idx = idx
            self.last_pts = t
            if t + 1e-6 < next_t:
                continue
            if interval:
                next_t = (math.floor(t / interval + 1e-6) + 1) * interval
            if encoder is None:
                self.geometry = geometry_for(frame, rotation_of(self.stream, frame), st.size)
                encoder = FrameEncoder(self.stream, self.geometry, st.jpeg_quality)
            yield Sample(idx, t_abs if t_abs is not None else t, encoder.encode(frame))
            kept += 1
            if st.max_frames is not None and kept >= st.max_frames:
                return
        self.complete = True

    def close(self) -> None:
        self.container.close()
