"""The dashboard through a database restart: a banner and the last good data, then back by itself."""

from __future__ import annotations

import time

import pytest
import requests

from dashboards.app import create_app
from dashboards.client import DashClient, ServerHttp, for_app
from demo.users import demo_password
from tests.conftest import copy_store, demo_copy, postgres_stopped, serving

YEAR = {"overview-period.start_date": "2020-01-01", "overview-period.end_date": "2020-12-31",
        "overview-layers.value": ["cases"]}
WALL = ({"wall-tick.n_intervals": 0},
        {"wall-query.data": {"from": "2020-01-01", "to": "2020-12-31"}, "wall-last-good.data": "2021-03-01 09:00:00"})


def tiles_and_banner(client):
    answer = client.call("overview-kpis", YEAR)
    assert answer.status_code == 200, answer.text[:300]
    out = answer.json()["response"]
    return out["overview-kpis"]["children"], out["overview-banner"]


@pytest.mark.postgis
def test_the_dashboard_keeps_its_last_good_data_while_postgres_is_down_and_recovers(demo_gpkg, postgis_url):
    copy_store(demo_gpkg[0], postgis_url)
    with serving(postgis_url) as url:
        client = DashClient(ServerHttp(url, timeout=60), for_app(create_app(postgis_url)).callback_map)
        assert client.log_in("commander", demo_password("commander")).status_code == 200
        before, banner = tiles_and_banner(client)
        assert banner["style"] == {"display": "none"}
        wall_before = client.call("wall-kpis", *WALL).json()["response"]  # the wall has been showing too
        with postgres_stopped():
            # Said within about two checks of the store (one a second): the follower's next ask, and that ask kept
            # waiting longer than a check (the pool waits 3 s for a connection before it fails).
            stopped = time.monotonic()
            while True:
                during, banner = tiles_and_banner(client)
                assert during == before  # the last good data, all along
                if banner["style"] == {"display": "block"} or time.monotonic() - stopped > 4.0:
                    break
                time.sleep(0.1)
            assert "数据源暂时无法连接" in banner["children"] and banner["style"] == {"display": "block"}
            wall = client.call("wall-kpis", *WALL).json()["response"]
            assert "数据源暂时无法连接" in wall["wall-banner"]["children"]
            assert wall["wall-kpis"] == wall_before["wall-kpis"]  # its picture, from what the server holds
        # Back by itself: no restart of the dashboard, no action by anybody.
        for _ in range(60):
            after, banner = tiles_and_banner(client)
            if banner["style"] == {"display": "none"}:
                break
            time.sleep(0.5)
        assert banner["style"] == {"display": "none"} and after == before
        wall = client.call("wall-kpis", *WALL).json()["response"]
        assert wall["wall-banner"]["style"] == {"display": "none"}


def test_hundreds_of_open_connections_do_not_lock_out_the_next_person(demo_gpkg):
    import socket

    with serving(demo_gpkg[0]) as url:
        port = int(url.rsplit(":", 1)[1])
        # Browsers and wall screens keep their connections open all day (six each, or so).
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(300)]
        try:
            answer = requests.get(url + "/login", timeout=10)
            assert answer.status_code == 200
        finally:
            for connection in idle:
                connection.close()


def test_several_processes_answer_one_session_alike(demo_gpkg, tmp_path):
    import shutil

    log, path = tmp_path / "serve.log", tmp_path / "demo.gpkg"
    shutil.copy(demo_gpkg[0], path)  # logins are counted in the store
    with serving(path, log=log, workers=2) as url:
        client = DashClient(ServerHttp(url, timeout=60), for_app(create_app(str(path))).callback_map)
        assert client.log_in("kongpu", demo_password("kongpu")).status_code == 200
        # Whichever process takes each request, the session holds and the answer is the same.
        answers = {json_text(client.call("overview-kpis", YEAR)) for _ in range(12)}
        assert len(answers) == 1

    said = log.read_text()
    assert "2 processes" in said and said.count("Booting worker") == 2


@pytest.mark.parametrize("kind", ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_the_failed_login_limit_holds_across_processes_on_either_store(kind, demo_gpkg, tmp_path, request):
    spec = demo_copy(kind, demo_gpkg, tmp_path, request)
    with serving(spec, workers=2) as url:
        guesser = ServerHttp(url, timeout=60)
        # Five wrong passwords in all lock the name, whichever processes heard them.
        for _ in range(5):
            assert guesser.post("/login", data={"user": "admin", "password": "guess"}).status_code == 401
        assert guesser.post("/login", data={"user": "admin", "password": demo_password("admin")}).status_code == 429
        assert guesser.post("/login", data={"user": "planner", "password": demo_password("planner")}).status_code == 200


def json_text(answer):
    assert answer.status_code == 200
    return answer.text
