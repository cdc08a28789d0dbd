"""The wall's remediation panel: this year's orders by state, the setback areas' progress, the overdue orders and
the latest effects of the viewer's area; drawn on the wall, refreshed with it, and in a real browser at 1920×1080."""

import time

import dash
import pandas as pd
import pytest

from dashboards.wall import wall_refresh
from dashboards.wall_panel import panel_children, remediation_panel
from layers.areas import Area
from layers.store import StoreError, open_store
from tests.dashboards.test_browser import SCREENSHOTS
from tests.layers.orders_demo import COMMANDER, HONGMEI, KONGPU, NOW, WAITAN, writable_demo

QIANJIANG = Area.parse("street:330205008")  # 前江街道: no setback areas, no remediation


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def worked(request, demo_gpkg, tmp_path_factory):
    """The demo with the five orders of ``orders_demo`` in 孔浦街道; its spec and the orders' ids."""
    yield from writable_demo(request, demo_gpkg, tmp_path_factory, "wallpanel")


def text(component) -> str:
    """All the words a drawn component shows, in order."""
    if component is None or isinstance(component, (str, int, float)):
        return "" if component is None else str(component)
    if isinstance(component, (list, tuple)):
        return " ".join(text(c) for c in component)
    return text(getattr(component, "children", None))


def find(component, id_):
    """The drawn component with ``id_``, or None."""
    if isinstance(component, (list, tuple)):
        return next((f for c in component if (f := find(c, id_)) is not None), None)
    if getattr(component, "id", None) == id_:
        return component
    children = getattr(component, "children", None)
    return None if children is None or isinstance(children, str) else find(children, id_)


def sent(node, id_):
    """The props of the component with ``id_`` in a callback's answer (components as JSON), or None."""
    if isinstance(node, list):
        return next((f for n in node if (f := sent(n, id_)) is not None), None)
    if not isinstance(node, dict):
        return None
    props = node.get("props", {})
    return props if props.get("id") == id_ else sent(props.get("children"), id_)


def test_the_panel_counts_this_years_orders_the_setback_areas_and_the_overdue(worked):
    spec, _ = worked
    with open_store(spec) as store:
        panel = remediation_panel(store, KONGPU.area, NOW)
        district = remediation_panel(store, COMMANDER.area, NOW)
        names = store.read("grid_cells").set_index("grid_cell")["name"]
    assert panel["year"] == 2021 and panel["orders"] == 9  # the five and the demo's four handovers of 2020
    assert panel["by_state"] == {"proposed": 1, "approved": 1, "in_progress": 1, "accepted": 0, "handed_over": 0,
                                 "cancelled": 1}
    assert panel["setback"] == {"unmanaged": 31, "in_renovation": 1, "handed_over": 8}
    assert panel["overdue"] == 2
    assert [o["days_over"] for o in panel["overdue_first"]] == [60, 10]
    assert [o["unit"] for o in panel["overdue_first"]] == ["孔浦街道综合执法队", "孔浦街道城市管理科"]
    assert panel["overdue_first"][0]["place"] in set(names) and panel["overdue_first"][1]["place"].endswith("退红空间")
    assert len(panel["effects"]) == 3 and all(e["verdict"] in ("reduced", "increased", "none")
                                              for e in panel["effects"])
    # The district holds 孔浦's orders and every street's setback areas.
    assert district["by_state"] == panel["by_state"] and district["overdue_first"] == panel["overdue_first"]
    assert sum(district["setback"].values()) == 200


def test_another_street_and_a_grid_leader_see_only_their_own(worked):
    spec, _ = worked
    with open_store(spec) as store:
        kongpu = remediation_panel(store, KONGPU.area, NOW)
        waitan = remediation_panel(store, WAITAN.area, NOW)
        hongmei = remediation_panel(store, HONGMEI.area, NOW)
    assert waitan["overdue"] == 0 and waitan["overdue_first"] == []
    assert sum(waitan["by_state"].values()) == 0  # its orders are the demo's handovers of 2020
    assert waitan["setback"] == {"unmanaged": 30, "in_renovation": 0, "handed_over": 14}
    assert not {e["place"] for e in waitan["effects"]} & {e["place"] for e in kongpu["effects"]}
    assert hongmei["by_state"]["proposed"] == 1 and sum(hongmei["by_state"].values()) == 1
    assert hongmei["overdue"] == 0
    drawn = text(panel_children(waitan))
    assert "无逾期工单" in drawn and not any(o["place"] in drawn for o in kongpu["overdue_first"])


