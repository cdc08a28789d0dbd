"""The product's tunables, in one place: each a typed value with the environment variable that sets it.

Read once, when first imported; ``Settings.from_environ()`` reads them again
(a test that sets a variable). A value that does not parse stops the program
with the variable's name, never silently falls back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from layers.errors import InvalidValue


def _env(name: str, default, *, doc: str):
    return field(default=default, metadata={"env": name, "doc": doc})


@dataclass(frozen=True)
class Settings:
    """The tunables, each with its environment variable (``described()`` lists them)."""

    store: str = _env("ONEMAP_STORE", "data/onemap.gpkg",
                      doc="the store: a GeoPackage path or a postgresql:// URL (?schema=NAME)")
    read_store: str = _env("ONEMAP_READ_STORE", "",
                           doc="PostGIS only: a postgresql:// URL reads go to, a streaming replica or several hosts "
                               "(?target_session_attrs=prefer-standby); writes still go to ONEMAP_STORE "
                               "(empty: reads go there too)")
    pg_pool_min: int = _env("ONEMAP_PG_POOL_MIN", 1, doc="PostGIS connections a server process keeps open")
    pg_pool_max: int = _env("ONEMAP_PG_POOL_MAX", 10,
                            doc="PostGIS connections a process may open (at least the server's threads, 8)")
    pg_pool_timeout_s: float = _env("ONEMAP_PG_POOL_TIMEOUT", 3.0,
                                    doc="seconds a request waits for a PostGIS connection before the store "
                                        "counts as unreachable (the page then shows its last good data)")
    pg_connect_timeout_s: int = _env("ONEMAP_PG_CONNECT_TIMEOUT", 10, doc="seconds to connect to PostgreSQL")
    gpkg_lock_timeout_s: float = _env("ONEMAP_GPKG_LOCK_TIMEOUT", 30.0,
                                      doc="seconds a GeoPackage write waits for another program to let go of the file")
    session_hours: float = _env("ONEMAP_SESSION_HOURS", 12.0, doc="hours a person's login lasts")
    kiosk_days: int = _env("ONEMAP_KIOSK_DAYS", 400, doc="days a wall screen's session cookie lives (its link until revoked)")
    failed_logins: int = _env("ONEMAP_FAILED_LOGINS", 5,
                              doc="failed logins in a row that lock a user name from one client address")
    name_failed_logins: int = _env("ONEMAP_NAME_FAILED_LOGINS", 20,
                                   doc="failed logins of one name from anywhere that lock it for addresses "
                                       "it has not logged in from lately")
    address_failed_logins: int = _env("ONEMAP_ADDRESS_FAILED_LOGINS", 50,
                                      doc="failed logins from one address, any names, that lock the address")
    known_address_days: int = _env("ONEMAP_KNOWN_ADDRESS_DAYS", 30,
                                   doc="days an address a user logged in from stays that user's own")
    lockout_s: int = _env("ONEMAP_LOCKOUT_S", 900, doc="seconds failed logins are counted over, and a lock lasts")
    proxies: int = _env("ONEMAP_PROXIES", 0,
                        doc="reverse proxies in front of the server whose X-Forwarded-For names the client")
    secure_cookies: int = _env("ONEMAP_SECURE_COOKIES", 0,
                               doc="1 when people reach the server over HTTPS (a proxy in front): the session "
                                   "cookie is then sent over HTTPS only")
    feed_queries: int = _env("ONEMAP_FEED_QUERIES", 300,
                             doc="different filter values of one feed query a user may ask per window")
    feed_window_s: int = _env("ONEMAP_FEED_WINDOW_S", 600, doc="seconds the feed's query limit counts over")
    open311_requests: int = _env("ONEMAP_OPEN311_REQUESTS", 600,
                                 doc="requests one channel system's key may make to the push API per window")
    open311_window_s: int = _env("ONEMAP_OPEN311_WINDOW_S", 60, doc="seconds the push API's request limit counts over")
    open311_batch: int = _env("ONEMAP_OPEN311_BATCH", 1000, doc="cases one batch request to the push API may carry")
    basic_trust_s: int = _env("ONEMAP_BASIC_TRUST_S", 300,
                              doc="seconds a feed client's checked password is trusted before it is checked again")
    min_password: int = _env("ONEMAP_MIN_PASSWORD", 8, doc="the shortest password a user may be given")
    request_log: str = _env("ONEMAP_REQUEST_LOG", "",
                            doc="a file each serving process appends a line per request to: what it asked, its status, "
                                "size, and the time it took against the processor time it used (empty: none)")
    cache_check_s: float = _env("ONEMAP_CACHE_CHECK_S", 1.0,
                                doc="seconds a server trusts its copy of the store before asking for its versions")
    follow_s: float = _env("ONEMAP_FOLLOW_S", 2.0,
                           doc="seconds a server's follower waits after taking in a write before it looks again: a "
                               "stream of writes is taken in this often, a write after a quiet spell within "
                               "ONEMAP_CACHE_CHECK_S")
    cache_recent_s: float = _env("ONEMAP_CACHE_RECENT_S", 5.0, doc="seconds one filter's cases are reused")
    cache_recent_max: int = _env("ONEMAP_CACHE_RECENT_MAX", 8, doc="filters whose cases are kept at once")
    redis: str = _env("ONEMAP_REDIS", "",
                      doc="redis://host:port/db that several servers of one store share for failed logins, "
                          "logouts and query limits (empty: one server's own, in the store and in memory)")
    server_threads: int = _env("ONEMAP_SERVER_THREADS", 8, doc="threads each server process answers with")
    connection_limit: int = _env("ONEMAP_CONNECTION_LIMIT", 2000, doc="open connections a server keeps (browsers, walls)")
    hold_max: int = _env("ONEMAP_HOLD_MAX", 250_000,
                         doc="cases up to which a server holds a copy of them (fastest); above, it holds none and "
                             "asks the store, so a city's or a province's server starts at once in little memory")
    raw_max: int = _env("ONEMAP_RAW_MAX", 20_000,
                        doc="cases in a view up to which a server that holds none reads them; above, the store "
                            "counts them (case_counts)")
    point_limit: int = _env("ONEMAP_POINT_LIMIT", 3000, doc="cases in view above which the map shows cells only")
    export_batch_rows: int = _env("ONEMAP_EXPORT_BATCH_ROWS", 25_000, doc="rows an export writes at a time")
    feed_limit_max: int = _env("ONEMAP_FEED_LIMIT_MAX", 10_000, doc="the most features one feed page gives")
    brief_timeout_s: int = _env("ONEMAP_BRIEF_TIMEOUT_S", 600, doc="seconds one scheduled brief may take")
    brief_retry_s: int = _env("ONEMAP_BRIEF_RETRY_S", 300,
                              doc="seconds between the schedule's tries while the store does not answer")
    brief_tries: int = _env("ONEMAP_BRIEF_TRIES", 3, doc="runs a day the schedule tries when the district's brief failed")
    inbox_settle_s: float = _env("ONEMAP_INBOX_SETTLE_S", 5.0,
                                 doc="seconds a file in a drop folder must stay unchanged before it is ingested")
    inbox_interval_s: float = _env("ONEMAP_INBOX_INTERVAL_S", 2.0, doc="seconds between two looks at the drop folders")
    basemap: str = _env("ONEMAP_BASEMAP", "", doc="tianditu, amap, or a tile URL with {z} {x} {y} (empty: none)")
    basemap_datum: str = _env("ONEMAP_BASEMAP_DATUM", "", doc="the tiles' datum for a URL: cgcs2000, wgs84, gcj02")
    tianditu_key: str = _env("ONEMAP_TIANDITU_KEY", "", doc="the Tianditu service key (tk)")

    @classmethod
    def from_environ(cls, environ=None) -> Settings:
        """The settings as the environment sets them; a value that does not parse is refused, naming its variable."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            text = environ.get(f.metadata["env"])
            if text in (None, ""):
                continue
            kind: type = type(f.default)
            try:
                values[f.name] = kind(text)
            except ValueError:
                raise InvalidValue(f"{f.metadata['env']}={text!r} is not a {kind.__name__}",
                                   zh=f"环境变量 {f.metadata['env']}={text!r} 不是有效的 {kind.__name__}") from None
        return cls(**values)

    @classmethod
    def described(cls) -> list[tuple[str, str, object]]:
        """(variable, what it sets, default) for each setting: what the README lists."""
        return [(f.metadata["env"], f.metadata["doc"], f.default) for f in fields(cls)]


SETTINGS = Settings.from_environ()
