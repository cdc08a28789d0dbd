"""The dashboard reading from a streaming replica through the primary's failure: the wall and the overview go
on with the same figures under an intake-paused banner, writes are refused, and all is as before once the
primary is back. The primary and its standby are this test's own (the ``replica`` fixture), not the shared
server: stopping them stops nobody else's database."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from dashboards.app import create_app
from dashboards.client import DashClient, ServerHttp, for_app
from demo.users import demo_password
from layers.apikeys import add_key
from layers.areas import Area
from layers.remediation_orders import Actor, open_order
from layers.store import Condition, open_store
from layers.users import add_kiosk
from tests.conftest import copy_store, serving, waiting
from tests.dashboards.test_faults import WALL, tiles_and_banner

pytestmark = [pytest.mark.postgis, pytest.mark.browser]
PAUSED = "数据录入暂停"
PICTURE = Path(__file__).resolve().parents[2] / "docs" / "replica-banner.png"


def wall(client) -> dict:
    answer = client.call("wall-kpis", *WALL)
    assert answer.status_code == 200, answer.text[:300]
    return answer.json()["response"]


def until(check, seconds=30.0, every=0.5):
    """``check()``'s first true answer within ``seconds``; the last answer otherwise."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(every)


def an_order_to_approve(store) -> str:
    """A remediation order proposed by the commander, for the commander to approve."""
    commander = Actor("commander", "commander", Area.parse("district"))
    today = pd.Timestamp.now().normalize()
    order, _ = open_order(store, commander, place_kind="grid_cell", place="33020500300201", category="占道经营",
                          measures="设置疏导点，每日巡查", unit="孔浦街道城市管理科", planned_start=today,
                          planned_finish=today + pd.Timedelta(days=90))
    return order


def approve(client, order) -> dict:
    """The commander's click on 批准 in the remediation page: the callback's whole answer."""
    answer = client.call("remediation-advance-message", {"remediation-advance.n_clicks": 1}, {
        "remediation-chosen.data": order, "remediation-step.value": "approved", "remediation-step-note.value": "",
        "remediation-handover.value": "", "remediation-lang.data": "zh"})
    assert answer.status_code == 200, answer.text[:300]
    return answer.json()


def test_the_wall_and_the_overview_serve_from_the_replica_while_the_primary_is_down(
        demo_gpkg, replica, chromium_driver, monkeypatch):
    from selenium.webdriver.common.by import By

    spec = f"{replica.primary.url}?schema=demo"
    copy_store(demo_gpkg[0], spec)
    with open_store(spec) as store:
        _, key = add_key(store, "hotline_12345", created_by="test")
        _, token = add_kiosk(store, area=Area.parse("district"), view="from=2020-01-01&to=2020-12-31&interval=2")
        order = an_order_to_approve(store)
        point = store.read("grid_cells", [Condition("grid_cell", "=", "33020500300201")]).geometry.iat[0]
        point = point.representative_point()
    replica.caught_up()
    # The server reads from the standby and writes to the primary; a write waits 2 s for a connection.
    monkeypatch.setenv("ONEMAP_READ_STORE", replica.standby.url)
    monkeypatch.setenv("ONEMAP_PG_POOL_TIMEOUT", "2")
    with serving(spec) as url:
        client = DashClient(ServerHttp(url, timeout=60), for_app(create_app(spec)).callback_map)
        assert client.log_in("commander", demo_password("commander")).status_code == 200
        tiles, banner = tiles_and_banner(client)
        assert banner["style"] == {"display": "none"}
        shown = wall(client)
        assert shown["wall-banner"]["style"] == {"display": "none"}
        driver = chromium_driver
        driver.get(f"{url}/logout")
        driver.get(f"{url}/wall?kiosk={token}")
        wait = waiting(driver, 120)
        assert wait.until(lambda d: d.find_element(By.ID, "wall-kpi-disputes-received").text) == "2,377"

        with replica.primary_stopped():
            # Within a few seconds (a probe a second, in the background) both pages say intake is paused,
            # with the same figures, read from the standby.
            paused = until(lambda: PAUSED in (wall(client)["wall-banner"]["children"] or ""), seconds=15)
            assert paused, wall(client)["wall-banner"]
            during = wall(client)
            assert during["wall-kpis"] == shown["wall-kpis"]
            assert during["wall-banner"]["style"] == {"display": "block"}
            assert "Intake paused" in during["wall-banner"]["children"]
            assert "数据源暂时无法连接" not in during["wall-banner"]["children"]  # the store itself answers
            assert during["wall-refreshed"]["children"].startswith("更新于")  # what is shown is current
            tiles_during, banner = tiles_and_banner(client)
            assert tiles_during == tiles
            assert PAUSED in banner["children"] and banner["style"] == {"display": "block"}

            # The wall in the browser: the banner over the same figures.
            wait.until(lambda d: PAUSED in d.find_element(By.ID, "wall-banner").text)
            assert driver.find_element(By.ID, "wall-kpi-disputes-received").text == "2,377"
            wait.until(lambda d: d.execute_script(
                "const g = document.querySelector('#wall-map .js-plotly-plot'); return g && g._fullData && "
                "g._fullData.length;"))
            time.sleep(3)  # MapLibre paints after the figure is set
            driver.save_screenshot(str(PICTURE))

            # Writes are refused, saying why: a channel system's push, a remediation step in the page.
            pushed = requests.post(f"{url}/open311/v2/requests.json", headers={"Authorization": f"Bearer {key}"},
                                   json={"service_code": "邻里纠纷", "lat": point.y, "long": point.x,
                                         "datum": "cgcs2000", "channel_request_id": "PAUSED-1"}, timeout=60)
            assert pushed.status_code == 503, pushed.text[:300]
            assert "does not answer" in pushed.json()[0]["description"]
            said = approve(client, order)["sideUpdate"]["app-error-text"]["children"]
            assert "暂时无法连接" in said and "does not answer" in said
            assert wall(client)["wall-kpis"] == shown["wall-kpis"]  # nothing half-written shows

        # Back by itself: the banner goes, the figures stay, and writes are taken again.
        assert until(lambda: wall(client)["wall-banner"]["style"] == {"display": "none"}, seconds=60)
        assert wall(client)["wall-kpis"] == shown["wall-kpis"]
        tiles_after, banner = tiles_and_banner(client)
        assert tiles_after == tiles and banner["style"] == {"display": "none"}
        wait.until(lambda d: not d.find_element(By.ID, "wall-banner").is_displayed())
        assert "form-ok" in str(approve(client, order)["response"]["remediation-advance-message"])
