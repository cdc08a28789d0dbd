"""The blind-spot register (盲点数据库) on both stores: findings kept with a stable identity and a state."""

import shutil

import pandas as pd
import pytest

from layers.analysis import blind_spot_layer
from layers.areas import Area
from layers.audit import audit_of
from layers.blind_spot_register import (
    assign,
    blind_spot_id,
    name_unit,
    record_findings,
    register,
    resolve,
    state_counts,
)
from layers.errors import InvalidValue
from layers.filters import CaseFilter
from layers.remediation_orders import Actor, NotAllowed
from layers.store import Condition, open_store

COMMANDER = Actor("commander", "commander", Area())
KONGPU = Actor("kongpu", "street_staff", Area.parse("street:330205003"))
HONGMEI = Actor("hongmei", "grid_leader", Area.parse("cells:33020500300201,33020500300202"))
DAY = pd.Timestamp("2020-07-01 07:30")
SPAN = {"from": "2020-01-01", "to": "2020-06-30"}


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def demo_store(request, demo_gpkg, tmp_path_factory):
    """One writable copy of the demo per store for this module's tests, its findings recorded once."""
    from tests.conftest import _postgis_schema, copy_store

    def recorded(spec):
        with open_store(spec) as store:
            counts = record_findings(store, blind_spot_layer(store, CaseFilter.from_query(SPAN)), now=DAY)
        return spec, counts

    if request.param == "gpkg":
        spec = str(tmp_path_factory.mktemp("blind") / "demo.gpkg")
        shutil.copy(demo_gpkg[0], spec)
        yield recorded(spec)
        return
    with _postgis_schema("blind") as url:
        copy_store(demo_gpkg[0], url)
        yield recorded(url)


def test_a_finding_found_again_is_the_same_entry_and_one_found_after_it_was_resolved_reopens(demo_store):
    spec, first = demo_store
    with open_store(spec) as store:
        findings = blind_spot_layer(store, CaseFilter.from_query(SPAN))
        entries = store.read("blind_spot_entries")
        assert first["new"] == len(entries) == len(findings) > 0 and first["reopened"] == 0
        again = record_findings(store, findings, now=DAY + pd.Timedelta(days=1))
        spot = findings.iloc[0]
        spot_id = blind_spot_id(spot["rule"], spot["place_kind"], spot["place"], spot["category"])
        resolve(store, COMMANDER, spot_id, how="other", note="已处理", now=DAY + pd.Timedelta(days=2))
        later = record_findings(store, findings, now=DAY + pd.Timedelta(days=3))
        entry = store.read("blind_spot_entries", [Condition("blind_spot_id", "=", spot_id)]).iloc[0]
        steps = store.read("blind_spot_steps", [Condition("blind_spot_id", "=", spot_id)]).sort_values("step")
        audit = audit_of(store, "blind_spot_entries", spot_id)
    assert again == {"new": 0, "reopened": 0, "refreshed": len(findings)}
    assert later == {"new": 0, "reopened": 1, "refreshed": len(findings) - 1}
    assert entry["state"] == "reopened" and entry["first_found"] == DAY
    assert steps["state"].tolist() == ["new", "resolved", "reopened"]
    assert audit["action"].tolist() == ["blind_spot.found", "blind_spot.resolved", "blind_spot.found"]


def test_street_staff_assign_and_resolve_in_their_street_and_no_one_else_below_a_commander(demo_store):
    spec, _ = demo_store
    with open_store(spec) as store:
        entries = store.read("blind_spot_entries")
        open_ = entries[entries["state"].isin(["new", "reopened"])]
        mine = open_[open_["street_code"] == "330205003"].iloc[0]["blind_spot_id"]
        theirs = open_[open_["street_code"].notna() & (open_["street_code"] != "330205003")].iloc[0]["blind_spot_id"]
        assert assign(store, KONGPU, mine, unit="孔浦街道城市管理科", deadline="2020-07-15", now=DAY)
        assert not assign(store, KONGPU, mine, unit="孔浦街道城市管理科", deadline="2020-07-15", now=DAY)
        with pytest.raises(NotAllowed, match="outside"):
            assign(store, KONGPU, theirs, unit="x", deadline="2020-07-15")
        with pytest.raises(NotAllowed, match="grid_leader"):
            resolve(store, HONGMEI, mine, how="other")
        with pytest.raises(InvalidValue, match="unknown resolution"):
            resolve(store, KONGPU, mine, how="wished away")
        assert resolve(store, KONGPU, mine, how="responsibility_amended", now=DAY + pd.Timedelta(days=5))
        entry = store.read("blind_spot_entries", [Condition("blind_spot_id", "=", mine)]).iloc[0]
        street = register(store, KONGPU.area)
    assert (entry["state"], entry["unit"], entry["resolution"]) == ("resolved", "孔浦街道城市管理科",
                                                                    "responsibility_amended")
    assert mine in set(street["blind_spot_id"]) and theirs not in set(street["blind_spot_id"])
    assert street["street_code"].eq("330205003").all()


