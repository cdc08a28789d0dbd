"""The remediation page's writes, through the real Flask server of the Dash app: an order opened from the
form and taken step by step, and every forged write refused with nothing changed."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from dashboards.app import create_app
from dashboards.client import DashClient, for_app
from demo.users import demo_password
from layers.store import Condition, open_store

KONGPU_STREET = "330205003"
HONGMEI_CELLS = ("33020500300201", "33020500300202")


@pytest.fixture(scope="module")
def app(demo_gpkg, tmp_path_factory):
    from dashboards.cache import CACHE

    path = tmp_path_factory.mktemp("remediation") / "demo.gpkg"
    shutil.copy(demo_gpkg[0], path)
    CACHE.check_s, before = 0, CACHE.check_s  # see every write at the next request
    yield create_app(str(path))
    CACHE.check_s = before


@pytest.fixture(scope="module")
def cells(app):
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        every = store.read("grid_cells")
    street = every[every["street_code"] == KONGPU_STREET]
    return {"hongmei": HONGMEI_CELLS[0], "kongpu": sorted(set(street["grid_cell"]) - set(HONGMEI_CELLS))[0],
            "elsewhere": sorted(every.loc[every["street_code"] != KONGPU_STREET, "grid_cell"])[0]}


def client_as(app, name) -> DashClient:
    client = DashClient(app.server.test_client(), for_app(app).callback_map)
    assert client.log_in(name, demo_password(name)).status_code == 302
    return client


def form(place, key, kind="grid_cell", **given):
    values = {"remediation-place-kind.value": kind, "remediation-place.value": place,
              "remediation-category.value": "占道经营", "remediation-measures.value": "设置疏导点，每日巡查",
              "remediation-unit.value": "孔浦街道城市管理科", "remediation-plan.start_date": "2021-03-01",
              "remediation-plan.end_date": "2021-05-31", "remediation-note.value": "热点网格",
              "remediation-request-key.data": key, "remediation-lang.data": "zh"}
    values.update(given)
    return {"remediation-open.n_clicks": 1}, values


def propose(client, place, key, **given):
    answer = client.call("remediation-open-message", *form(place, key, **given))
    assert answer.status_code == 200, answer.text[:300]
    return answer.get_json()["response"]


def step(client, order, to, **given):
    state = {"remediation-chosen.data": order, "remediation-step.value": to, "remediation-step-note.value": "",
             "remediation-handover.value": "", "remediation-lang.data": "zh"}
    state.update(given)
    answer = client.call("remediation-advance-message", {"remediation-advance.n_clicks": 1}, state)
    assert answer.status_code == 200, answer.text[:300]
    return answer.get_json()["response"]


def written(app) -> tuple:
    """What the store holds of orders, their steps and the audit: to see that a refused write wrote nothing."""
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        orders = store.read("remediations")
        return (len(orders), tuple(sorted(zip(orders["remediation_id"], orders["state"].fillna("")))),
                len(store.read("remediation_steps")), len(store.read("audit")))


def order_state(app, order) -> str:
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        return store.read("remediations", [Condition("remediation_id", "=", order)])["state"].iat[0]


def test_street_staff_open_an_order_from_the_form_and_a_second_click_opens_no_second_one(app, cells):
    kongpu = client_as(app, "kongpu")
    first = propose(kongpu, cells["kongpu"], "form-1")
    message = first["remediation-open-message"]["children"]["props"]
    assert message["className"] == "form-ok" and message["children"].startswith("已立项")
    order = message["children"].split(": ")[1]
    assert first["remediation-request-key"]["data"] != "form-1"  # the form's next order is another order
    assert order in [r["remediation_id"] for r in first["remediation-orders"]["data"]]
    before = written(app)
    again = propose(kongpu, cells["kongpu"], "form-1")
    assert again["remediation-open-message"]["children"]["props"]["children"] == f"此前已提交 Already submitted: {order}"
    assert written(app) == before
    assert order_state(app, order) == "proposed"


def test_the_places_offered_are_the_persons_own_and_the_unit_is_suggested_from_the_responsibility_list(app, cells):
    hongmei = client_as(app, "hongmei")
    answer = hongmei.call("remediation-place", {"remediation-place-kind.value": "grid_cell"},
                          {"remediation-place.value": None}).get_json()["response"]
    offered = {o["value"] for o in answer["remediation-place"]["options"]}
    assert offered == set(HONGMEI_CELLS)
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        duty = store.read("responsibilities").iloc[0]
    suggested = client_as(app, "commander").call(
        "remediation-unit", {"remediation-place.value": cells["elsewhere"], "remediation-category.value": duty["category"]},
        {"remediation-place-kind.value": "grid_cell", "remediation-unit.value": ""}).get_json()["response"]
    assert suggested["remediation-unit"]["value"]  # a unit of the list: the category's, most specific first


def test_every_forged_write_is_refused_and_changes_nothing(app, cells):
    kongpu, hongmei, planner = client_as(app, "kongpu"), client_as(app, "hongmei"), client_as(app, "planner")
    commander = client_as(app, "commander")
    order = propose(kongpu, cells["kongpu"], "form-forged")["remediation-open-message"]["children"]["props"][
        "children"].split(": ")[1]
    before = written(app)
    # Another area's place, and a role that only reads: refused, with the reason.
    outside = propose(hongmei, cells["kongpu"], "forged-1")["remediation-open-message"]["children"]["props"]
    assert outside["className"] == "form-error" and "outside" in outside["children"]
    assert propose(kongpu, cells["elsewhere"], "forged-2")["remediation-open-message"]["children"]["props"][
        "className"] == "form-error"
    assert "planner" in propose(planner, cells["kongpu"], "forged-3")["remediation-open-message"]["children"]["props"][
        "children"]
    # Steps the role may not take, and another area's order.
    assert step(kongpu, order, "approved")["remediation-advance-message"]["children"]["props"]["className"] == "form-error"
    assert step(hongmei, order, "cancelled")["remediation-advance-message"]["children"]["props"][
        "className"] == "form-error"
    assert step(planner, order, "cancelled")["remediation-advance-message"]["children"]["props"][
        "className"] == "form-error"
    # A step the order cannot take from where it stands.
    assert step(commander, order, "accepted")["remediation-advance-message"]["children"]["props"][
        "className"] == "form-error"
    # A commander's own step, posted by a page on another site: no token, refused before it runs.
    forged = commander.call("remediation-advance-message", {"remediation-advance.n_clicks": 1},
                            {"remediation-chosen.data": order, "remediation-step.value": "approved"}, csrf=False)
    assert forged.status_code == 403
    # The panel of an order outside the area is not shown, whatever row is sent.
    panel = hongmei.call("remediation-chosen", {"remediation-orders.selected_rows": [0]},
                         {"remediation-orders.data": [{"remediation_id": order}]}).get_json()["response"]
    assert panel["remediation-chosen"]["data"] is None and panel["remediation-step"]["options"] == []
    assert written(app) == before


def test_an_order_goes_from_proposed_to_handed_over_and_its_setback_area_follows(app):
    kongpu, commander = client_as(app, "kongpu"), client_as(app, "commander")
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        areas = store.read("setback_areas", [Condition("street_code", "=", KONGPU_STREET)])
        area = areas[areas["status"] == "unmanaged"].iloc[0]["setback_area"]
    opened = propose(kongpu, area, "form-loop", kind="setback_area")["remediation-open-message"]["children"]["props"]
    assert opened["className"] == "form-ok", opened
    order = opened["children"].split(": ")[1]
    panel = kongpu.call("remediation-chosen", {"remediation-orders.selected_rows": [0]},
                        {"remediation-orders.data": [{"remediation_id": order}]}).get_json()["response"]
    assert [o["value"] for o in panel["remediation-step"]["options"]] == ["cancelled"]  # approval is a commander's
    for who, to, extra in ((commander, "approved", {}), (kongpu, "in_progress", {}), (commander, "accepted", {}),
                           (kongpu, "handed_over", {"remediation-handover.value": "孔浦物业管理中心"})):
        answer = step(who, order, to, **extra)
        assert answer["remediation-advance-message"]["children"]["props"]["className"] == "form-ok", answer
        assert order_state(app, order) == to
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        followed = store.read("setback_areas", [Condition("setback_area", "=", area)]).iloc[0]
        steps = store.read("remediation_steps", [Condition("remediation_id", "=", order)]).sort_values("step")
    assert (followed["status"], followed["managing_unit"]) == ("handed_over", "孔浦物业管理中心")
    assert steps["actor"].tolist() == ["kongpu", "commander", "kongpu", "commander", "kongpu"]


def test_a_click_on_an_estate_or_a_priority_place_opens_its_panel_with_its_orders(app):
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        register = store.read("remediations")
        estates = store.read("estates").set_index("estate_id")["community_code"]
    register = register[register["place_kind"] == "estate"]
    estate = register[[not estates[p].startswith(KONGPU_STREET) for p in register["place"]]].iloc[0]
    commander = client_as(app, "commander")
    for location in (estate["place"], f"estate:{estate['place']}"):  # the estates layer, the priority list
        answer = commander.call("overview-details", {"overview-map.clickData": {"points": [{"location": location}]}})
        panel = str(answer.get_json()["response"]["overview-details"]["children"])
        assert "place_kind=estate" in panel and estate["what"] in panel and "已移交" in panel
    panel = str(client_as(app, "kongpu").call("overview-details", {"overview-map.clickData": {"points": [
        {"location": estate["place"]}]}}).get_json()["response"]["overview-details"]["children"])
    assert estate["what"] not in panel and "没有这个网格" in panel  # another street's estate: not hers to see


def test_the_page_switches_language_keeping_what_its_link_carried():
    from dashboards.header import language_switch

    given = {"place_kind": "grid_cell", "place": "33020500300301", "category": "占道经营"}
    english = language_switch("/remediation", given, "zh")
    assert english == ("/remediation?place_kind=grid_cell&place=33020500300301&"
                       "category=%E5%8D%A0%E9%81%93%E7%BB%8F%E8%90%A5&lang=en")
    assert language_switch("/remediation", {**given, "lang": "en"}, "en") == english.replace("&lang=en", "")


class Counted:
    """The store, counting how often the effects are measured: each measurement asks first for the span of
    every case's time (the cases are counted by the store, place by place, after it)."""

    def __init__(self, store):
        self.store, self.reads = store, 0

    def aggregate(self, name, where=None, by=(), measures=("rows",)):
        self.reads += name == "cases" and not where and "min:reported_at" in measures
        return self.store.aggregate(name, where, by, measures)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_the_effects_are_measured_again_after_a_write_to_the_register_or_on_a_new_day_and_only_then(app, cells):
    from dashboards.cache import CACHE
    from dashboards.remediation import measured_effects

    day = pd.Timestamp("2000-01-01 09:00")  # a day nothing else measures on
    CACHE.check_s, before = 3600, CACHE.check_s  # the page's own write must be seen at once, not after a check
    try:
        with open_store(app.server.config["ONEMAP_STORE"]) as store:
            counted = Counted(store)
            first = measured_effects(counted, day)
            assert measured_effects(counted, day + pd.Timedelta(hours=8)) is first and counted.reads == 1
            opened = propose(client_as(app, "kongpu"), cells["kongpu"], "form-measured")
            order = opened["remediation-open-message"]["children"]["props"]["children"].split(": ")[1]
            written = measured_effects(counted, day)
            assert counted.reads == 2 and order in set(written["remediation_id"]) - set(first["remediation_id"])
            assert measured_effects(counted, day + pd.Timedelta(days=1)) is not written and counted.reads == 3
    finally:
        CACHE.check_s = before


def test_a_click_and_the_page_after_it_measure_the_effects_once(app, cells):
    from dashboards.cache import CACHE
    from layers.remediation import remediation_effects

    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        effects = remediation_effects(store)
    done = effects[(effects["place_kind"] == "estate") & effects["verdict"].notna()].iloc[0]
    served = app.server.extensions["onemap_store"]
    CACHE.cases(served)  # the server's copy of the cases, read whole once before
    counted = app.server.extensions["onemap_store"] = Counted(served)
    try:
        propose(client_as(app, "kongpu"), cells["kongpu"], "form-once")  # a write: the next request measures
        commander = client_as(app, "commander")
        panels = [str(commander.call("overview-details", {"overview-map.clickData": {"points": [
            {"location": done["place"]}]}}).get_json()["response"]["overview-details"]["children"]) for _ in range(2)]
        page = commander.call("_pages_content", {"_pages_location.pathname": "/remediation",
                                                 "_pages_location.search": ""})
        assert page.status_code == 200
    finally:
        app.server.extensions["onemap_store"] = served
    assert counted.reads == 1
    assert panels[0] == panels[1] and "件/月" in panels[0]  # the effect measured, shown on both clicks
