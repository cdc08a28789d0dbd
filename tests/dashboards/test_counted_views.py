"""A server that holds no cases shows what a server holding them shows.

A city's or a province's store is too large for a server to hold
(``ONEMAP_HOLD_MAX``): its views are read from the store when narrow and
counted by the store when wide. On the demo, in each store, the overview's
tiles, map, charts, table and ticker and the wall's picture are asked of the
same app holding the cases, then holding none with every view counted, then
holding none with every view read: the answers are the same.
"""

from __future__ import annotations

import json

import pytest

from dashboards import selection
from dashboards.app import create_app
from dashboards.cache import CACHE
from dashboards.client import for_app
from demo.users import demo_password

YEAR = {"overview-period.start_date": "2020-01-01", "overview-period.end_date": "2020-12-31"}
VIEWS = {
    "the year": YEAR,
    "a street": {**YEAR, "overview-street.value": "330205003"},
    "a community": {**YEAR, "overview-street.value": "330205003", "overview-community.value": "330205003002"},
    "two categories": {**YEAR, "overview-category.value": ["邻里纠纷", "物业纠纷"]},
    "a channel": {**YEAR, "overview-channel.value": ["hotline_12345"]},
    "closed at the community": {**YEAR, "overview-status.value": ["closed"], "overview-level.value": ["community"]},
    "overdue": {**YEAR, "overview-overdue.value": ["1"]},
    "a month with the analysis layers": {"overview-period.start_date": "2020-06-01",
                                         "overview-period.end_date": "2020-06-30",
                                         "overview-layers.value": ["hotspots", "emerging", "change", "heat"]},
}
CHARTS = ("trend", "categories", "channels", "levels")


@pytest.fixture(params=["gpkg", "postgis"])
def app_and_store(request, demo_gpkg, tmp_path, monkeypatch):
    import shutil

    if request.param == "postgis":
        url = request.getfixturevalue("demo_postgis")
    else:
        url = str(tmp_path / "demo.gpkg")
        shutil.copy(demo_gpkg[0], url)
    monkeypatch.setattr(CACHE, "check_s", 0)
    app = create_app(url)
    yield app, url
    CACHE._holds.pop(url, None)


def answers(client, who: str) -> dict:
    """What ``who`` is shown for each view: the tiles and the map, the charts, the table's first page, the ticker."""
    shown = {}
    for name, values in VIEWS.items():
        values = {"overview-layers.value": ["cases"], "overview-measure.value": "cases", **values}
        view = client.call("overview-kpis", values).get_json()["response"]
        charts = client.call("overview-chart-trend", values).get_json()["response"]
        table = client.call("overview-table", {**values, "overview-table.page_current": 0,
                                               "overview-table.sort_by": [{"column_id": "reported_at",
                                                                           "direction": "desc"}]}).get_json()
        shown[name] = {"tiles": view["overview-kpis"]["children"], "map": _map(view["overview-map"]["figure"]),
                       "charts": {c: _chart(charts[f"overview-chart-{c}"]["figure"]) for c in CHARTS},
                       "table": table["response"]["overview-table"]}
    ticker = client.call("overview-ticker", {"overview-ticker-tick.n_intervals": 1}).get_json()["response"]
    shown["ticker"] = json.dumps(ticker, ensure_ascii=False)
    return shown


def _map(figure) -> list:
    """What the map draws: each trace's kind, name, places and values (its picture's layout aside)."""
    return [(t.get("type"), t.get("name"), t.get("locations"), t.get("z"), t.get("lon"), t.get("lat"))
            for t in figure["data"]]


def _counted_part(traces) -> list:
    """The map's traces a count draws as the cases do: all but the points and the heat's picture."""
    return [t for t in traces if t[0] not in ("scattermap", "image")]


def _chart(figure) -> list:
    """A chart's bars or lines as sorted (label, value) pairs: ties may come in either order."""
    return [sorted(zip(map(str, t.get("x") or []), map(str, t.get("y") or []))) for t in figure["data"]]