def test_the_counts_of_open_resolved_and_reopened_over_time_come_from_the_steps(demo_store):
    spec, first = demo_store
    with open_store(spec) as store:
        days = pd.date_range("2020-06-30", "2020-07-10")
        counts = state_counts(store, Area(), days).set_index("day")
    assert counts.loc["2020-06-30"].tolist() == [0, 0, 0]  # nothing recorded yet
    assert counts.loc["2020-07-01", "open"] == first["new"]
    assert (counts[["open", "resolved", "reopened"]].sum(axis=1).iloc[1:] == first["new"]).all()


def test_naming_the_unit_amends_the_responsibility_list_and_the_next_case_there_goes_to_it(demo_store, demo_build,
                                                                                          tmp_path):
    from etl.ingest import ingest

    spec, _ = demo_store
    with open_store(spec) as store:
        entries = store.read("blind_spot_entries")
        gaps = entries[(entries["rule"] == "category_without_unit") & entries["state"].isin(["new", "reopened"])]
        spot = gaps.iloc[0]
        staff = Actor("staff", "street_staff", Area.parse(f"street:{spot['street_code']}"))
        other = entries[entries["rule"] == "recurring_in_cell"].iloc[0]["blind_spot_id"]
        with pytest.raises(InvalidValue, match="resolved another way"):
            name_unit(store, COMMANDER, other, unit="x")
        with pytest.raises(NotAllowed, match="grid_leader"):
            name_unit(store, HONGMEI, spot["blind_spot_id"], unit="x")
        list_before = len(store.read("responsibilities"))
        assert name_unit(store, staff, spot["blind_spot_id"], unit="街道综合执法队", note="补充清单",
                         now=DAY + pd.Timedelta(days=6))
        assert not name_unit(store, staff, spot["blind_spot_id"], unit="街道综合执法队")  # sent again
        duty = store.read("responsibilities", [Condition("category", "=", spot["category"]),
                                               Condition("area_code", "=", spot["place"])])
        entry = store.read("blind_spot_entries", [Condition("blind_spot_id", "=", spot["blind_spot_id"])]).iloc[0]
        assert len(store.read("responsibilities")) == list_before + 1
        assert audit_of(store, "responsibilities", f"{spot['category']}|{spot['place']}")["actor"].tolist() == ["staff"]
        # A walk-in of that category in that community, arriving now, is given to the unit named.
        community = store.read("communities", [Condition("community_code", "=", spot["place"])]).iloc[0]
        export = pd.read_csv(demo_build["exports"]["walk_in"], encoding="utf-8-sig", dtype=str).head(1)
        export = export.assign(登记号="NAMED-UNIT-1", 事由类别=spot["category"], 所属社区=community["name"],
                               来访日期="2021-02-01 09:00")
        export.to_csv(tmp_path / "walk_in.csv", index=False, encoding="utf-8-sig")
        ingest([tmp_path / "walk_in.csv"], "walk_in", store)
        case = store.read("case_sources", [Condition("source_id", "=", "NAMED-UNIT-1")])
        stored = store.read("cases", [Condition("case_id", "in", case["case_id"].tolist())])
    assert duty["unit"].tolist() == ["街道综合执法队"]
    assert (entry["state"], entry["resolution"]) == ("resolved", "responsibility_amended")
    assert stored["responsible_unit"].tolist() == ["街道综合执法队"]
    assert stored["community_code"].tolist() == [spot["place"]]
