import subprocess
import sys
import threading

# A day of follows in small: arrays of a few MB made, something small kept after each, the arrays dropped.
# What the process holds afterwards, less what it held before (MB).
DAY = """
import sys
import numpy as np
from dashboards.memory import trim
def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) / 1024
first = np.ones(2_000_000)  # 16 MB from the system, as a copy's column; freed, glibc serves up to 16 MB from its heap
del first
before = rss()
arrays, kept = [], []
for i in range(40):
    arrays.append(np.ones(250_000 + 1000 * i))  # about 2 MB, as a column of a follow
    kept.append(bytearray(25_000))  # something small kept after it (a value made for the copy)
del arrays
if sys.argv[1] == "trimmed":
    assert trim()
print(rss() - before)
"""


def _held_after(way: str) -> float:
    out = subprocess.run([sys.executable, "-c", DAY, way], capture_output=True, text=True, check=True)
    return float(out.stdout)


def test_a_server_process_gives_back_the_arrays_it_drops():
    assert _held_after("trimmed") < 10
    assert _held_after("kept") > 50  # glibc's own way: the 80 MB stay with the process


def test_a_process_trims_itself_from_one_thread_of_its_own():
    from dashboards import memory

    assert memory.keep_trimming(every_s=3600) and memory.keep_trimming(every_s=3600)
    assert sum(t.name == "onemap-trim" for t in threading.enumerate()) == 1
