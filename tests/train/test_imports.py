"""`unitscope train --workers 0` runs where neither PyAV nor Ray is installed (the GPU machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.train.conftest import TINY

pytestmark = pytest.mark.slow  # Ray, a subprocess or a server in every test

ROOT = Path(__file__).resolve().parents[2]

# A child process in which `import av` and `import ray` fail as they do where the packages are missing.
CHILD = """
import importlib.abc, json, sys
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("av", "ray"):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, Missing())
from unitscope.train.config import TrainConfig
from unitscope.train.train import run
cfg = TrainConfig(**json.loads(sys.argv[1]))
result = run(cfg)
print(json.dumps({"steps": result.steps, "loaded": sorted(m for m in ("av", "ray") if m in sys.modules)}))
"""


def test_train_in_process_needs_neither_pyav_nor_ray(dataset, tmp_path):
    cfg = {"dataset": str(dataset), "run": str(tmp_path / "run"), "workers": 0, "steps": 4, **TINY}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(cfg)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"steps": 4, "loaded": []}
    assert (tmp_path / "run" / "encoder.pt").exists()
