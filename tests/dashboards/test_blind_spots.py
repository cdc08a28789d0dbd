"""The blind-spot page's writes, through the real Flask server of the Dash app: assign, resolve and name the unit
in the person's area; everything else refused with nothing changed."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from dashboards.app import create_app
from dashboards.blind_spots import counts_chart, entry_rows
from demo.blind_spots import record_demo_blind_spots
from layers.areas import Area
from layers.store import Condition, open_store
from tests.dashboards.test_remediation import client_as

STREET = "330205003"


@pytest.fixture(scope="module")
def app(demo_gpkg, tmp_path_factory):
    from dashboards.cache import CACHE

    path = tmp_path_factory.mktemp("blindspots") / "demo.gpkg"
    shutil.copy(demo_gpkg[0], path)
    with open_store(str(path)) as store:
        record_demo_blind_spots(store)
    CACHE.check_s, before = 0, CACHE.check_s
    yield create_app(str(path))
    CACHE.check_s = before


def entries(app):
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        return store.read("blind_spot_entries")


def written(app) -> tuple:
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        held = store.read("blind_spot_entries")
        return (tuple(sorted(zip(held["blind_spot_id"], held["state"], held["unit"].fillna("")))),
                len(store.read("blind_spot_steps")), len(store.read("audit")), len(store.read("responsibilities")))


def choose(client, blind_spot):
    answer = client.call("blindspots-chosen", {"blindspots-table.selected_rows": [0]},
                         {"blindspots-table.data": [{"blind_spot_id": blind_spot}], "blindspots-lang.data": "zh"})
    assert answer.status_code == 200, answer.text[:300]
    return answer.get_json()["response"]


def submit(client, blind_spot, action, **given):
    state = {"blindspots-chosen.data": blind_spot, "blindspots-action.value": action, "blindspots-unit.value": "",
             "blindspots-deadline.date": "2021-04-01", "blindspots-how.value": None, "blindspots-note.value": "",
             "blindspots-lang.data": "zh"}
    state.update({f"blindspots-{k}.{'date' if k == 'deadline' else 'value'}": v for k, v in given.items()})
    answer = client.call("blindspots-message", {"blindspots-submit.n_clicks": 1}, state)
    assert answer.status_code == 200, answer.text[:300]
    return answer.get_json()["response"]["blindspots-message"]["children"]["props"]


def test_the_page_lists_the_persons_area_open_ones_first_with_the_counts_over_time(app):
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        street = entry_rows(store, Area.parse(f"street:{STREET}"))
        every = entry_rows(store, Area())
        chart = counts_chart(store, Area(), date(2021, 3, 2))
    held = entries(app)
    assert {r["blind_spot_id"] for r in street} == set(held.loc[held["street_code"] == STREET, "blind_spot_id"])
    assert len(every) == len(held) > len(street) > 0
    open_total = chart["data"][0]["y"][-1]  # the last day: every recorded one is open
    assert open_total == len(held)


def test_street_staff_assign_and_name_the_unit_in_their_street_and_forged_writes_change_nothing(app):
    kongpu, hongmei, planner = client_as(app, "kongpu"), client_as(app, "hongmei"), client_as(app, "planner")
    held = entries(app)
    mine = held[(held["street_code"] == STREET) & (held["rule"] == "recurring_in_cell")].iloc[0]["blind_spot_id"]
    theirs = held[held["street_code"].notna() & (held["street_code"] != STREET)].iloc[0]["blind_spot_id"]
    gap = held[held["rule"] == "category_without_unit"].iloc[0]  # a category nobody answers for, elsewhere
    panel = choose(kongpu, mine)
    assert [o["value"] for o in panel["blindspots-action"]["options"]] == ["assigned", "resolved"]
    assert panel["blindspots-chosen"]["data"] == mine
    assert choose(kongpu, theirs)["blindspots-chosen"]["data"] is None  # another street's: not shown
    before = written(app)
    assert submit(kongpu, theirs, "assigned", unit="x")["className"] == "form-error"
    assert "grid_leader" in submit(hongmei, mine, "resolved", how="other")["children"]
    assert submit(planner, mine, "assigned", unit="x")["className"] == "form-error"
    assert submit(kongpu, mine, "assigned", unit="")["className"] == "form-error"  # no unit named
    forged = kongpu.call("blindspots-message", {"blindspots-submit.n_clicks": 1},
                         {"blindspots-chosen.data": mine, "blindspots-action.value": "assigned",
                          "blindspots-unit.value": "x"}, csrf=False)
    assert forged.status_code == 403
    assert written(app) == before
    done = submit(kongpu, mine, "assigned", unit="孔浦街道城市管理科", deadline="2021-03-31", note="限期整改")
    assert done["className"] == "form-ok"
    entry = entries(app).set_index("blind_spot_id").loc[mine]
    assert (entry["state"], entry["unit"], str(entry["deadline"])[:10]) == ("assigned", "孔浦街道城市管理科",
                                                                           "2021-03-31")
    # A commander names the unit of a category nobody answers for there: the responsibility list is amended.
    commander = client_as(app, "commander")
    assert "name_unit" in [o["value"] for o in choose(commander, gap["blind_spot_id"])["blindspots-action"]["options"]]
    assert submit(kongpu, gap["blind_spot_id"], "name_unit", unit="x")["className"] == "form-error"  # not her street
    assert submit(commander, gap["blind_spot_id"], "name_unit", unit="区综合执法局")["className"] == "form-ok"
    with open_store(app.server.config["ONEMAP_STORE"]) as store:
        duty = store.read("responsibilities", [Condition("category", "=", gap["category"]),
                                               Condition("area_code", "=", gap["place"])])
    assert duty["unit"].tolist() == ["区综合执法局"]
    assert entries(app).set_index("blind_spot_id").loc[gap["blind_spot_id"], "state"] == "resolved"


def test_a_click_on_a_blind_spot_on_the_map_opens_its_entry_with_what_can_be_done(app):
    held = entries(app)
    spot = held[(held["street_code"] == STREET) & (held["place_kind"] == "grid_cell")].iloc[0]
    kongpu, hongmei = client_as(app, "kongpu"), client_as(app, "hongmei")
    click = {"overview-map.clickData": {"points": [{"customdata": f"blind_spot:{spot['blind_spot_id']}"}]}}
    panel = str(kongpu.call("overview-details", click).get_json()["response"]["overview-details"]["children"])
    assert "/blindspots" in panel and f"place={spot['place']}" in panel and "立项治理" in panel
    outside = set(held.loc[held["grid_cell"].notna() & ~held["grid_cell"].isin(
        ["33020500300201", "33020500300202"]), "blind_spot_id"])
    theirs = {"overview-map.clickData": {"points": [{"customdata": f"blind_spot:{sorted(outside)[0]}"}]}}
    answer = str(hongmei.call("overview-details", theirs).get_json()["response"]["overview-details"]["children"])
    assert "尚未登记" in answer  # outside her cells: as if it were not there
