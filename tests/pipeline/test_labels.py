"""Label sidecars and clip-level tags: named after the whole file name, never ambiguous between two
videos of one stem, boxes outside the frame refused with the file and frame, and a tags CSV whose tags
reach every frame of a tagged video."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import fsspec
import pytest
from unitscope.pipeline import labels, tags
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.dataset import Dataset
from unitscope.pipeline.decode import Geometry
from unitscope.pipeline.ingest import run

from tests.pipeline import media
from unitscope.core.errors import InputError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FS = fsspec.filesystem("file")


def _sidecar(path: Path, frames: list[dict], concepts: list[str]) -> None:
    path.write_text(json.dumps({"version": 1, "concepts": concepts, "frames": frames}))


def test_whole_name_sidecar_is_read_for_its_video_only(tmp_path):
    for name in ("x.avi", "x.mp4"):
        (tmp_path / name).write_bytes(b"")
    _sidecar(tmp_path / "x.mp4.labels.json", [], ["dog"])
    assert labels.read_sidecar(FS, str(tmp_path / "x.mp4")).concepts == ["dog"]
    assert labels.read_sidecar(FS, str(tmp_path / "x.avi")) is None


def test_stem_sidecar_is_refused_when_two_videos_share_the_stem(tmp_path):
    for name in ("x.avi", "x.mp4"):
        (tmp_path / name).write_bytes(b"")
    _sidecar(tmp_path / "x.labels.json", [], ["dog"])
    with pytest.raises(ValueError, match=r"x.labels.json could belong to x.mp4 or x.avi.*x.mp4.labels.json"):
        labels.read_sidecar(FS, str(tmp_path / "x.mp4"))


def test_stem_sidecar_is_read_for_a_unique_stem(tmp_path):
    (tmp_path / "y.mp4").write_bytes(b"")
    (tmp_path / "y.txt").write_bytes(b"")  # not a video: no ambiguity
    _sidecar(tmp_path / "y.labels.json", [], ["cat"])
    assert labels.read_sidecar(FS, str(tmp_path / "y.mp4")).concepts == ["cat"]


GEOMETRY = Geometry(width=640, height=360, rotation=0, size=128)


def test_box_outside_the_frame_is_refused_naming_file_and_frame():
    sc = labels.Sidecar(
        ["face"], {12: [{"concept": "face", "box": [0, 0, 10000, 10000], "visible": 1}]}, "a.mp4.labels.json"
    )
    with pytest.raises(ValueError, match=r"a.mp4.labels.json, frame 12: .*outside the 640x360 frame"):
        labels.frame_objects(sc, 12, GEOMETRY)


def test_box_overshooting_by_rounding_is_clipped_and_kept():
    sc = labels.Sidecar(["face"], {3: [{"concept": "face", "box": [-2, -1, 642, 361], "visible": 1}]}, "a")
    objects = labels.frame_objects(sc, 3, GEOMETRY)
    assert objects[0]["box"] == [0, 0, 640, 360]
    assert labels.crop_objects(objects, GEOMETRY)[1] == ["face"]  # a whole-frame box labels the frame


def test_tags_csv_matches_by_relative_path_file_name_or_uri_tail(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("file,tags\nvideos/a.mkv,face;person\nb.mp4,none\nc.mp4,dog|cat\n")
    table = tags.read_tags(str(csv))
    assert tags.match_tags(table, "file:///d/videos/a.mkv", "a.mkv") == ("face", "person")
    assert tags.match_tags(table, "file:///d/b.mp4", "sub/b.mp4") == ()  # labelled: shows none
    assert tags.match_tags(table, "file:///d/z.mp4", "z.mp4") is None
    assert tags.unmatched(table, [("file:///d/videos/a.mkv", "a.mkv")]) == ["b.mp4", "c.mp4"]


def test_tags_csv_without_the_columns_is_refused(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("name,labels\na.mp4,dog\n")
    with pytest.raises(InputError, match="video,tags"):
        tags.read_tags(str(csv))


@pytest.mark.slow
def test_tags_reach_every_frame_of_real_clips(tmp_path):
    src = tmp_path / "videos"
    shutil.copytree(FIXTURES / "videos", src)
    out = tmp_path / "ds"
    result = run(
        IngestConfig(
            src=str(src), out=str(out), fps=2, size=32, workers=0, progress=False,
            labels=str(FIXTURES / "labels.csv"),
        )
    )  # fmt: skip
    assert result.videos_ok == 5 and result.concepts == ["face", "person"]
    ds = Dataset(str(out))
    assert all(ds.videos().column("has_labels").to_pylist())
    frames = ds.frames().to_pydict()
    videos = ds.videos().to_pydict()
    by_video = dict(zip(videos["video_id"], videos["uri"], strict=True))
    for vid, ls in zip(frames["video_id"], frames["labels"], strict=True):
        uri = by_video[vid]
        want = ["face"] if uri.endswith(".avi") else [] if "bottle" in uri else ["face", "person"]
        assert ls == want


@pytest.mark.slow
def test_out_of_frame_box_fails_its_video_with_file_and_frame(tmp_path):
    (tmp_path / "src").mkdir()
    video = media.make_video(tmp_path / "src" / "a.mp4", width=160, height=96, frames=10)
    _sidecar(
        Path(str(video) + ".labels.json"),
        [{"frame": 0, "objects": [{"concept": "face", "box": [0, 0, 10000, 10000], "visible": 1}]}],
        ["face"],
    )
    result = run(IngestConfig(src=str(tmp_path / "src"), out=str(tmp_path / "ds"), workers=0, progress=False))
    assert result.videos_failed == 1
    error = Dataset(str(tmp_path / "ds")).videos().column("error").to_pylist()[0]
    assert "a.mp4.labels.json, frame 0" in error and "outside the 160x96 frame" in error
