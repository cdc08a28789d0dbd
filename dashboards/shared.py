"""What the servers of one store share through Redis: failed logins, ended sessions and the query limits.

One server needs none of this: it counts failed logins and ends sessions in
the store, and limits queries in its own memory. Several servers behind a
load balancer, reading from replicas, do: a replica cannot record a login,
a primary that is down would stop the count (and leave guessing free), and
a limit kept per process is as many limits as there are processes. With
``ONEMAP_REDIS`` set, every server of the store counts in one Redis.

Keys are named by the store (a digest of its secret, the same on every
server of it), so several stores may share one Redis; names and addresses
are kept as digests, never as given. Counts are kept as sorted sets of
times and cut to their window by the Redis server's own clock (``TIME`` in
a script), so servers whose clocks differ still count alike, and a check
and its count are one atomic step.
"""

from __future__ import annotations

import hashlib
import logging
import uuid

import flask
import redis

from dashboards.limits import LoginLimiter, QueryThrottle
from layers.errors import StoreUnreachable
from layers.settings import Settings
from layers.store import Store

# Failed logins of one name from one address, since its last success, within the window: ≥ limit is a lock.
# KEYS: pair, name, address; ARGV: window_s, in_a_row, per_name, per_address, known key's address field.
_LOCKED = """
local now = tonumber(redis.call('TIME')[1])
local since = now - tonumber(ARGV[1])
for i = 1, 3 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. since) end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) and redis.call('HEXISTS', KEYS[4], ARGV[5]) == 0 then
  return 1 end
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[4]) then return 1 end
return 0
"""
# One failed login: counted for the pair, the name and the address. KEYS: pair, name, address; ARGV: window_s.
_FAILED = """
local now = redis.call('TIME')
local member = now[1] .. '.' .. now[2] .. ':' .. ARGV[2]
for i = 1, 3 do
  redis.call('ZADD', KEYS[i], tonumber(now[1]), member)
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[1]))
end
return 0
"""
# A query's value set: 0 if it may be answered (and it is counted), else the seconds until it may.
# KEYS: the (who, shape) key; ARGV: digest of the values, limit, window_s.
_QUERY = """
local now = tonumber(redis.call('TIME')[1])
local window = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window + 1))
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, window - (now - tonumber(oldest[2])))
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('EXPIRE', KEYS[1], window)
return 0
"""


def redis_url() -> str:
    """The Redis the servers share (``ONEMAP_REDIS``), or "" for none; read at each call, as tests set it late."""
    return Settings.from_environ().redis


def connect(url: str) -> redis.Redis:
    # Short timeouts: a login or a query waits at most a second for Redis, then is answered with an error.
    return redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)


def namespace(secret: str) -> str:
    """The prefix of one store's keys: a digest of the store's secret, the same on every server of it."""
    return "onemap:" + hashlib.sha256(f"redis-namespace\0{secret}".encode()).hexdigest()[:16]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _unreachable(exc: Exception) -> StoreUnreachable:
    return StoreUnreachable(f"the shared state (Redis) does not answer: {type(exc).__name__}",
                            zh="共享状态服务（Redis）暂时无法连接")


class RedisLoginLimiter(LoginLimiter):
    """The failed-login limit of :class:`LoginLimiter`, counted in Redis for every server of the store.

    When Redis does not answer, a login is refused (``StoreUnreachable``): an unlimited guess is worse than
    a person waiting for a minute.
    """

    def __init__(self, store: Store, client: redis.Redis, prefix: str, **limits):
        super().__init__(store, **limits)
        self.client, self.prefix = client, prefix
        self._locked = client.register_script(_LOCKED)
        self._failed = client.register_script(_FAILED)

    def _keys(self, name: str, address: str) -> list[str]:
        name_key, address_key = _digest(name[:200]), _digest(address[:64])
        return [f"{self.prefix}:login:pair:{name_key}:{address_key}", f"{self.prefix}:login:name:{name_key}",
                f"{self.prefix}:login:address:{address_key}", f"{self.prefix}:login:known:{name_key}"]

    def locked(self, name: str, address: str) -> bool:
        try:
            return bool(self._locked(keys=self._keys(name, address), args=[
                self.window_s, self.in_a_row, self.per_name, self.per_address, _digest(address[:64])]))
        except redis.RedisError as exc:
            raise _unreachable(exc) from exc

    def _record(self, name, address, ok) -> str:
        keys = self._keys(name, address)
        try:
            if ok:  # a success ends the run of failures from here, and makes the address the user's own
                with self.client.pipeline() as pipe:
                    pipe.delete(keys[0])
                    pipe.hset(keys[3], _digest(address[:64]), 1)
                    pipe.expire(keys[3], self.known_days * 86400)
                    pipe.execute()
            else:
                self._failed(keys=keys[:3], args=[self.window_s, uuid.uuid4().hex[:8]])
        except redis.RedisError as exc:  # the count may miss one attempt; the login itself is not refused for it
            logging.getLogger(__name__).warning("a login attempt was not counted: %s", type(exc).__name__)
        return uuid.uuid4().hex


