"""The request log: a line per request with the time it took and the processor time it used.

Through the real Flask server of the Dash app over the demo store, with ``request_log.install`` given a file.
"""

from __future__ import annotations

from dashboards import request_log
from dashboards.app import create_app
from dashboards.client import for_app
from demo.users import demo_password

YEAR = {"overview-period.start_date": "2020-01-01", "overview-period.end_date": "2020-12-31"}


def lines(path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


def test_each_request_is_a_line_naming_a_callback_by_its_output_and_timing_it_twice(demo_gpkg, tmp_path):
    log = tmp_path / "requests.log"
    app = create_app(demo_gpkg[0])
    request_log.install(app.server, str(log))
    person = for_app(app)
    # A line is written as the answer's last byte is sent or it is closed, whichever comes first.
    login = person.log_in("commander", demo_password("commander"))
    login.close()
    answer = person.call("overview-kpis", {**YEAR, "overview-layers.value": ["cases"]})
    answer.close()
    assert answer.status_code == 200
    stranger = app.server.test_client()  # not logged in
    refused = stranger.post(request_log.CALLBACK_PATH, json={"output": "..no-such-output.children..", "inputs": []})
    refused.close()
    assert refused.status_code != 200

    written = lines(log)
    assert len(written) == 4  # the login form read, the login, the tiles, the refused call
    form, login, kpis, wrong = written
    assert form[2:5] == ["GET", "/login", "200"] and login[2:5] == ["POST", "/login", "302"]
    began, pid, method, asked, status, sent, took_ms, cpu_ms = kpis
    assert (method, asked, status) == ("POST", "/_dash-update-component:overview-kpis", "200")
    assert int(pid) > 0 and began.startswith(tuple(f"20{y}" for y in range(20, 100)))
    assert int(sent) == len(answer.data) > 1000  # the tiles and the map, as sent
    assert float(took_ms) >= float(cpu_ms) > 0  # waiting is the difference; nothing waits less than it works
    assert wrong[3] == "/_dash-update-component:no-such-output" and wrong[4] != "200"
    assert not any("2020-12-31" in part or "commander" in part for line in written for part in line)


def test_no_file_no_log(demo_gpkg, tmp_path):
    app = create_app(demo_gpkg[0])
    before = app.server.wsgi_app
    request_log.install(app.server, "")
    assert app.server.wsgi_app == before and not isinstance(before, request_log.Timed)
