"""Fixtures for the pipeline tests: one small corpus of real encoded videos, made once per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline import media


def write_sidecar(video: Path, frames: list[dict], concepts: list[str]) -> None:
    doc = {"version": 1, "concepts": concepts, "frames": frames}
    video.with_suffix("").with_suffix(".labels.json").write_text(json.dumps(doc))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """Good videos of several codecs/containers/shapes, one with a label sidecar."""
    d = tmp_path_factory.mktemp("corpus")
    media.make_video(d / "h264.mp4")
    media.make_video(d / "mpeg4.avi", codec="mpeg4")
    media.make_video(d / "vp9.webm", codec="libvpx-vp9", options={"deadline": "realtime", "cpu-used": "8"})
    media.make_video(d / "mjpeg.mkv", codec="mjpeg", pix_fmt="yuvj420p")
    (d / "sub").mkdir()
    media.make_video(d / "sub" / "odd.mp4", width=322, height=178)
    media.make_video(d / "portrait.mp4", width=96, height=160)
    media.make_video(d / "vfr.mkv", vfr=True, frames=30)
    media.make_video(d / "short.mp4", frames=3, rate=10)
    labelled = media.make_video(d / "labelled.mp4", width=200, height=100, frames=20)
    # 200x100 -> scale 1.28 -> 256x128, crop x offset 64 source px = 50 (in source pixels)
    write_sidecar(
        labelled,
        [
            {
                "frame": 0,
                "objects": [
                    {"concept": "face", "box": [60, 10, 100, 50], "visible": 1.0},
                    {"concept": "cat", "box": [0, 0, 40, 40], "visible": 1.0},
                ],
            },
            {"frame": 10, "objects": [{"concept": "cat", "box": [30, 10, 70, 50], "visible": 0.9}]},
        ],
        ["face", "cat", "car"],
    )
    return d
