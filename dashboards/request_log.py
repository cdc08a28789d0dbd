"""A line per request with the time it took and the processor time it used: where a slow answer waited.

With ``ONEMAP_REQUEST_LOG`` naming a file, every serving process appends to it, one tab-separated line per
request as its last byte is sent: the time it began (UTC), the process, the method, what was asked (the path;
for a Dash callback, its first output), the status, the bytes sent, the milliseconds it took and the
milliseconds of processor time its thread used. The two differ by what the request waited for: the other
threads of its process (one runs Python at a time), the store, the network.

Nothing of the request's content is written but a callback's output id: no query string, no person.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from datetime import UTC, datetime

from dashboards.wsgi_body import Closing
from layers.settings import SETTINGS

CALLBACK_PATH = "/_dash-update-component"
_BODY_MAX = 1 << 20  # a callback's request is a few kB; a larger one is not read twice


def install(server, path: str = SETTINGS.request_log) -> None:
    """Log each request of ``server`` (a Flask app) to ``path``; nothing when it is empty."""
    if path:
        server.wsgi_app = Timed(server.wsgi_app, path)


class Timed:
    """WSGI middleware: the whole answer timed, compression and the sending of its body included."""

    def __init__(self, app, path: str):
        self.app, self.path = app, path
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        began, wall, cpu = datetime.now(UTC), time.perf_counter(), time.thread_time()
        asked = environ.get("PATH_INFO", "")
        if asked == CALLBACK_PATH:
            asked = f"{asked}:{_output(environ)}"
        answer = {}

        def started(status, headers, exc_info=None):
            answer["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        body = self.app(environ, started)
        return Closing(body, lambda sent: self._write(
            f"{began:%Y-%m-%dT%H:%M:%S.%f}\t{os.getpid()}\t{environ.get('REQUEST_METHOD', '')}\t{asked}\t"
            f"{answer.get('status', '')}\t{sent}\t{(time.perf_counter() - wall) * 1000:.1f}\t"
            f"{(time.thread_time() - cpu) * 1000:.1f}\n"))

    def _write(self, line: str) -> None:
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(line)


def _output(environ) -> str:
    """A callback's first output id, read from its body, which is put back for the app to read."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return "?"
    if not 0 < length <= _BODY_MAX:
        return "?"
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        output = json.loads(body).get("output", "")
    except (ValueError, AttributeError):
        return "?"
    # "..overview-kpis.children...overview-map.figure.." → overview-kpis
    return str(output).strip(".").split(".", 1)[0][:80] if isinstance(output, str) else "?"
