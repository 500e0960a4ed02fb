"""Bad input to `unitscope train`: each a clear error (exit 2, naming the fix) or a counted skip."""

from __future__ import annotations

import pytest
from unitscope.pipeline import schema
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.ingest import run as ingest
from unitscope.train.config import TrainConfig
from unitscope.train.train import run

from tests.helpers import run_cli
from tests.train.conftest import TINY
from tests.train.datasets import make_dataset, write_videos
from unitscope.core.errors import ConfigError, DamageError, InputError


def test_dataset_without_shards_is_a_clear_error(tmp_path):
    out = run_cli("train", str(tmp_path), str(tmp_path / "run"), "--workers", "0", timeout=120)
    assert out.returncode == 2
    assert "not a unitscope dataset" in out.stderr and "unitscope ingest" in out.stderr


def test_dataset_whose_ingest_wrote_no_frames_is_a_clear_error(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "broken.mp4").write_bytes(b"not a video" * 100)
    ingest(IngestConfig(src=str(tmp_path / "videos"), out=str(tmp_path / "ds"), workers=0, progress=False))
    cfg = TrainConfig(dataset=str(tmp_path / "ds"), run=str(tmp_path / "run"), workers=0)
    with pytest.raises(InputError, match="no shards found"):
        run(cfg)


def test_unknown_config_key_is_a_clear_error(tmp_path, dataset):
    cfg = tmp_path / "train.yaml"
    cfg.write_text("steps: 5\nlearning_rate: 0.1\n")
    out = run_cli("train", str(dataset), str(tmp_path / "run"), "--config", str(cfg), timeout=120)
    assert out.returncode == 2
    assert "learning_rate: unknown option" in out.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"batch_size": 9, "workers": 2}, "does not split evenly over 2 workers"),
        ({"batch_size": 2, "workers": 2}, "fewer than 2 samples per worker"),
        ({"arch": "resnet"}, "unknown arch"),
    ],
)
def test_batch_size_and_arch_that_do_not_fit_are_rejected(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(dataset="d", run="r", **values)


def test_batch_larger_than_the_dataset_is_a_clear_error(tmp_path, dataset):
    cfg = TrainConfig(dataset=str(dataset), run=str(tmp_path / "run"), workers=0, steps=2, batch_size=64)
    with pytest.raises(ConfigError, match="batch_size 64 is larger than the 37 frames"):
        run(cfg)


def test_corrupt_jpegs_inside_a_shard_are_skipped_and_counted(tmp_path, corrupt_dataset):
    cfg = TrainConfig(dataset=str(corrupt_dataset), run=str(tmp_path / "run"), workers=0, steps=3,
                      objective="sparse", max_bad_frames=1.0, **{**TINY, "shuffle_buffer": 1})  # fmt: skip
    result = run(cfg)
    assert result.skipped_frames >= 3
    assert result.steps == 3 and (tmp_path / "run" / "encoder.pt").exists()


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path, dataset):
    cfg = TrainConfig(dataset=str(dataset), run=str(tmp_path / "run"), workers=0, resume=True, **TINY)
    with pytest.raises(InputError, match="no checkpoint to continue from"):
        run(cfg)


def test_too_few_frames_for_the_loader_slots_is_a_clear_error(tmp_path):
    ds = make_dataset(tmp_path, [2], shard_frames=10)
    cfg = TrainConfig(dataset=str(ds), run=str(tmp_path / "run"), workers=0, steps=3, batch_size=2,
                      loader_workers=2, width=4, input_size=32)  # fmt: skip
    with pytest.raises(InputError, match=r"read no usable frames in 3 epochs.*use fewer") as info:
        run(cfg)
    assert "Traceback" not in str(info.value)


def test_a_shard_that_cannot_be_opened_is_named_not_counted_as_too_few_frames(tmp_path):
    ds = make_dataset(tmp_path, [6, 6], shard_frames=100)
    shard = ds / schema.shard_path(0)
    shard.unlink()  # the manifest still lists it
    cfg = TrainConfig(dataset=str(ds), run=str(tmp_path / "run"), workers=0, steps=3, batch_size=2,
                      loader_workers=0, width=4, input_size=32)  # fmt: skip
    with pytest.raises(DamageError, match=r"frames-000000.tar: missing.*unitscope ingest"):
        run(cfg)  # half the frames: far past --max-bad-frames, refused before training starts
    with pytest.raises(InputError, match="cannot read shard") as info:
        run(cfg.model_copy(update={"max_bad_frames": 1.0}))
    assert str(shard) in str(info.value) and "too few" not in str(info.value)


def test_a_folder_of_videos_given_as_dataset_suggests_ingesting_it(tmp_path):
    write_videos(tmp_path / "clips", [3])
    proc = run_cli("train", tmp_path / "clips", tmp_path / "run")  # default workers: checked before Ray
    assert proc.returncode == 2
    assert f"unitscope ingest {tmp_path / 'clips'} OUT" in proc.stderr, proc.stderr
    assert not (tmp_path / "run").exists()  # a command that fails before any work leaves nothing behind