@pytest.mark.parametrize("who", ["commander", "hongmei"])
def test_a_server_holding_no_cases_shows_what_one_holding_them_shows(app_and_store, who, monkeypatch):
    app, url = app_and_store
    client = for_app(app)
    assert client.log_in(who, demo_password(who)).status_code == 302
    held = answers(client, who)
    assert CACHE.holds_cases(app.server.extensions["onemap_store"])
    CACHE._holds[url] = False  # as over ONEMAP_HOLD_MAX
    monkeypatch.setattr(selection, "RAW_MAX", 0)  # every view counted by the store
    counted = answers(client, who)
    monkeypatch.setattr(selection, "RAW_MAX", 10**9)  # every view read from the store
    read = answers(client, who)
    for name in VIEWS:
        for part in ("tiles", "charts", "table"):
            assert counted[name][part] == held[name][part], (name, part)
            assert read[name][part] == held[name][part], (name, part)
        assert read[name]["map"] == held[name]["map"], name
        # Counted, the map has its cells and analyses but no points (each case is needed: a narrower view,
        # which the store's reads answer), and the heat of cells is drawn from their inside points.
        assert _counted_part(counted[name]["map"]) == _counted_part(held[name]["map"]), name
    assert read["ticker"] == held["ticker"]
    assert counted["ticker"] == held["ticker"]


def test_a_server_over_the_size_holds_no_case_and_its_wall_shows_the_same(demo_gpkg, tmp_path, monkeypatch):
    import shutil

    url = str(tmp_path / "demo.gpkg")
    shutil.copy(demo_gpkg[0], url)
    monkeypatch.setattr(CACHE, "check_s", 0)
    wall = ({"wall-tick.n_intervals": 0}, {"wall-query.data": {}})
    client = for_app(create_app(url))
    assert client.log_in("commander", demo_password("commander")).status_code == 302
    held = client.call("wall-kpis", *wall).get_json()["response"]
    CACHE._holds.pop(url)
    CACHE._held.pop((url, "cases"))
    monkeypatch.setattr(CACHE, "hold_max", 0)
    client = for_app(create_app(url))  # a server started over the size: it reads no case
    assert client.log_in("commander", demo_password("commander")).status_code == 302
    counted = client.call("wall-kpis", *wall).get_json()["response"]
    assert (url, "cases") not in CACHE._held
    assert counted["wall-kpis"] == held["wall-kpis"]
    assert _counted_part(_map(counted["wall-map"]["figure"])) == _counted_part(_map(held["wall-map"]["figure"]))
    CACHE._holds.pop(url)


FEED = [
    "/ogcapi/collections/cases/items?limit=20",
    "/ogcapi/collections/cases/items?limit=15&offset=30&datetime=2020-03-01T00:00:00/2020-05-31T23:59:59",
    "/ogcapi/collections/cases/items?category=邻里纠纷&status=closed&limit=50",
    "/ogcapi/collections/cases/items?bbox=121.50,29.90,121.56,29.95&limit=40",
    "/ogcapi/collections/cases/items?level=community&street_code=330205003&grid_cell=33020500300201&limit=10",
    "/ogcapi/collections/hotspots/items?datetime=2020-01-01T00:00:00/2020-12-31T23:59:59",
    "/ogcapi/collections/emerging_hotspots/items",
    "/ogcapi/collections/cases",
]


@pytest.mark.parametrize("who", ["planner", "kongpu"])
def test_the_feed_of_a_server_holding_no_cases_is_that_of_one_holding_them(app_and_store, who):
    import base64

    app, url = app_and_store
    client = app.server.test_client()
    auth = {"Authorization": "Basic " + base64.b64encode(f"{who}:{demo_password(who)}".encode()).decode()}

    def asked():
        found = []
        for path in FEED:
            answer = client.get(path, headers=auth)
            assert answer.status_code == 200, (path, answer.get_data(as_text=True)[:300])
            body = answer.get_json()
            body.pop("timeStamp", None)
            found.append(body)
        return found
    held = asked()
    CACHE._holds[url] = False
    assert asked() == held
