"""A serving process's pushes run in a niced child of its own (``dashboards.intake``), on the same store."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from dashboards import intake
from layers.errors import InvalidValue
from layers.store import open_store


# Tasks: module-level, so that the child can import them by name.
def where_and_how_nice(store):
    return os.getpid(), os.nice(0), store.url


def how_scheduled(store):
    return os.sched_getscheduler(0)


def counted_cells(store):
    return store.count("grid_cells")


def refusing(store):
    raise InvalidValue("状态 'x' 不在允许值内", zh="状态 'x' 不在允许值内")


class Unrebuildable(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a} and {b}")


def failing_oddly(store):
    raise Unrebuildable("one", "two")


@pytest.fixture
def store(demo_gpkg):
    with open_store(demo_gpkg[0]) as opened:
        yield opened
    intake.shutdown()


def test_a_task_runs_in_a_child_at_a_lower_priority_on_the_same_store(store):
    pid, nice, url = intake.run(where_and_how_nice, store)
    assert pid != os.getpid()
    assert nice >= min(os.nice(0) + intake.NICE, 19)
    if hasattr(os, "SCHED_IDLE"):  # Linux: only when the core is otherwise idle
        assert intake.run(how_scheduled, store) == os.SCHED_IDLE
    assert url == store.url
    assert intake.run(counted_cells, store) == store.count("grid_cells")
    # The same child takes the next task: it is started once, not per push.
    assert intake.run(where_and_how_nice, store)[0] == pid


def test_what_the_task_raises_is_raised_here(store):
    with pytest.raises(InvalidValue, match="不在允许值内"):
        intake.run(refusing, store)
    # An exception that cannot be rebuilt here still says what happened, and the child lives on.
    with pytest.raises(RuntimeError, match="Unrebuildable: one and two"):
        intake.run(failing_oddly, store)
    assert intake.run(counted_cells, store) > 0


def test_a_killed_child_is_replaced(store):
    pid = intake.run(where_and_how_nice, store)[0]
    os.kill(pid, 9)
    again = intake.run(where_and_how_nice, store)[0]
    assert again != pid


CHILD_OF_A_SERVER = """
import os, sys
from dashboards import intake
from layers.store import open_store
from tests.dashboards.test_intake import where_and_how_nice
with open_store(sys.argv[1]) as store:
    print(intake.run(where_and_how_nice, store)[0], flush=True)
os._exit(0)  # the serving process dies without a word to its child
"""


def test_the_child_ends_with_its_serving_process(demo_gpkg):
    out = subprocess.run([sys.executable, "-c", CHILD_OF_A_SERVER, demo_gpkg[0]], capture_output=True, text=True,
                         timeout=120, check=True)
    child = int(out.stdout.split()[-1])
    deadline = time.monotonic() + 10 * intake.ORPHAN_CHECK_S + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(child), f"the intake child {child} outlived its serving process"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
