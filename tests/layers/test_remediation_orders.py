"""Remediation orders taken step by step, on both stores: who may, where, and what follows."""

import json
import shutil
import uuid

import pandas as pd
import pytest

from layers.areas import Area
from layers.audit import audit_of
from layers.errors import InvalidValue
from layers.remediation_orders import Actor, NotAllowed, advance_order, open_order, orders, steps_of
from layers.store import Condition, open_store

COMMANDER = Actor("commander", "commander", Area())
KONGPU = Actor("kongpu", "street_staff", Area.parse("street:330205003"))
HONGMEI = Actor("hongmei", "grid_leader", Area.parse("cells:33020500300201,33020500300202"))
PLANNER = Actor("planner", "planner", Area())
NOW = pd.Timestamp("2020-06-01 09:00")


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def demo_store(request, demo_gpkg, tmp_path_factory):
    """One writable copy of the demo per store for this module's tests (each works its own places and keys)."""
    from tests.conftest import _postgis_schema, copy_store

    if request.param == "gpkg":
        spec = str(tmp_path_factory.mktemp("orders") / "demo.gpkg")
        shutil.copy(demo_gpkg[0], spec)
        yield spec
        return
    with _postgis_schema("orders") as url:
        copy_store(demo_gpkg[0], url)
        yield url


def unmanaged_area_in(store, street="330205003"):
    areas = store.read("setback_areas")
    return areas[(areas["status"] == "unmanaged") & areas["street_code"].eq(street)].iloc[0]


def propose(store, actor=KONGPU, kind="setback_area", place=None, key=None):
    place = place or unmanaged_area_in(store)["setback_area"]
    return open_order(store, actor, place_kind=kind, place=place, category="物业纠纷", measures="清理堆物，划定停车位",
                      unit="孔浦街道城市管理科", planned_start="2020-06-10", planned_finish="2020-08-31",
                      note="群众反映集中", request_key=key or uuid.uuid4().hex, now=NOW)


def test_an_order_walks_from_proposed_to_handed_over_and_its_setback_area_follows(demo_store):
    with open_store(demo_store) as store:
        area = unmanaged_area_in(store)
        order, wrote = propose(store, place=area["setback_area"])
        assert wrote
        assert advance_order(store, COMMANDER, order, "approved", note="同意", now=NOW + pd.Timedelta(days=1))
        assert advance_order(store, KONGPU, order, "in_progress", now=NOW + pd.Timedelta(days=9))
        status = store.read("setback_areas", [Condition("setback_area", "=", area["setback_area"])])["status"].iat[0]
        assert status == "in_renovation"
        assert advance_order(store, COMMANDER, order, "accepted", now=NOW + pd.Timedelta(days=80))
        assert advance_order(store, KONGPU, order, "handed_over", handed_over_to="红梅物业",
                             now=NOW + pd.Timedelta(days=85))
        after = store.read("setback_areas", [Condition("setback_area", "=", area["setback_area"])]).iloc[0]
        row = store.read("remediations", [Condition("remediation_id", "=", order)]).iloc[0]
        steps = steps_of(store, order)
        audit = audit_of(store, "remediations", order)
    assert (after["status"], after["managing_unit"], after["handed_over_to"]) == ("handed_over", "红梅物业", "红梅物业")
    assert row["state"] == "handed_over"
    assert row["started_at"] == NOW + pd.Timedelta(days=9) and row["finished_at"] == NOW + pd.Timedelta(days=80)
    assert steps["state"].tolist() == ["proposed", "approved", "in_progress", "accepted", "handed_over"]
    assert steps["actor"].tolist() == ["kongpu", "commander", "kongpu", "commander", "kongpu"]
    assert steps["note"].iat[1] == "同意"
    assert audit["action"].tolist() == ["remediation.open", "remediation.approved", "remediation.in_progress",
                                        "remediation.accepted", "remediation.handed_over"]
    assert json.loads(audit["before"].iat[1])["state"] == "proposed"
    assert json.loads(audit["after"].iat[1])["state"] == "approved"


