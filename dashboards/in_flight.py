"""How many requests this serving process is answering now: what its background work gives way to.

A serving process runs one thread of Python at a time. The follower (``dashboards.cache``) brings the
held copy up to date and makes what requests will ask of it, 20-60 ms of work every couple of seconds
under a stream of writes; a request that arrived meanwhile took turns with it and took as much longer.
Between the steps of that work the follower waits (``quiet``) until no request is being answered, for
a bounded time, so that a request waits for the step under way at most, not for the rest.

A request that waits for something else (a push for its intake child, a request for the cache's lock the
follower holds while it gives way) says so (``waiting``) and is not counted meanwhile: the follower does
not wait for what waits for it, nor for a request that uses no processor here.
"""

from __future__ import annotations

import contextlib
import threading
import time

from dashboards.wsgi_body import Closing

_changed = threading.Condition()
_count = 0
_local = threading.local()  # whether the current thread is answering a counted request


def install(server) -> None:
    """Count the requests of ``server`` (a Flask app) from their start to their body's last byte."""
    server.wsgi_app = Counted(server.wsgi_app)


class Counted:
    """WSGI middleware: a request counts until its body is closed (compression and sending included)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        _add(1)
        _local.counted = True
        try:
            body = self.app(environ, start_response)
        except BaseException:
            _local.counted = False
            _add(-1)
            raise
        return Closing(body, _over)


def _over(_sent: int) -> None:
    _local.counted = False
    _add(-1)


def _add(n: int) -> None:
    global _count
    with _changed:
        _count += n
        if _count <= 0:
            _changed.notify_all()


def count() -> int:
    """Requests being answered in this process now (those waiting on another process not counted)."""
    return _count


@contextlib.contextmanager
def waiting():
    """Within: the current request waits (for another process, for a lock the background work holds) and is
    not counted. Outside a counted request, nothing."""
    if not getattr(_local, "counted", False):
        yield
        return
    _add(-1)
    try:
        yield
    finally:
        _add(1)


def quiet(until: float) -> bool:
    """Wait until no request is being answered, or until ``until`` (``time.monotonic()``); whether it is quiet."""
    with _changed:
        while _count > 0:
            left = until - time.monotonic()
            if left <= 0:
                return False
            _changed.wait(left)
        return True
