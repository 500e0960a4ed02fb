"""The server's redaction of its storage locations: every spelling of a location becomes its name."""

from __future__ import annotations

import os

from unitscope.infra.redaction import Redaction, default_name
from unitscope.probe.query.frames import video_name


def test_every_spelling_of_a_local_run_is_named(tmp_path, monkeypatch):
    real = tmp_path / "store" / "demo-run"
    real.mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real)
    monkeypatch.chdir(tmp_path)
    redact = Redaction({"link/": "demo"})  # given relative, through a symlink, with a trailing slash
    for spelling in ["link", str(link), str(real), f"file://{real}", f"file://{link}"]:
        assert redact(f"no concept 'x' in {spelling}; known: a") == "no concept 'x' in demo; known: a"
    assert str(tmp_path) not in redact(f"{real}/probe/catalog.parquet is missing")


def test_a_dataset_inside_the_run_is_named_as_the_dataset(tmp_path):
    run = tmp_path / "run"
    redact = Redaction({str(run): "run", str(run / "dataset"): "dataset"})
    message = f"frame 'k' is not in the dataset {run}/dataset"
    assert redact(message) == "frame 'k' is not in the dataset dataset"


def test_remote_urls_and_names():
    redact = Redaction({"s3://bucket/runs/r1": "r1"})
    assert redact("s3://bucket/runs/r1 has no probe.json; bucket/runs/r1/x") == "r1 has no probe.json; r1/x"
    assert default_name("s3://bucket/runs/r1/") == "r1"
    assert default_name(os.sep.join(["", "data", "demo", "run"])) == "run"
    assert redact("nothing to hide") == "nothing to hide"


def test_a_video_is_named_by_its_file_name():
    for uri in [
        "/data/out/videos-probe/clip-0001.mp4",
        "file:///data/out/videos-probe/clip-0001.mp4",
        "s3://bucket/videos/clip-0001.mp4",
        "https://videos.example/v/clip-0001.mp4?X-Amz-Signature=secret#t=3",  # the query can hold credentials
    ]:
        assert video_name(uri) == "clip-0001.mp4", uri
    assert video_name("s3://bucket/a?b.mp4") == "a?b.mp4"  # in an fsspec path `?` is a character
    assert video_name(None) is None and video_name("") is None