def test_the_evidence_is_frozen_when_the_order_is_opened(demo_store):
    with open_store(demo_store) as store:
        cell = store.read("cases", [Condition("street_code", "=", "330205003")])["grid_cell"].dropna().mode().iat[0]
        order, _ = open_order(store, COMMANDER, place_kind="grid_cell", place=cell, category=None, measures="夜间巡查",
                              unit="孔浦派出所", planned_start="2020-06-01", planned_finish="2020-07-01", now=NOW)
        evidence = json.loads(store.read("remediations", [Condition("remediation_id", "=", order)])["evidence"].iat[0])
        cases = store.read("cases", [Condition("grid_cell", "=", cell)])
    window = cases[(cases["reported_at"] >= NOW - pd.Timedelta(days=90)) & (cases["reported_at"] < NOW)]
    assert evidence["cases"] == len(window) > 0
    assert set(evidence["case_ids"]) == set(window["case_id"])


def test_each_role_takes_only_its_steps_and_only_in_its_area(demo_store):
    with open_store(demo_store) as store:
        elsewhere = unmanaged_area_in(store, street="330205001")["setback_area"]  # 外滩, not 孔浦
        with pytest.raises(NotAllowed, match="outside"):
            propose(store, KONGPU, place=elsewhere)
        cells = store.read("grid_cells", [Condition("street_code", "=", "330205003")])["grid_cell"]
        neighbour = sorted(set(cells) - set(HONGMEI.area.codes))[0]  # the same street, not the leader's
        with pytest.raises(NotAllowed, match="outside"):
            propose(store, HONGMEI, kind="grid_cell", place=neighbour)
        with pytest.raises(NotAllowed, match="planner"):
            propose(store, PLANNER)
        mine, _ = propose(store, HONGMEI, kind="grid_cell", place="33020500300201")
        with pytest.raises(NotAllowed, match="approved"):
            advance_order(store, KONGPU, mine, "approved")  # street staff do not approve
        with pytest.raises(NotAllowed, match="in_progress"):
            advance_order(store, HONGMEI, mine, "in_progress")
        theirs, _ = propose(store, COMMANDER, place=elsewhere)
        advance_order(store, COMMANDER, theirs, "approved", now=NOW)
        with pytest.raises(NotAllowed, match="outside"):
            advance_order(store, KONGPU, theirs, "in_progress")  # another street's order
        with pytest.raises(InvalidValue, match="approved: it can go to in_progress, cancelled, not accepted"):
            advance_order(store, COMMANDER, theirs, "accepted")  # a step skipped
        register = store.read("remediations")
    assert set(register["state"].dropna()) >= {"proposed", "approved"}
    assert register.set_index("remediation_id").loc[mine, "state"] == "proposed"


def test_opening_twice_with_one_request_key_and_taking_a_step_twice_write_once(demo_store):
    with open_store(demo_store) as store:
        first, wrote_first = propose(store, key="same-form")
        again, wrote_again = propose(store, key="same-form")
        assert advance_order(store, COMMANDER, first, "approved", now=NOW)
        assert not advance_order(store, COMMANDER, first, "approved", now=NOW + pd.Timedelta(hours=1))
        register = store.read("remediations")
        steps = steps_of(store, first)
        audit = audit_of(store, "remediations", first)
    assert (first, wrote_first, wrote_again) == (again, True, False)
    assert (register["remediation_id"] == first).sum() == 1
    assert steps["state"].tolist() == ["proposed", "approved"] and len(audit) == 2


