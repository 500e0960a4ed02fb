"""Bad input: unreadable images are skipped and counted; too few examples give one message and one
outcome whatever the label source (skipped and named; exit 2 only when nothing can be scored); a RUN
without an encoder is a clear error."""

import numpy as np
import pytest
from PIL import Image
from unitscope.probe.concepts import ConceptSet, folder_labels
from unitscope.probe.config import ProbeConfig
from unitscope.probe.encoders import check_run
from unitscope.probe.evaluation import require_scored, score_set

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
    cs = folder_labels(str(_folder(tmp_path / "c", {"cat": 10, "dog": 10, "none": 4}, broken=2)), 32)
    assert len(cs.unreadable) == 2 and all("broken" in u for u in cs.unreadable)
    assert sorted(cs.labels) == ["cat", "dog"] and len(cs.items) == 24
    assert cs.labels["cat"].sum() == 10 and not (cs.labels["cat"] & cs.labels["dog"]).any()
    assert {im.size for im in cs.images} == {(32, 32)}


def test_folder_without_concept_subfolders_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no concept subfolders"):
        folder_labels(str(_folder(tmp_path / "d", {"none": 3})), 32)


def _concept_set(source: str, positives_in: int) -> ConceptSet:
    """40 items in 8 groups (videos); 'dog' shows in the first `positives_in` groups, 'cat' in half."""
    groups = [f"v{i // 5}" for i in range(40)]
    dog = np.array([int(g[1:]) < positives_in for g in groups])
    cat = np.array([int(g[1:]) % 2 == 0 for g in groups])
    items = [str(i) for i in range(40)]
    if source == "folder":  # images: each its own group, split within its subfolder
        strata = ["dog" if d else "cat" if c else "none" for d, c in zip(dog, cat, strict=True)]
        return ConceptSet(source, items, items, {"dog": dog, "cat": cat & ~dog}, strata=strata)
    return ConceptSet(source, items, groups, {"dog": dog, "cat": cat})


@pytest.mark.parametrize("source", ["dataset", "folder", "exemplars"])
def test_too_few_examples_one_outcome_and_message_for_every_source(source):
    cs = _concept_set(source, positives_in=1)  # 5 items of one video: never 3 on both sides
    acts = {"trained": np.random.default_rng(0).normal(size=(40, 6)).astype("float32")}
    cfg = ProbeConfig(run="r", dataset="d", min_examples=3, permutations=0, random_control=False)
    out = score_set(cs, acts, [("conv1", j) for j in range(6)], cfg)
    assert [r.concept for r in out.results] == ["cat"]
    why = out.skipped["dog"]
    assert why.startswith(f"too few examples of concept 'dog' ({source} labels)")
    assert "min_examples=3" in why and "`min_examples: N` in a --config FILE" in why
    assert ("split is by video" in why) == (source != "folder")


def test_nothing_scored_is_exit_2_naming_the_reasons():
    require_scored(["a result"], {"dog": "too few"})  # some skipped: a result
    with pytest.raises(InputError, match=r"no concept could be scored: too few examples of concept 'dog'"):
        require_scored([], {"dog": "too few examples of concept 'dog' (dataset labels): n_eval_pos=0"})


@pytest.mark.slow
def test_run_without_encoder_is_a_clear_error(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(
        InputError, match=r"no trained encoder \(encoder.pt, encoder.json missing\).*unitscope train"
    ):
        check_run(str(tmp_path / "run"))
    proc = run_cli("probe", str(tmp_path / "run"), str(tmp_path / "ds"), timeout=120)
    assert proc.returncode == 2 and "no trained encoder" in proc.stderr and "Traceback" not in proc.stderr
