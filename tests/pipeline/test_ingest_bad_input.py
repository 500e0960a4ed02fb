"""Bad input never stops the job: broken files become `failed` rows with readable errors while every
good video is fully ingested; unusable SRC/OUT are refused with exit 2 and a message that says what to fix."""

from __future__ import annotations

import json
import re

import pytest
from unitscope.pipeline import ingest, schema
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.dataset import Dataset

from tests.helpers import run_cli
from tests.pipeline import media

pytestmark = pytest.mark.slow  # Ray, a subprocess or a server in every test

BAD = {
    "truncated.mp4": "Invalid data",
    "truncated_faststart.mp4": "frames before the error were kept",
    "truncated.mkv": "truncated or damaged",
    "random.mp4": "Invalid data",
    "empty.mp4": "Invalid data",
    "notes.mkv": "Invalid data",
    "voice.mp4": "no video stream",
}


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    d = tmp_path_factory.mktemp("messy")
    work = tmp_path_factory.mktemp("work")
    for name, codec in (("a.mp4", "libx264"), ("b.webm", "libvpx-vp9"), ("c.avi", "mpeg4")):
        media.make_video(d / name, codec=codec, frames=20)
    media.truncate(media.make_video(work / "t.mp4", frames=60), d / "truncated.mp4")
    faststart = media.make_video(work / "f.mp4", frames=60, container_options={"movflags": "faststart"})
    media.truncate(faststart, d / "truncated_faststart.mp4")
    media.truncate(media.make_video(work / "t.mkv", frames=60), d / "truncated.mkv")
    (d / "random.mp4").write_bytes(bytes(range(256)) * 40)
    (d / "empty.mp4").write_bytes(b"")
    (d / "notes.mkv").write_text("these are not the frames you are looking for\n")
    media.make_video(d / "voice.mp4", frames=0, audio=True)
    (d / "readme.txt").write_text("not a video")
    return d


def test_bad_files_are_failed_rows_and_the_rest_is_ingested(messy, tmp_path):
    proc = run_cli("ingest", messy, tmp_path / "out", "--fps", "5", "--size", "32", "--workers", "0")
    assert proc.returncode == 0, proc.stderr
    assert "3 ok, 7 failed, 1 skipped" in proc.stderr
    assert re.search(r"ingest: \d+/10 videos, \d+ frames, \d+ frames/s, ETA", proc.stderr)  # progress
    ds = Dataset(str(tmp_path / "out"))
    rows = {r["uri"].rsplit("/", 1)[1]: r for r in ds.videos().to_pylist()}
    for name, words in BAD.items():
        assert rows[name]["status"] == "failed", name
        assert name in rows[name]["error"] and words in rows[name]["error"], rows[name]["error"]
    for name in ("a.mp4", "b.webm", "c.avi"):
        assert (
            rows[name]["status"] == "ok"
            and rows[name]["frames_written"] == 10
            and rows[name]["error"] is None
        )
    assert rows["readme.txt"]["status"] == "skipped" and "not a video" in rows["readme.txt"]["error"]
    info = ds.info()["counts"]
    assert (info["videos_ok"], info["videos_failed"], info["videos_skipped"]) == (3, 7, 1)
    # frames a damaged video gave before its damage stay, and every count agrees
    assert ds.frames().num_rows == sum(r["frames_written"] for r in rows.values()) == info["frames"]


def test_missing_src_is_exit_2(tmp_path):
    proc = run_cli("ingest", tmp_path / "nope", tmp_path / "out")
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "folder of videos" in proc.stderr


@pytest.mark.parametrize("out_before", ["absent", "empty"])
def test_an_ingest_that_fails_before_any_work_leaves_out_as_it_was(tmp_path, out_before):
    out = tmp_path / "out"
    if out_before == "empty":
        out.mkdir()
    proc = run_cli("ingest", tmp_path / "nope", out, "--workers", "0")
    assert proc.returncode == 2
    assert (list(out.iterdir()) == []) if out_before == "empty" else not out.exists()


def test_src_without_videos_is_exit_2(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("x")
    proc = run_cli("ingest", tmp_path / "src", tmp_path / "out")
    assert proc.returncode == 2 and "names no video files" in proc.stderr


@pytest.mark.parametrize("kind", ["file", "foreign"])
def test_unusable_out_is_exit_2(messy, tmp_path, kind):
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("x")
    else:
        out.mkdir()
        (out / "precious.doc").write_text("keep me")
    proc = run_cli("ingest", messy, out, "--workers", "0")
    assert proc.returncode == 2, proc.stderr
    assert ("is a file" if kind == "file" else "not a unitscope dataset") in proc.stderr
    assert kind == "file" or (out / "precious.doc").read_text() == "keep me"


def test_bad_flag_value_is_exit_2(messy, tmp_path):
    proc = run_cli("ingest", messy, tmp_path / "out", "--size", "0")
    assert proc.returncode == 2 and "size" in proc.stderr


def test_resume_with_other_settings_is_refused(messy, tmp_path):
    run_cli(
        "ingest", messy, tmp_path / "out", "--workers", "0", "--size", "32", "--max-frames", "1", check=True
    )
    proc = run_cli("ingest", messy, tmp_path / "out", "--workers", "0", "--size", "48")
    assert proc.returncode == 2 and "same SRC and settings" in proc.stderr
    assert json.loads((tmp_path / "out" / schema.DATASET_JSON).read_text())["config"]["size"] == 32
    # the same check, asked without running (the demo asks it to know whether to start afresh)
    same = IngestConfig(src=str(messy), out=str(tmp_path / "out"), size=32, max_frames=1)
    assert not ingest.holds_other(same) and ingest.holds_other(same.model_copy(update={"size": 48}))
    assert not ingest.holds_other(same.model_copy(update={"out": str(tmp_path / "new")}))
