"""What a long-running server process does with the memory it frees: gives it back to the system.

glibc's allocator serves an allocation over its mmap threshold (128 KiB at first) straight from the system
and returns it when freed, but raises that threshold to the size of each such block freed, up to 32 MiB.
A server that follows writes makes and drops arrays of a few MB all day (a column of a million cases), so
after the first few its arrays came from the heap, whose freed middle is never returned: the process grew
with the day. Fixed at 128 KiB, as at first, a freed array goes back at once. Measured over 200 pushed
cases with a person's changes and a wall after each (1 000 000 cases held, one process): 894 → 1 019 MB
without, 869 → 892 MB with, at the same speed (``bench/stream.py`` has the server's figures).
"""

from __future__ import annotations

import ctypes
import ctypes.util

# mallopt's parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
FIXED_BYTES = 128 * 1024


def return_freed_memory() -> bool:
    """Have this process's allocator give freed blocks back to the system; False where it is not glibc's."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # musl, macOS: no mallopt, and their own ways of giving memory back
        return False
    # Either one set turns off glibc's moving thresholds; both at the first values it starts with.
    return bool(mallopt(M_MMAP_THRESHOLD, FIXED_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, FIXED_BYTES))
