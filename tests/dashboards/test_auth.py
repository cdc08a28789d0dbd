"""Who sees what: login, kiosk links, and forged callback requests for another area.

Requests go through the real Flask server of the Dash app (its test client),
gate and callbacks included; the callback bodies are built the way the
browser builds them, but with values the page would never offer.
"""

from __future__ import annotations

import json
import time

import pytest

from dashboards.app import create_app
from dashboards.client import for_app
from demo.users import demo_password
from layers.areas import Area
from layers.store import Condition, open_store
from layers.users import add_kiosk, revoke_kiosk

YEAR = {"overview-period.start_date": "2020-01-01", "overview-period.end_date": "2020-12-31"}
WAITAN, HONGMEI = "330205001", "330205003002"  # a street the grid leader does not lead; the leader's community


@pytest.fixture(scope="module")
def app(demo_gpkg, tmp_path_factory):
    import shutil

    from dashboards.cache import CACHE

    # A copy: these tests lock names out and log exports, in the store as the server does.
    path = tmp_path_factory.mktemp("auth") / "demo.gpkg"
    shutil.copy(demo_gpkg[0], path)
    # The server checks the store for changes at most once a second; here, at every request.
    CACHE.check_s, before = 0, CACHE.check_s
    yield create_app(str(path))
    CACHE.check_s = before


def login(client, name, password=None):
    return client.post("/login", data={"user": name, "password": password or demo_password(name), "next": "/"})


def callback(client, app, output_id, values=None, state=None):
    """POST the callback whose first output is ``output_id`` as the browser would, with these values."""
    return for_app(app, client).call(output_id, values, state)


def tile(tree, id_):
    """The text of the tile with this id in a callback's component tree."""
    if isinstance(tree, list):
        return next((t for t in (tile(item, id_) for item in tree) if t is not None), None)
    if isinstance(tree, dict):
        props = tree.get("props", {})
        if props.get("id") == id_:
            return props.get("children")
        return tile(props.get("children"), id_)
    return None


def test_nothing_without_a_login(app):
    client = app.server.test_client()
    page = client.get("/?street=330205001")
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=%2F%3Fstreet%3D330205001"
    assert callback(client, app, "overview-kpis", YEAR).status_code == 401
    assert client.get("/wall").status_code == 302
    assert login(client, "hongmei", "wrong-password").status_code == 401
    assert client.get("/").status_code == 302