def test_cancelled_works_give_the_setback_area_back_and_an_order_past_its_finish_is_overdue(demo_store):
    with open_store(demo_store) as store:
        area = unmanaged_area_in(store)["setback_area"]
        order, _ = propose(store, place=area)
        late, _ = propose(store, COMMANDER, kind="grid_cell", place="33020500300201")
        advance_order(store, COMMANDER, order, "approved", now=NOW)
        advance_order(store, KONGPU, order, "in_progress", now=NOW)
        advance_order(store, KONGPU, order, "cancelled", note="居民反对", now=NOW + pd.Timedelta(days=3))
        status = store.read("setback_areas", [Condition("setback_area", "=", area)])["status"].iat[0]
        seen = orders(store, HONGMEI.area, now=pd.Timestamp("2020-09-15")).set_index("remediation_id")
        everything = orders(store, COMMANDER.area, now=pd.Timestamp("2020-09-15")).set_index("remediation_id")
    assert status == "unmanaged"
    assert everything.loc[order, "state"] == "cancelled" and not everything.loc[order, "overdue"]
    assert everything.loc[late, "overdue"]
    # The grid leader sees the order on their own cell, not the street's setback area elsewhere.
    assert late in seen.index and order not in seen.index


def test_the_remediation_page_lists_the_orders_of_the_viewers_area_overdue_first(demo_store):
    from dashboards.remediation import order_rows

    with open_store(demo_store) as store:
        cell = "33020500300202"
        late, _ = propose(store, HONGMEI, kind="grid_cell", place=cell)
        rows = order_rows(store, HONGMEI.area, "zh", now=pd.Timestamp("2020-09-15"))
        elsewhere = order_rows(store, Area.parse("street:330205001"), "en", now=pd.Timestamp("2020-09-15"))
    mine = next(r for r in rows if r["remediation_id"] == late)
    assert mine["state"].startswith("已立项") and mine["overdue"].startswith("逾期") and cell in mine["place"]
    assert mine["last_step"].endswith("hongmei") and mine["plan"] == "2020-06-10 → 2020-08-31"
    assert rows[0]["overdue"]  # open and late first
    assert all(late != r["remediation_id"] for r in elsewhere)


def test_two_people_taking_different_steps_at_once_one_lands_and_the_other_is_told(demo_store):
    """Street staff start the works while a commander cancels, at the same moment, ten times over: each time one
    step lands whole (its state, its one step row) and the other is refused with nothing written."""
    import threading

    with open_store(demo_store) as store:
        cells = store.read("grid_cells", [Condition("street_code", "=", "330205003")])["grid_cell"].tolist()
    for n in range(10):
        with open_store(demo_store) as store:
            order, _ = propose(store, kind="grid_cell", place=cells[n])
            advance_order(store, COMMANDER, order, "approved", now=NOW)
        gate, results = threading.Barrier(2), {}

        def take(actor, step):
            with open_store(demo_store) as own:
                gate.wait()
                try:
                    results[step] = advance_order(own, actor, order, step, now=NOW)
                except InvalidValue as exc:
                    results[step] = exc

        threads = [threading.Thread(target=take, args=a) for a in ((KONGPU, "in_progress"), (COMMANDER, "cancelled"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with open_store(demo_store) as store:
            state = store.read("remediations", [Condition("remediation_id", "=", order)])["state"].iat[0]
            steps = steps_of(store, order)
        landed = [step for step, result in results.items() if result is True]
        assert landed == [state], results  # one landed; the other raised (or found the order gone past it)
        assert steps["state"].tolist() == ["proposed", "approved", state] and steps["step"].tolist() == [1, 2, 3]
        refused = next(result for step, result in results.items() if step != state)
        assert isinstance(refused, InvalidValue)


def test_a_date_that_is_not_one_is_named_and_nothing_is_written(demo_store):
    with open_store(demo_store) as store:
        place = unmanaged_area_in(store)["setback_area"]
        before = len(store.read("remediations"))
        for start, finish in (("2020-13-45", "2020-08-31"), ("2020-06-10", "soon"), ("2020-06-10", None)):
            with pytest.raises(InvalidValue, match="planned"):
                open_order(store, KONGPU, place_kind="setback_area", place=place, category=None, measures="x",
                           unit="y", planned_start=start, planned_finish=finish, request_key=uuid.uuid4().hex)
        assert len(store.read("remediations")) == before
