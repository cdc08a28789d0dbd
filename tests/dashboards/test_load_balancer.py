"""Two real server processes of one PostGIS store behind a real HAProxy, sharing their state in Redis.

As a city's centre runs it: people reach whichever server the balancer
picks, request by request. A session made on one works on the other, the
failed-login limit counts across both, and a logout ends the session on
both. HAProxy (Debian's ``haproxy``) names the server that answered in a
header, so the test knows both took part.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import requests

from dashboards import shared
from dashboards.app import create_app
from dashboards.client import DashClient, ServerHttp, for_app
from demo.users import demo_password
from layers.store import open_store
from layers.users import server_secret
from tests.conftest import _postgis_schema, _unavailable, copy_store, serving

YEAR = {"overview-period.start_date": "2020-01-01", "overview-period.end_date": "2020-12-31"}
_HAPROXY = """global
    maxconn 256
defaults
    mode http
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend onemap
    bind 127.0.0.1:{port}
    option forwardfor
    default_backend servers
backend servers
    balance roundrobin
    http-response set-header X-Served-By %[srv_name]
    server a {a} check inter 1s
    server b {b} check inter 1s
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def haproxy(*servers: str):
    """HAProxy in front of ``servers`` (base URLs), round robin; its base URL once both are up behind it."""
    binary = shutil.which("haproxy", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if binary is None:
        _unavailable("HAProxy not installed (Debian: haproxy)")
    port = free_port()
    folder = tempfile.mkdtemp(prefix="haproxy-")
    config = f"{folder}/haproxy.cfg"
    with open(config, "w") as out:
        out.write(_HAPROXY.format(port=port, a=servers[0].split("//")[1], b=servers[1].split("//")[1]))
    proc = subprocess.Popen([binary, "-f", config, "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        answered_by = set()
        for _ in range(60):
            try:
                answered_by.add(requests.get(url + "/login", timeout=5).headers.get("X-Served-By"))
            except requests.ConnectionError:
                pass
            if {"a", "b"} <= answered_by:
                break
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def balanced(demo_gpkg, tmp_path_factory):
    """The demo in a PostGIS schema of its own, two servers on it sharing the test's Redis, HAProxy in front.

    Yields (balancer URL, first server URL, second server URL, the callbacks' map, the kinds of the store's
    keys in Redis).
    """
    redis = pytest.importorskip("redis")
    redis_url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        _unavailable(f"Redis not available at {redis_url}: {exc}")
    env = {"ONEMAP_REDIS": redis_url, "ONEMAP_PROXIES": "1"}  # the balancer's X-Forwarded-For names the client
    with _postgis_schema("lb") as url:
        copy_store(demo_gpkg[0], url)
        callbacks = for_app(create_app(url)).callback_map
        with open_store(url) as store:
            in_redis = f"{shared.namespace(server_secret(store))}:*"
        kept = redis.Redis.from_url(redis_url).keys(in_redis)
        if kept:  # copies of the demo share its secret: another test's failed logins are not these servers'
            redis.Redis.from_url(redis_url).delete(*kept)
        with serving(url, env=env) as first, serving(url, env=env) as second, haproxy(first, second) as front:
            yield front, first, second, callbacks, lambda: {
                k.decode().split(":")[2] for k in redis.Redis.from_url(redis_url).keys(in_redis)}


def logged_in(url: str, name: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(url + "/login", data={"user": name, "password": demo_password(name), "next": "/"},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[-500:]
    return session


def test_a_session_works_on_whichever_server_the_balancer_picks(balanced):
    front, _, _, callbacks, _ = balanced
    session = logged_in(front, "kongpu")
    pages = [session.get(front + "/", allow_redirects=False, timeout=60) for _ in range(4)]
    assert [p.status_code for p in pages] == [200] * 4
    assert {p.headers["X-Served-By"] for p in pages} == {"a", "b"}
    # A callback, with the session's CSRF token, answered by each server in turn.
    http = ServerHttp(front, timeout=120)
    http.session = session
    client = DashClient(http, callbacks)
    answers = [client.call("overview-kpis", YEAR) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert {a.headers["X-Served-By"] for a in answers} == {"a", "b"}
    assert answers[0].json()["response"] == answers[1].json()["response"]  # the same street's figures on both


def test_the_failed_login_limit_counts_across_both_servers(balanced):
    front, first, second, _, kept = balanced
    tried = [requests.post(front + "/login", data={"user": "admin", "password": "not-the-password"},
                           allow_redirects=False, timeout=30) for _ in range(5)]
    assert [t.status_code for t in tried] == [401] * 5
    assert {t.headers["X-Served-By"] for t in tried} == {"a", "b"}  # the five were split between the servers
    for url in (front, first, second):
        locked = requests.post(url + "/login", data={"user": "admin", "password": demo_password("admin")},
                               allow_redirects=False, timeout=30)
        assert locked.status_code == 429, url
    assert "login" in kept()  # counted in Redis, not in each server


def test_a_logout_ends_the_session_on_both_servers(balanced):
    front, first, second, _, kept = balanced
    session = logged_in(front, "planner")
    cookie = session.cookies.get("session")
    for url in (first, second):  # the same cookie, straight to each server
        assert requests.get(url + "/", cookies={"session": cookie}, allow_redirects=False, timeout=60).status_code == 200
    assert session.get(front + "/logout", allow_redirects=False, timeout=30).status_code == 302
    for url in (first, second):
        refused = requests.get(url + "/", cookies={"session": cookie}, allow_redirects=False, timeout=60)
        assert refused.status_code == 302 and "/login" in refused.headers["Location"], url
    assert "ended" in kept()