class RedisThrottle:
    """:class:`dashboards.limits.QueryThrottle`'s limit, counted in Redis for every server of the store."""

    def __init__(self, client: redis.Redis, prefix: str, limit: int, window_s: float):
        self.client, self.prefix, self.limit, self.window_s = client, prefix, limit, int(window_s)
        self._query = client.register_script(_QUERY)

    def wait_s(self, who: str, shape: tuple, values: tuple) -> float:
        key = f"{self.prefix}:query:{_digest(who)}:{_digest(repr(shape))}"
        try:
            return float(self._query(keys=[key], args=[_digest(repr(values)), self.limit, self.window_s]))
        except redis.RedisError as exc:
            raise _unreachable(exc) from exc


class EndedSessions:
    """Sessions ended by a logout, for every server of the store at once (kept as long as a session lasts)."""

    def __init__(self, client: redis.Redis, prefix: str, keep_s: int):
        self.client, self.prefix, self.keep_s = client, prefix, keep_s

    def end(self, session_id: str) -> None:
        try:
            self.client.set(f"{self.prefix}:ended:{_digest(session_id)}", 1, ex=self.keep_s)
        except redis.RedisError as exc:
            raise _unreachable(exc) from exc

    def ended(self, session_id: str) -> bool:
        """Whether the session was ended. When Redis does not answer, the store's record of logouts (which a
        logout writes too) is what the gate goes by: the hall is not logged out for an outage of Redis."""
        try:
            return bool(self.client.exists(f"{self.prefix}:ended:{_digest(session_id)}"))
        except redis.RedisError as exc:
            logging.getLogger(__name__).warning("ended sessions not checked in Redis: %s", type(exc).__name__)
            return False


class Shared:
    """The state the servers of one store share in Redis: their login limit, ended sessions, query limits."""

    def __init__(self, store: Store, secret: str, url: str, *, session_s: int):
        self.client, self.prefix = connect(url), namespace(secret)
        self.limiter = RedisLoginLimiter(store, self.client, self.prefix)
        self.sessions = EndedSessions(self.client, self.prefix, session_s)
        self._throttles: dict[tuple, RedisThrottle] = {}

    def throttle(self, name: str, limit: int, window_s: float) -> RedisThrottle:
        key = (name, limit, int(window_s))
        if key not in self._throttles:
            self._throttles[key] = RedisThrottle(self.client, f"{self.prefix}:{name}", limit, window_s)
        return self._throttles[key]


def install(app, store: Store, *, session_s: int) -> Shared | None:
    """The shared state of the app's servers, on the app, when ``ONEMAP_REDIS`` names a Redis (else None)."""
    url = redis_url()
    shared = Shared(store, app.server.secret_key, url, session_s=session_s) if url else None
    app.server.extensions["onemap_shared"] = shared
    return shared


def from_app(app_or_server=None) -> Shared | None:
    """The shared state the current request's app was given (None: one server's own, as without Redis)."""
    server = app_or_server or flask.current_app
    return server.extensions.get("onemap_shared")


def throttle(local: QueryThrottle, name: str) -> QueryThrottle | RedisThrottle:
    """The query limit to count a request against: ``local``'s, in Redis when the servers share one."""
    shared = from_app()
    return local if shared is None else shared.throttle(name, local.limit, local.window_s)
