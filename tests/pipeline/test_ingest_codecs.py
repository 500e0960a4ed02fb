"""Decoding details: display rotation, keyframes-only, max frames, and real clips from ../shared."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image
from unitscope.pipeline import schema
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.dataset import Dataset
from unitscope.pipeline.ingest import run

from tests.pipeline import media


def _ingest(src, out, **kw) -> Dataset:
    kw.setdefault("workers", 0)
    run(IngestConfig(src=str(src), out=str(out), progress=False, **kw))
    return Dataset(str(out))


def _reference(img: np.ndarray, size: int) -> np.ndarray:
    """Short side to `size`, center crop, with PIL (only for the comparison)."""
    h, w = img.shape[:2]
    s = size / min(w, h)
    sw, sh = max(size, round(w * s)), max(size, round(h * s))
    im = Image.fromarray(img).resize((sw, sh), Image.BICUBIC)
    x, y = (sw - size) // 2, (sh - size) // 2
    return np.asarray(im.crop((x, y, x + size, y + size))).astype(int)


@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="needs the ffmpeg CLI")
@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_display_rotation_is_applied_like_ffmpeg(tmp_path, degrees):
    src = media.make_video(tmp_path / "plain.mp4", width=240, height=136, frames=2)
    (tmp_path / "in").mkdir()
    rotated = media.rotate(src, tmp_path / "in" / "rot.mp4", degrees)
    if rotated is None:
        pytest.skip("this FFmpeg cannot write a display matrix")
    ds = _ingest(tmp_path / "in", tmp_path / "out", size=64, max_frames=1)
    (video,) = ds.videos().to_pylist()
    expect = media.autorotated_first_frame(rotated)
    assert (video["width"], video["height"]) == (expect.shape[1], expect.shape[0])
    got = np.asarray(
        Image.open(io.BytesIO(ds.read_jpeg(ds.frames()["key"][0].as_py()))).convert("RGB")
    ).astype(int)
    ref = _reference(expect, 64)
    wrong = np.rot90(ref, 1)  # the same picture turned the other way
    assert np.abs(got - ref).mean() < 12 < np.abs(got - wrong).mean()


def test_keyframes_only_and_max_frames(tmp_path):
    (tmp_path / "in").mkdir()
    media.make_video(
        tmp_path / "in" / "gop.mp4", frames=20, options={"g": "5", "keyint_min": "5", "sc_threshold": "0"}
    )
    ds = _ingest(tmp_path / "in", tmp_path / "k", fps=0, keyframes_only=True)
    assert sorted(ds.frames()["frame_idx"].to_pylist()) == [0, 5, 10, 15]
    ds = _ingest(tmp_path / "in", tmp_path / "m", fps=0, max_frames=7)
    assert sorted(ds.frames()["frame_idx"].to_pylist()) == list(range(7))
    ds = _ingest(tmp_path / "in", tmp_path / "all", fps=0)
    assert sorted(ds.frames()["frame_idx"].to_pylist()) == list(range(20))


def test_real_clips(shared_videos, tmp_path):
    names = [
        "mmaction2-test.avi",
        "mmaction2-test.mp4",
        "bottle-detection.mp4",
        "flipping_a_pancake.mkv",
        "milk.mkv",
    ]
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{shared_videos / n}\n" for n in names))
    ds = _ingest(listing, tmp_path / "out", size=96, fps=0, max_frames=4)
    videos = ds.videos().to_pylist()
    assert [v["status"] for v in videos] == ["ok"] * len(names), [v["error"] for v in videos]
    assert {v["codec"] for v in videos} == {"h264", "mpeg4"}
    assert all(v["frames_written"] == 4 for v in videos)
    for key in ds.frames()["key"].to_pylist():
        assert Image.open(io.BytesIO(ds.read_jpeg(key))).size == (96, 96)
    assert {schema.video_id(str(shared_videos / n)) for n in names} == {v["video_id"] for v in videos}
