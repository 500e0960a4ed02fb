"""`release_free_heap`: the free pages of a fragmented C heap go back to the system (glibc)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from unitscope.core.memory import _trim

pytestmark = pytest.mark.slow  # Ray, a subprocess or a server in every test

# 200,000 buffers of 1 KB (glibc's heap, not Python's small-object arenas); every 100th is kept, which pins
# the heap's top so that freeing the rest gives nothing back by itself.
FRAGMENT = """
def rss_mb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) // 1024
blocks = [bytearray(1024) for _ in range(200_000)]
kept = blocks[::100]
del blocks
before = rss_mb()
from unitscope.core.memory import release_free_heap
released = release_free_heap()
print(before, rss_mb(), released)
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or _trim() is None, reason="glibc's malloc_trim only"
)
def test_free_heap_pages_go_back_to_the_system():
    out = subprocess.run([sys.executable, "-c", FRAGMENT], capture_output=True, text=True, check=True)
    before, after, released = out.stdout.split()
    assert released == "True"
    assert int(before) - int(after) > 100, out.stdout  # ~200 MB freed, ~2 MB still held