def test_the_panel_draws_its_figures_and_an_empty_area_says_so_in_words(worked):
    spec, _ = worked
    with open_store(spec) as store:
        kongpu = remediation_panel(store, KONGPU.area, NOW)
        empty = remediation_panel(store, QIANJIANG, NOW)
    drawn = panel_children(kongpu)
    assert text(find(drawn, "wall-rem-overdue")) == "2"
    assert text(find(drawn, "wall-rem-state-in_progress")) == "1"
    assert text(find(drawn, "wall-rem-setback-in_renovation")) == "1"
    listed = text(find(drawn, "wall-rem-overdue-list"))
    assert "逾期 60 天" in listed and "逾期 10 天" in listed and kongpu["overdue_first"][0]["place"] in listed
    assert "件/月" in text(find(drawn, "wall-rem-effects"))
    assert "Overdue" in text(panel_children(kongpu, "en")) and "逾期" not in text(panel_children(kongpu, "en"))
    assert empty["orders"] == 0 and not any(empty["setback"].values())
    words = panel_children(empty)
    assert text(find(words, "wall-rem-empty")) == "暂无治理工单 No remediation orders"
    assert find(words, "wall-rem-states") is None and find(words, "wall-rem-overdue") is None  # no empty frames


def test_the_panel_is_made_once_a_minute_and_again_when_the_register_changes(demo_gpkg, tmp_path, request):
    from dashboards.cache import CACHE
    from layers.remediation_orders import advance_order, open_order
    from layers.store import Condition
    from tests.conftest import demo_copy
    from tests.layers.orders_demo import KONGPU_STREET, open_demo_orders

    spec = demo_copy("gpkg", demo_gpkg, tmp_path, request)
    with open_store(spec) as store:
        ids = open_demo_orders(store)
        CACHE.written(store)
        first = remediation_panel(store, KONGPU.area, NOW)
        assert remediation_panel(store, KONGPU.area, NOW + pd.Timedelta(seconds=59)) is first  # walls of one minute
        assert remediation_panel(store, KONGPU.area, NOW + pd.Timedelta(minutes=1)) is not first
        advance_order(store, COMMANDER, ids["planned"], "approved", now=NOW)
        CACHE.written(store)
        now = remediation_panel(store, KONGPU.area, NOW)
        # An order entered later in the minute: counted by the next panel asked for, not after the minute.
        cell = store.read("grid_cells", [Condition("street_code", "=", KONGPU_STREET)])["grid_cell"].max()
        open_order(store, KONGPU, place_kind="grid_cell", place=cell, category="邻里纠纷", measures="清理堆物",
                   unit="孔浦街道城市管理科", planned_start=NOW.normalize(), planned_finish=NOW + pd.Timedelta(days=30),
                   now=NOW + pd.Timedelta(seconds=20))
        CACHE.written(store)
        later = remediation_panel(store, KONGPU.area, NOW + pd.Timedelta(seconds=30))
    assert (first["by_state"]["proposed"], first["by_state"]["approved"]) == (1, 1)
    assert (now["by_state"]["proposed"], now["by_state"]["approved"]) == (0, 2)
    assert later["by_state"]["proposed"] == 1


def test_the_walls_refresh_shows_the_panel_of_the_view_it_has_turned_to(worked):
    spec, _ = worked
    query = {"from": "2020-01-01", "to": "2020-12-31", "rotate": "1"}
    panels = [wall_refresh(lambda: open_store(spec), query, tick, None, now=NOW)[8] for tick in (0, 1, 2)]
    district, waitan, kongpu = (text(find(p, "wall-rem-overdue")) for p in panels)
    assert (district, waitan, kongpu) == ("2", "0", "2")  # 江北区, then 外滩街道, then 孔浦街道
    # A grid leader's wall stays on her cells.
    mine = wall_refresh(lambda: open_store(spec), query, 2, None, area=HONGMEI.area, now=NOW)[8]
    assert text(find(mine, "wall-rem-state-proposed")) == "1" and text(find(mine, "wall-rem-overdue")) == "0"


def test_a_panel_that_cannot_be_read_stays_as_it_was_and_the_rest_goes_up(worked):
    spec, _ = worked

    class NoRegister:
        """The store, but its register does not answer; under a URL of its own, so that no register this server
        already holds (the panel reads what it holds) answers for it."""

        def __init__(self, store):
            self.store = store
            self.url = f"{store.url}#no-register"

        def read(self, name, *args, **kwargs):
            if name == "remediations":
                raise StoreError("remediations: connection lost")
            return self.store.read(name, *args, **kwargs)

        def __getattr__(self, name):
            return getattr(self.store, name)

    out = wall_refresh(lambda: NoRegister(open_store(spec)), {"from": "2020-01-01", "to": "2020-12-31"}, 0, None,
                       now=NOW)
    assert out[8] is dash.no_update
    assert out[0] and out[5] == {"display": "none"}  # the tiles, and no banner: the cases were read


