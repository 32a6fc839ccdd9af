"""Keep glibc from turning per-response buffers into heap fragmentation in a threaded read.

Each answer of the API is one large buffer (~150 KB for 100 records, and its decoded text). glibc
serves allocations above its mmap threshold (128 KiB) with ``mmap``, but after the first such block
is freed it raises the threshold to that block's size, so later response buffers come from the
heaps of the threads that read them and fragment them: a read with 4 threads in flight grew by
~35 MB over 2,000 pages where one thread grew by 7 MB (``docs/benchmarks.md``, D). Fixing the
threshold at its default keeps those buffers on ``mmap``, returned to the system when freed; the
same setting as ``MALLOC_MMAP_THRESHOLD_=131072`` in the environment.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading

_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
_THRESHOLD = 128 * 1024
_pinned: bool | None = None  # None: not tried yet
_lock = threading.Lock()


def pin_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold at 128 KiB for this process (once); return whether it was set.

    A no-op on other platforms and C libraries. Later calls return the first call's result.
    """
    global _pinned
    with _lock:
        if _pinned is None:
            _pinned = _mallopt()
        return _pinned


def _mallopt() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (e.g. musl has no mallopt)
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _THRESHOLD))
