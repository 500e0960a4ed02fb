"""Handing the C heap's free pages back to the system once a long-lived process has loaded what it keeps.

The query server builds its frame lookup a batch of the frames table at a time. At 1,000,000 frames that
left ~65 MB free but resident in glibc's main heap (15 MB at 100,000), pinned by small allocations that
outlive their batch; the request threads allocate from arenas of their own and never reuse it, so it
stayed in the server's peak RSS: 1.21x from 100,000 to 1,000,000 frames, over the 1.2x target
(tests/bench/million.py). `malloc_trim(0)` returns it. Other C libraries have no such call: a no-op there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)


def release_free_heap() -> bool:
    """Return the heap's free pages to the system; True when glibc released some."""
    trim = _trim()
    return bool(trim(0)) if trim is not None else False