def test_a_kiosk_refreshes_the_panel_of_its_own_area(worked):
    from dashboards.app import create_app
    from dashboards.client import for_app
    from layers.users import add_kiosk

    spec, _ = worked
    with open_store(spec) as store:
        tokens = {name: add_kiosk(store, area=area, view="from=2020-01-01&to=2020-12-31")[1]
                  for name, area in (("kongpu", KONGPU.area), ("waitan", WAITAN.area))}
    app = create_app(spec)
    shown = {}
    for name, token in tokens.items():
        client = for_app(app)
        assert client.http.get(f"/wall?kiosk={token}").status_code == 200
        answer = client.call("wall-kpis", {"wall-tick.n_intervals": 0}, {"wall-query.data": {}})
        assert answer.status_code == 200  # a kiosk may run the wall's callback, the panel's output too
        shown[name] = answer.get_json()["response"]["wall-remediation"]["children"]
    # By today every one of 孔浦's open orders (the planned one due 2021-06-30 too) is past its planned finish.
    assert sent(shown["kongpu"], "wall-rem-overdue")["children"] == "3"
    assert sent(shown["waitan"], "wall-rem-overdue")["children"] == "0"
    assert "孔浦街道综合执法队" in str(shown["kongpu"]) and "孔浦" not in str(shown["waitan"])


@pytest.mark.browser
def test_the_wall_shows_the_panel_beside_the_map_on_a_1920_by_1080_screen(demo_gpkg, tmp_path, request,
                                                                           chromium_driver):
    """Orders about today (the five, moved to the real clock, and one overdue in 外滩); three kiosks."""
    from selenium.webdriver.common.by import By

    from layers.remediation_orders import open_order
    from layers.users import add_kiosk
    from tests.conftest import demo_copy, serving, waiting
    from tests.layers.orders_demo import open_demo_orders

    spec = demo_copy("gpkg", demo_gpkg, tmp_path, request)
    today = pd.Timestamp.now().floor("s")
    with open_store(spec) as store:
        open_demo_orders(store, shift=today - NOW)
        areas = store.read("setback_areas")
        waitan_area = areas[(areas["street_code"] == "330205001") & (areas["status"] == "unmanaged")]["setback_area"]
        open_order(store, COMMANDER, place_kind="setback_area", place=waitan_area.iat[0], category="环境卫生",
                   measures="清理堆物", unit="外滩街道城市管理科", planned_start=today - pd.Timedelta(days=60),
                   planned_finish=(today - pd.Timedelta(days=3)).normalize(), now=today - pd.Timedelta(days=61))
        kiosks = {name: add_kiosk(store, area=Area.parse(area), view=f"from=2020-01-01&to=2020-12-31{more}")[1]
                  for name, area, more in (("district", "district", ""), ("street-en", "street:330205003", "&lang=en"),
                                           ("empty", "street:330205008", ""))}
    driver = chromium_driver
    # The screen itself: 1920×1080 CSS pixels, whatever the window; put back for the other tests after.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    SCREENSHOTS.mkdir(exist_ok=True)
    seen = {}
    try:
        with serving(spec) as url:
            for name, token in kiosks.items():
                driver.get(f"{url}/logout")
                driver.get(f"{url}/wall?kiosk={token}")
                wait = waiting(driver, 60)
                wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#wall-remediation .wall-rem-head"))
                wait.until(lambda d: d.execute_script(
                    "const g = document.querySelector('#wall-map .js-plotly-plot');"
                    "return g && g._fullData && g._fullData.length;"))
                time.sleep(2)  # MapLibre paints after the figure is set
                seen[name] = driver.execute_script("""
                    const panel = document.querySelector('#wall-remediation').getBoundingClientRect();
                    const map = document.querySelector('#wall-map').getBoundingClientRect();
                    const box = document.querySelector('#wall-remediation');
                    const cut = [...document.querySelectorAll('#wall-remediation .wall-rem-place')]
                        .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent);
                    return {page: document.documentElement.scrollHeight, screen: innerHeight,
                            panel: [panel.left, panel.top, panel.right, panel.bottom], map: [map.left, map.right, map.bottom],
                            overflow: box.scrollHeight - box.clientHeight, cut: cut,
                            text: box.innerText};""")
                driver.save_screenshot(str(SCREENSHOTS / f"wall-remediation-{name}-1920.png"))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    for name, found in seen.items():
        assert found["page"] <= found["screen"] == 1080, name  # nothing below the screen's edge
        assert found["map"][1] <= found["panel"][0] and found["panel"][2] <= 1920, name  # beside the map, on screen
        assert found["map"][2] <= 1080 and found["panel"][3] <= 1080, name
        assert found["overflow"] <= 1 and found["cut"] == [], name  # every line of the panel whole
    district = seen["district"]["text"]
    assert f"{today.year}年" in district and "逾期工单" in district
    assert len(district.split("逾期 ")) - 1 == 3  # 孔浦's two overdue and 外滩's one: the first three
    english = seen["street-en"]["text"]
    assert "Overdue" in english and "外滩街道城市管理科" not in english and "days over" in english
    assert "暂无治理工单" in seen["empty"]["text"] and "No remediation orders" in seen["empty"]["text"]