def test_a_grid_leader_sees_only_the_cells_led(app, demo_gpkg):
    client = app.server.test_client()
    assert login(client, "hongmei").status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        own = store.read("cases", [Condition("grid_cell", "in", ["33020500300201", "33020500300202"])])
        elsewhere = store.read("cases", [Condition("street_code", "=", WAITAN)])
    own_2020 = own[own["reported_at"].dt.year == 2020]

    # The whole view: only the leader's two cells, on the map and in the table.
    out = callback(client, app, "overview-kpis", YEAR).get_json()["response"]
    assert out["overview-map"]["figure"]["data"][0]["locations"] == ["33020500300201", "33020500300202"]
    received = tile(out["overview-kpis"]["children"], "overview-kpi-disputes-received")
    table = callback(client, app, "overview-table", {**YEAR, "overview-table.page_current": 0}).get_json()
    assert table["response"]["overview-table"]["page_count"] == -(-len(own_2020) // 15)
    assert received == f"{(own_2020['kind'] == 'dispute').sum():,}"

    # Forged: another street in the filter gives nothing at all.
    forged = {**YEAR, "overview-street.value": WAITAN}
    out = callback(client, app, "overview-kpis", forged).get_json()["response"]
    assert out["overview-map"]["figure"]["data"][0]["locations"] == []
    table = callback(client, app, "overview-table", {**forged, "overview-table.page_current": 0}).get_json()
    assert table["response"]["overview-table"]["data"] == []
    options = callback(client, app, "overview-community", {"overview-street.value": WAITAN}).get_json()
    assert options["response"]["overview-community"]["options"] == []
    # A click on another area's cell or case opens nothing.
    cell = {"overview-map.clickData": {"points": [{"location": "33020500100101"}]}, **YEAR}
    panel = json.dumps(callback(client, app, "overview-details", cell).get_json(), ensure_ascii=False)
    assert "没有这个网格" in panel
    case = {"overview-map.clickData": {"points": [{"customdata": elsewhere["case_id"].iat[0]}]}, **YEAR}
    panel = json.dumps(callback(client, app, "overview-details", case).get_json(), ensure_ascii=False)
    assert "没有这个案件" in panel and elsewhere["category"].iat[0] not in panel
    # The same click on the leader's own case opens it.
    mine = {"overview-map.clickData": {"points": [{"customdata": own["case_id"].iat[0]}]}, **YEAR}
    assert own["case_id"].iat[0] in json.dumps(callback(client, app, "overview-details", mine).get_json())
    # A forged wall refresh is held to the same area.
    wall = callback(client, app, "wall-kpis", {"wall-tick.n_intervals": 0},
                    {"wall-query.data": {"from": "2020-01-01", "to": "2020-12-31", "rotate": "1"}}).get_json()
    assert wall["response"]["wall-map"]["figure"]["data"][0]["locations"] == ["33020500300201", "33020500300202"]


def test_a_street_user_gets_the_street_whatever_the_link_says(app):
    client = app.server.test_client()
    login(client, "kongpu")
    page = callback(client, app, "_pages_content", {"_pages_location.pathname": "/",
                                                    "_pages_location.search": "?street=330205001"})
    page = json.dumps(page.get_json(), ensure_ascii=False)
    assert "孔浦街道" in page and "外滩街道" not in page  # the link's street is not even offered
    out = callback(client, app, "overview-kpis", YEAR).get_json()["response"]
    locations = out["overview-map"]["figure"]["data"][0]["locations"]
    assert locations and all(code.startswith("330205003") for code in locations)


def test_a_kiosk_link_opens_the_wall_and_nothing_else_until_revoked(app, demo_gpkg):
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        kiosk_id, token = add_kiosk(store, area=Area.parse("street:330205003"), view="rotate=1&from=2020-01-01")
    client = app.server.test_client()
    assert client.get("/wall?kiosk=not-a-token").status_code == 403
    assert client.get(f"/wall?kiosk={token}").status_code == 200
    wall = callback(client, app, "wall-kpis", {"wall-tick.n_intervals": 0}, {"wall-query.data": {}})
    assert wall.status_code == 200
    locations = wall.get_json()["response"]["wall-map"]["figure"]["data"][0]["locations"]
    assert locations and all(code.startswith("330205003") for code in locations)
    # Bound to the wall view: the overview and its callbacks stay shut.
    assert client.get("/").status_code == 403
    wall_page = {"_pages_location.pathname": "/wall", "_pages_location.search": ""}
    assert callback(client, app, "_pages_content", wall_page).status_code == 200
    assert callback(client, app, "_pages_content", {**wall_page, "_pages_location.pathname": "/"}).status_code == 403
    assert callback(client, app, "overview-kpis", YEAR).status_code == 403
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        revoke_kiosk(store, kiosk_id)
    assert callback(client, app, "wall-kpis", {"wall-tick.n_intervals": 1}, {"wall-query.data": {}}).status_code == 401
    assert client.get(f"/wall?kiosk={token}").status_code == 403


def test_sessions_expire_and_failed_logins_are_limited(app):
    client = app.server.test_client()
    login(client, "planner")
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["since"] = time.time() - 13 * 3600
    assert client.get("/").status_code == 302
    for _ in range(5):
        assert login(client, "admin", "not-the-password").status_code == 401
    assert login(client, "admin").status_code == 429  # locked, even with the right password
    assert login(client, "commander").status_code == 302  # other names are not


def test_a_grid_leaders_download_holds_only_the_leaders_area_and_masks_phones(app, demo_gpkg, tmp_path):
    import base64

    import pyogrio

    client = app.server.test_client()
    login(client, "hongmei")

    def download(state):
        body = callback(client, app, "overview-download", {"overview-export.n_clicks": 1},
                        {"overview-export-format.value": "gpkg", "overview-export-datum.value": "cgcs2000",
                         "overview-layers.value": ["hotspots"], **state}).get_json()["response"]
        data = body["overview-download"]["data"]
        path = tmp_path / data["filename"]
        path.write_bytes(base64.b64decode(data["content"]))
        return {layer: pyogrio.read_dataframe(path, layer=layer) for layer in ("cases", "grid_cells", "hotspots")}

    own = download(YEAR)
    assert sorted(own["grid_cells"]["grid_cell"]) == ["33020500300201", "33020500300202"]
    assert set(own["cases"]["grid_cell"]) <= {"33020500300201", "33020500300202"} and len(own["cases"]) > 0
    assert own["cases"]["reporter_phone"].dropna().str.contains(r"\*{4}").all()  # a grid leader gets them masked
    forged = download({**YEAR, "overview-street.value": WAITAN})
    assert len(forged["cases"]) == len(forged["grid_cells"]) == 0
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        log = store.read("exports")
    assert set(log["user_name"]) == {"hongmei"} and set(log["area"]) == {"cells:33020500300201,33020500300202"}


def test_filter_values_built_to_break_sql_find_nothing_and_change_nothing(app):
    client = app.server.test_client()
    login(client, "commander")
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        before = {name: store.count(name) for name in ("cases", "grid_cells", "users")}
        hashes = store.read("users")["password_hash"].tolist()
    for value in ("' OR '1'='1", "330205003' OR 1=1 --", "'; DROP TABLE cases; --", "330205003\x00",
                  "' UNION SELECT password_hash FROM users --", "'" * 300):
        values = {**YEAR, "overview-street.value": value, "overview-community.value": value,
                  "overview-cell.value": value, "overview-category.value": [value]}
        for output in ("overview-kpis", "overview-chart-trend", "overview-table"):
            answer = callback(client, app, output, {**values, "overview-table.page_current": 0})
            assert answer.status_code == 200, (output, value)
        out = callback(client, app, "overview-kpis", values).get_json()["response"]
        assert out["overview-map"]["figure"]["data"][0]["locations"] == []  # no cell matches such a place
        assert not any(h in json.dumps(out) for h in hashes)  # the link echoes the value; no hash comes back
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        assert {name: store.count(name) for name in before} == before


def test_a_served_app_has_its_pages_callbacks_before_its_first_request(demo_gpkg):
    from dashboards.app import set_up

    app = create_app(demo_gpkg[0])
    assert not any("overview-kpis" in k for k in app.callback_map)
    set_up(app)  # what serve does before it forks its processes: none of their first requests then races Dash
    assert any("overview-kpis" in k for k in app.callback_map) and any("wall-kpis" in k for k in app.callback_map)
