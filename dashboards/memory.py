"""What a long-running server process does with the memory it frees: gives it back to the system.

A server that follows writes makes and drops arrays of a few MB all day (a column of a million cases, a view's
cases). Once glibc's allocator has freed such a block it raises its mmap threshold (128 KiB at first, up to
32 MiB), after which the arrays come from its heap, whose freed middle it never returns: the process grew
with the day (``bench/stream.py``: 3 582 → 3 929 MB over 240 cases pushed, +65 MB per 100). Here a thread
of each process asks glibc every ``TRIM_S`` seconds to give its free pages back, wherever they are
(``malloc_trim``; 3-17 ms a call at a million cases held).

Measured and not kept (``bench/README.md``): every array mapped by itself (the threshold fixed at 128 KiB),
as flat but slower under a stream (a fresh mapping per array is page faults and zeroing in the request);
arrays up to 256 MiB always from the heap, trimmed by the thread: no faster under the stream than this.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import threading
import time

TRIM_S = 10.0

_started: set[int] = set()  # the processes (pids) whose thread is started
_lock = threading.Lock()


@functools.cache  # find_library runs ldconfig: once per process, not at every trim
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # musl, macOS: no malloc_trim, and their own ways of giving memory back
        return None


def trim() -> bool:
    """Give this process's free heap pages back to the system now; False where the allocator is not glibc's."""
    malloc_trim = _malloc_trim()
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True


def keep_trimming(every_s: float = TRIM_S) -> bool:
    """Trim this process every ``every_s`` seconds from a thread of its own (once per process: a forked
    server process starts its own). False where the allocator cannot be asked."""
    if _malloc_trim() is None:
        return False
    with _lock:
        if os.getpid() in _started:
            return True
        _started.add(os.getpid())
    threading.Thread(target=_trim_forever, args=(every_s,), name="onemap-trim", daemon=True).start()
    return True


def _trim_forever(every_s: float) -> None:
    while True:
        time.sleep(every_s)
        trim()
