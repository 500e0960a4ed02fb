"""Freed memory is kept for reuse: repeated large allocations stop faulting pages in once it is set."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import resource, sys
import numpy as np
from unitscope.core import memory
kept = memory.keep_freed_memory() if sys.argv[1] == "keep" else None
np.ones(4 << 20)  # 32 MB, touched, freed
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    np.ones(4 << 20)
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    kept, faults = out.stdout.split()
    return kept, int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc")
def test_large_blocks_are_reused_instead_of_faulted_in_again():
    kept, faults_kept = _faults("keep")
    _, faults_default = _faults("default")
    assert kept == "True"
    # by default glibc maps each 32 MB block afresh (10 x 8192 pages; fewer with huge pages) and unmaps it
    assert faults_default >= 100
    assert faults_kept * 10 < faults_default
