"""Several servers of one store sharing their state in a real Redis: logins, logouts and query limits.

Two Dash apps on one store in this process stand for two servers (the test of
two real server processes behind HAProxy is ``test_load_balancer.py``).
"""

from __future__ import annotations

import shutil

import pytest
import redis

from dashboards import shared
from dashboards.app import create_app
from dashboards.limits import LoginLimiter, QueryThrottle
from demo.users import demo_password
from layers.errors import StoreUnreachable
from layers.store import open_store
from layers.users import server_secret


def login(client, name, password=None):
    return client.post("/login", data={"user": name, "password": password or demo_password(name), "next": "/"})


@pytest.fixture
def two_servers(demo_gpkg, tmp_path, redis_url, monkeypatch):
    """Two apps on one copy of the demo, sharing ``redis_url``; and that Redis's client and the store's prefix."""
    from dashboards.cache import CACHE

    path = tmp_path / "demo.gpkg"
    shutil.copy(demo_gpkg[0], path)
    monkeypatch.setenv("ONEMAP_REDIS", redis_url)
    monkeypatch.setattr(CACHE, "check_s", 0)
    first, second = create_app(str(path)), create_app(str(path))
    with open_store(str(path)) as store:
        prefix = shared.namespace(server_secret(store))
    client = redis.Redis.from_url(redis_url)
    forget(client, prefix)  # copies of the demo share its secret: another test's failed logins are not these
    yield first, second, client, prefix
    forget(client, prefix)


def forget(client, prefix: str) -> None:
    """Every key of one store's namespace removed."""
    keys = client.keys(f"{prefix}:*")
    if keys:
        client.delete(*keys)


def limiters(store, client, prefix, **limits):
    """The store's limiter and Redis's, with the same limits: they must answer alike."""
    return [LoginLimiter(store, **limits), shared.RedisLoginLimiter(store, client, prefix, **limits)]


@pytest.mark.parametrize("where", ["store", "redis"])
def test_the_redis_login_limit_counts_as_the_stores(where, tmp_path, redis_url):
    client = redis.Redis.from_url(redis_url)
    with open_store(str(tmp_path / "s.gpkg")) as store:
        prefix = shared.namespace(server_secret(store))
        limiter = limiters(store, client, prefix, in_a_row=3, per_name=6, per_address=7)[where == "redis"]
        for _ in range(2):
            limiter.failed("hongmei", "10.0.0.1")
        assert not limiter.locked("hongmei", "10.0.0.1")
        limiter.succeeded("hongmei", "10.0.0.1")  # a success ends the run
        for _ in range(3):
            limiter.failed("hongmei", "10.0.0.1")
        assert limiter.locked("hongmei", "10.0.0.1")
        assert not limiter.locked("hongmei", "10.0.0.2")  # the person's other office is not locked out
        # Spread over addresses: six failures of one name lock it where it has not logged in lately.
        for n in range(2):
            limiter.failed("hongmei", f"10.9.0.{n}")
        assert limiter.locked("hongmei", "10.0.0.3")
        # Spraying names from one address locks the address.
        for n in range(7):
            limiter.failed(f"user{n}", "10.7.7.7")
        assert limiter.locked("anybody", "10.7.7.7") and not limiter.locked("anybody", "10.7.7.8")


def test_the_redis_login_limit_forgets_after_its_window(tmp_path, redis_url):
    client = redis.Redis.from_url(redis_url)
    with open_store(str(tmp_path / "s.gpkg")) as store:
        limiter = shared.RedisLoginLimiter(store, client, shared.namespace(server_secret(store)), in_a_row=2,
                                           window_s=2)
        limiter.failed("planner", "10.0.0.1")
        limiter.failed("planner", "10.0.0.1")
        assert limiter.locked("planner", "10.0.0.1")
        keys = limiter._keys("planner", "10.0.0.1")
        assert 0 < client.ttl(keys[0]) <= 2  # nothing is kept past its window
        assert "planner" not in " ".join(k.decode() for k in client.keys(f"{limiter.prefix}:*"))  # digests only
        client.delete(*keys[:3])  # what the window's end does, without waiting for it
        assert not limiter.locked("planner", "10.0.0.1")


def test_a_session_made_on_one_server_works_on_the_other_and_a_logout_ends_it_on_both(two_servers):
    first, second, client, prefix = two_servers
    on_first, on_second = first.server.test_client(), second.server.test_client()
    assert login(on_first, "planner").status_code == 302
    cookie = on_first.get_cookie("session")
    on_second.set_cookie("session", cookie.value)
    assert on_second.get("/").status_code == 200
    assert on_first.get("/logout").status_code == 302
    assert on_second.get("/").status_code == 302  # the copy of the cookie is refused on the other server
    assert client.keys(f"{prefix}:ended:*")  # …as Redis says


def test_the_login_limit_is_shared_between_servers(two_servers):
    first, second, client, prefix = two_servers
    on_first, on_second = first.server.test_client(), second.server.test_client()
    for n in range(5):
        assert login((on_first, on_second)[n % 2], "admin", "not-the-password").status_code == 401
    assert login(on_first, "admin").status_code == 429 and login(on_second, "admin").status_code == 429
    assert login(on_second, "commander").status_code == 302


def test_the_query_limit_is_shared_between_servers(redis_url):
    client = redis.Redis.from_url(redis_url)
    prefix = shared.namespace("a store's secret " + redis_url)
    client.delete(*client.keys(f"{prefix}:*") or [f"{prefix}:none"])
    one, other = (shared.RedisThrottle(client, f"{prefix}:feed", 2, 60) for _ in range(2))
    assert one.wait_s("user:kongpu", ("cases",), ("a",)) == 0
    assert other.wait_s("user:kongpu", ("cases",), ("b",)) == 0
    assert one.wait_s("user:kongpu", ("cases",), ("a",)) == 0  # asked before: not a new value
    assert 50 <= other.wait_s("user:kongpu", ("cases",), ("c",)) <= 60  # the third value, on either server
    assert one.wait_s("user:planner", ("cases",), ("c",)) == 0  # another user has their own count
    # The app's throttle keeps the limit and window of the process's own.
    assert QueryThrottle(limit=2, window_s=60).limit == 2


def test_without_redis_no_login_is_checked_uncounted(demo_gpkg, tmp_path, monkeypatch):
    path = tmp_path / "demo.gpkg"
    shutil.copy(demo_gpkg[0], path)
    with socket_closed() as url:
        monkeypatch.setenv("ONEMAP_REDIS", url)
        app = create_app(str(path))
        client = app.server.test_client()
        refused = login(client, "planner")
        assert refused.status_code == 503 and "Logging in is not possible just now" in refused.get_data(True)
        with open_store(str(path)) as store, pytest.raises(StoreUnreachable, match="Redis"):
            shared.RedisLoginLimiter(store, shared.connect(url), "p").locked("planner", "10.0.0.1")


def socket_closed():
    """A Redis URL on a port nothing listens on."""
    import contextlib
    import socket

    @contextlib.contextmanager
    def closed():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        yield f"redis://127.0.0.1:{port}/0"
    return closed()
