"""Where a serving process's pushed cases are ingested: a process of its own, at a lower CPU priority.

Ingesting a pushed case is pandas work, about 0.4 s of CPU for one case in a store of a million. Done
in the serving process, it held the interpreter's lock that the process's page callbacks wait for, and
on two cores the callbacks of a wall and ten people took 2-4 times as long while one case a second
arrived (``bench/stream.py``). Here each serving process hands its pushes to one child of its own,
started when the first push comes, niced (``NICE``) and, on Linux, scheduled only when the core is
otherwise idle (``SCHED_IDLE``), so that when both want the CPU the pages win and the push waits; the request that pushed waits for the answer as before. The child opens the store by its
URL and keeps it (and the ingest's held geography) for the next push.

One child per serving process, taking one push at a time: the pushes of a process are ingested in the
order they came, as the threads of one process were (they took turns at the same lock).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import pickle
import threading
import time

from dashboards import in_flight, memory
from layers.store import Store, open_store

# Of the child: 10 gives it about a tenth of a core's share against a serving process at 0 (Linux's weights).
NICE = 10
ORPHAN_CHECK_S = 1.0
# Stores a child keeps open (a server has one; a process serving several apps, as the tests do, more).
STORES_KEPT = 4

_lock = threading.Lock()
_executors: dict[int, concurrent.futures.ProcessPoolExecutor] = {}  # by the serving process's pid
_stores: dict[str, Store] = {}  # in the child: by URL


def run(task, store: Store, *args, **kwargs):
    """``task(store, *args, **kwargs)`` in this process's intake child, on the same store; its answer.

    An exception the task raises is raised here (as its own type where it can travel between processes).
    A child that died (killed, out of memory) is replaced and the task given to the new one once more:
    a task that had already written is idempotent (pushes are, by their channel's request id).
    """
    for attempt in (1, 2):
        executor = _executor()
        try:
            with in_flight.waiting():  # no processor of this process used meanwhile: the follower need not wait
                answer = executor.submit(_call, task, store.url, args, kwargs).result()
        except concurrent.futures.process.BrokenProcessPool:
            _forget(executor)
            if attempt == 2:
                raise
            continue
        # Written by another process: what this one reads next must include it (on a replica, its WAL position).
        store.written_elsewhere()
        return answer
    raise AssertionError("unreachable")


def _executor() -> concurrent.futures.ProcessPoolExecutor:
    pid = os.getpid()
    with _lock:
        executor = _executors.get(pid)
        if executor is None:
            # spawn, not fork: a serving process has threads (and connections) a fork would copy half-way.
            executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_child_start)
            _executors[pid] = executor
        return executor


def _forget(executor) -> None:
    with _lock:
        for pid, held in list(_executors.items()):
            if held is executor:
                del _executors[pid]
    executor.shutdown(wait=False, cancel_futures=True)


def shutdown() -> None:
    """End this process's intake child (the server's shutdown; a test's end)."""
    with _lock:
        executor = _executors.pop(os.getpid(), None)
    if executor is not None:
        executor.shutdown(wait=True)


def _child_start() -> None:
    os.nice(NICE)
    # Linux: the child runs only where no other process of the machine wants the core. Niced alone it still
    # took turns with the pages' processes, whose requests then waited for it to be put off the core.
    if hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            pass  # not allowed here: niced only
    memory.keep_trimming()  # a push's frames are dropped once written: given back, as the server's are
    # Ends with its serving process, however that ends (gunicorn's kill of a stuck worker included): the
    # pool's queue would never tell it, as the child holds an end of its pipes too.
    parent = os.getppid()
    threading.Thread(target=_orphaned, args=(parent,), daemon=True, name="onemap-intake-parent").start()


def _orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(0)


def _call(task, url: str, args: tuple, kwargs: dict):
    store = _stores.pop(url, None) or open_store(url)
    _stores[url] = store  # the most recent last
    while len(_stores) > STORES_KEPT:
        _stores.pop(next(iter(_stores))).close()
    try:
        return task(store, *args, **kwargs)
    except Exception as exc:
        try:  # an exception that cannot be rebuilt on the other side would break the pool: say it plainly
            pickle.loads(pickle.dumps(exc))
        except Exception:
            raise RuntimeError(f"{type(exc).__name__}: {exc}") from None
        raise
