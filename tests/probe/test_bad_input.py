"""Bad input: unreadable images are skipped and counted, too few examples and a RUN without an
encoder are clear errors."""

import numpy as np
import pytest
from PIL import Image
from unitscope.probe.concepts import folder_labels
from unitscope.probe.encoders import check_run

from tests.helpers import run_cli
from unitscope.core.errors import InputError


def _folder(root, counts, broken=0):
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    for i in range(broken):
        (root / "cat" / f"broken{i}.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    return root


def test_unreadable_images_are_skipped_and_counted(tmp_path):
    cs = folder_labels(str(_folder(tmp_path / "c", {"cat": 10, "dog": 10, "none": 4}, broken=2)), 32, 5)
    assert len(cs.unreadable) == 2 and all("broken" in u for u in cs.unreadable)
    assert sorted(cs.labels) == ["cat", "dog"] and len(cs.items) == 24
    assert cs.labels["cat"].sum() == 10 and not (cs.labels["cat"] & cs.labels["dog"]).any()
    assert {im.size for im in cs.images} == {(32, 32)}


def test_too_few_examples_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match=r"concept 'dog' has 3 readable image.*at least 10"):
        folder_labels(str(_folder(tmp_path / "c", {"cat": 10, "dog": 3})), 32, 5)
    with pytest.raises(InputError, match="no concept subfolders"):
        folder_labels(str(_folder(tmp_path / "d", {"none": 3})), 32, 5)


def test_run_without_encoder_is_a_clear_error(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(
        InputError, match=r"no trained encoder \(encoder.pt, encoder.json missing\).*unitscope train"
    ):
        check_run(str(tmp_path / "run"))
    proc = run_cli("probe", str(tmp_path / "run"), str(tmp_path / "ds"), timeout=120)
    assert proc.returncode == 2 and "no trained encoder" in proc.stderr and "Traceback" not in proc.stderr
