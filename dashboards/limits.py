"""How often: the failed-login limit, and the limit on near-identical feed queries.

Failed logins are counted in the store's ``logins`` layer, whatever the
backend, so every process and server of one store counts the same attempts.
The limit is per user name *and client address*, not per name alone: five
wrong passwords from one address lock that name from that address only, so
a stranger cannot lock the real person out of their own office. Against a
guesser spread over many addresses, many failures of one name from anywhere
lock it too, but only for addresses that have not logged in as that user
lately (the person's own machines keep working); and many failures from one
address over any names (password spraying) lock that address.

Near-identical queries are what recovering a value takes: the same feed
request over and over with one filter value changed. Each principal may ask
``FEED_QUERIES`` different value sets of one query shape (layer and filtered
fields) within ``FEED_WINDOW_S``; paging through one query's answer is one
value set. That count is kept per server process.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid

import pandas as pd

from layers.errors import StoreError
from layers.settings import SETTINGS
from layers.store import Condition, Store
from layers.users import User, authenticate

FEED_QUERIES, FEED_WINDOW_S = SETTINGS.feed_queries, SETTINGS.feed_window_s


class LoginLimiter:
    """The failed-login limit (see the module's docstring), over the store's ``logins`` layer."""

    def __init__(self, store: Store, *, in_a_row=SETTINGS.failed_logins, per_name=SETTINGS.name_failed_logins,
                 per_address=SETTINGS.address_failed_logins, window_s=SETTINGS.lockout_s,
                 known_days=SETTINGS.known_address_days):
        self.store, self.in_a_row, self.per_name, self.per_address = store, in_a_row, per_name, per_address
        self.window_s, self.known_days = window_s, known_days

    def locked(self, name: str, address: str) -> bool:
        """Whether a login as ``name`` from ``address`` is refused now, before its password is checked."""
        since = pd.Timestamp.now() - pd.Timedelta(seconds=self.window_s)
        tries = self._read(Condition("user_name", "=", name[:200]), since)
        here = tries[tries["address"] == address]
        if failures_in_a_row(here) >= self.in_a_row:
            return True
        if (~tries["ok"].astype(bool)).sum() >= self.per_name and not self._known(name, address):
            return True
        from_address = self._read(Condition("address", "=", address), since)
        return bool((~from_address["ok"].astype(bool)).sum() >= self.per_address)

    def attempt(self, name: str, password: str, address: str) -> tuple[User | None, bool]:
        """(the user whose password this is, or None; whether the name is locked from this address).

        A locked name's password is not checked; a wrong one is counted. A success is recorded by the
        caller (``succeeded``), which needs the id for the session it opens.
        """
        if self.locked(name, address):
            return None, True
        user = authenticate(self.store, name, password)
        if user is None:
            self.failed(name, address)
        return user, False

    def failed(self, name: str, address: str) -> None:
        self._record(name, address, False)

    def succeeded(self, name: str, address: str) -> str:
        """Record a login; its id names the session it opens."""
        return self._record(name, address, True)

    def _known(self, name, address) -> bool:
        since = pd.Timestamp.now() - pd.Timedelta(days=self.known_days)
        return bool(self._read(Condition("user_name", "=", name[:200]), since)
                    .loc[lambda t: t["address"] == address, "ok"].astype(bool).any())

    def _read(self, term, since):
        return self.store.read("logins", [term, Condition("at", ">=", since)])

    def _record(self, name, address, ok) -> str:
        login_id = uuid.uuid4().hex
        try:
            self.store.upsert("logins", pd.DataFrame([{"login_id": login_id, "user_name": name[:200],
                                                       "at": pd.Timestamp.now(), "ok": ok,
                                                       "address": address[:64]}]))
        except StoreError as exc:  # the count may miss one attempt; the login itself is not refused for it
            logging.getLogger(__name__).warning("a login attempt was not recorded: %s", type(exc).__name__)
        return login_id


def failures_in_a_row(tries: pd.DataFrame) -> int:
    """Failed attempts since the last success, in time order."""
    outcomes = tries.sort_values("at")["ok"].astype(bool).tolist()
    last_ok = max((i for i, ok in enumerate(outcomes) if ok), default=-1)
    return len(outcomes) - (last_ok + 1)


class QueryThrottle:
    """At most ``limit`` different value sets of one query shape per principal within ``window_s``."""

    def __init__(self, limit: int = FEED_QUERIES, window_s: float = FEED_WINDOW_S, keep: int = 10_000):
        self.limit, self.window_s, self.keep = limit, window_s, keep
        self._seen: dict[tuple, dict[str, float]] = {}  # (who, shape) → value-set digest → first asked at
        self._lock = threading.Lock()

    def wait_s(self, who: str, shape: tuple, values: tuple, *, now: float | None = None) -> float:
        """0 if this query may be answered now (and it is counted); else the seconds until it may."""
        now = time.monotonic() if now is None else now
        digest = hashlib.sha256(repr(values).encode()).hexdigest()[:16]  # the values themselves are not kept
        with self._lock:
            seen = {d: t for d, t in self._seen.pop((who, shape), {}).items() if now - t < self.window_s}
            if digest not in seen and len(seen) >= self.limit:
                self._seen[(who, shape)] = seen
                return max(1.0, self.window_s - (now - min(seen.values())))
            seen.setdefault(digest, now)
            self._seen[(who, shape)] = seen  # most recently asked last: the oldest shapes go first
            while len(self._seen) > self.keep:
                self._seen.pop(next(iter(self._seen)))
            return 0.0
