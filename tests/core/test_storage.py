"""Local storage keeps working when the process' working directory is gone: a Ray job's driver runs in its
job package directory, which Ray unpacks again under it when another node on the same host (same Ray temp
dir) joins the job; fsspec's LocalFileSystem.rm calls os.getcwd(), which fails there."""

from __future__ import annotations

import os
import shutil

import pytest
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.ingest import run

from tests.pipeline import media
from unitscope.core import storage


@pytest.fixture
def no_cwd(tmp_path, monkeypatch):
    gone = tmp_path / "job-package"
    gone.mkdir()
    monkeypatch.chdir(gone)  # restored after the test
    shutil.rmtree(gone)
    with pytest.raises(FileNotFoundError):
        os.getcwd()


def test_ingest_into_a_local_out_without_a_working_directory(tmp_path, no_cwd):
    src, out = tmp_path / "videos", tmp_path / "dataset"
    src.mkdir()
    media.make_video(src / "clip.mp4", width=64, height=48, frames=10, rate=10)
    (out / "shards").mkdir(parents=True)  # what a killed earlier run left: a dataset being written
    (out / storage.STAGING_DIR).mkdir()
    (out / storage.STAGING_DIR / "frames-000000.tar.0123.tmp").write_bytes(b"left by a killed run")
    result = run(IngestConfig(src=str(src), out=str(out), fps=0, size=32, workers=0, progress=False))
    assert result.frames == 10 and result.shards_failed == 0
    assert not (out / storage.STAGING_DIR).exists()


def test_remove_tree_without_a_working_directory(tmp_path, no_cwd):
    tree = tmp_path / "probe" / "activations"
    (tree / "keys").mkdir(parents=True)
    (tree / "keys" / "shard-000000.parquet").write_bytes(b"x")
    fs, path = storage.url_to_fs(str(tree))
    storage.remove_tree(fs, path)
    assert not tree.exists()
    storage.remove_tree(fs, path)  # absent: nothing to do
