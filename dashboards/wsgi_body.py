"""A WSGI response body that says when it is over: sent whole or closed, whichever comes first.

The middlewares that time a request (``request_log``) or count it while it is answered (``in_flight``)
both need the moment its last byte went out, which is after the app returned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


class Closing:
    """``body`` passed through; ``done(bytes sent)`` called once, when it is sent whole or closed."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]):
        self.body, self.done, self.sent, self.open = body, done, 0, True

    def __iter__(self):
        try:
            for chunk in self.body:
                self.sent += len(chunk)
                yield chunk
        finally:
            self._over()

    def close(self):
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self._over()

    def _over(self):
        if self.open:
            self.open = False
            self.done(self.sent)
