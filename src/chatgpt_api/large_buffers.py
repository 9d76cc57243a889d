"""Giving large buffers back to the system as soon as they are freed.

glibc's malloc serves big blocks with ``mmap`` — returned to the system on ``free`` — but after
each such free it raises its threshold to that block's size, so the next, slightly bigger
buffers of a growing answer (a legacy ChatGPT event holds the whole text so far) come from the
heap instead, where they fragment it and stay resident. Measured with a 4 MiB answer cap: +41 to
+47 MiB of RSS for an over-long legacy answer with the dynamic threshold, +28 to +33 MiB with
a fixed one (tests/test_answer_limits.py). :func:`keep_large_buffers_unpooled` fixes the
threshold at 256 KiB (the operator's ``MALLOC_MMAP_THRESHOLD_`` wins); elsewhere than glibc it
does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

#: glibc's mallopt parameter number for the mmap threshold.
_M_MMAP_THRESHOLD = -3
THRESHOLD = 256 * 1024


def keep_large_buffers_unpooled(threshold: int = THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes; ``True`` if it was set."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold))
