"""A city's store: several districts in one store, each a user's area, the whole store above them.

Jiangbei (the demo, ingested) and the made-up 示范区 of ``test_second_district``
are loaded into one store through the command line; each district keeps
its own rows, a user of one district sees that district only, and the
commander of the whole store sees both.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from demo.users import demo_password
from layers.areas import Area
from layers.store import open_store
from tests.test_second_district import made_up_district, onemap, text_of

SHIFAN = "999901"


@pytest.fixture(scope="module")
def city(demo_gpkg, tmp_path_factory):
    folder = tmp_path_factory.mktemp("city")
    store = str(folder / "city.gpkg")
    shutil.copy(demo_gpkg[0], store)
    geography, export = made_up_district(folder)
    onemap("load-geography", str(geography), "--store", store)
    said = onemap("ingest", str(export), "--source", "hotline_12345", "--store", store, "--json")
    assert '"stored": 6' in said
    subprocess.run([sys.executable, "-m", "onemap.cli", "user", "add", "chief", "--role", "commander",
                    "--area", f"district:{SHIFAN}", "--password-stdin", "--store", store],
                   input=demo_password("commander") + "\n", text=True, check=True, capture_output=True)
    return store, folder, geography


def test_each_district_keeps_its_own_rows(city, demo_gpkg):
    store, _, geography = city
    with open_store(demo_gpkg[0]) as jiangbei:
        before = {name: jiangbei.count(name) for name in ("streets", "communities", "grid_cells", "cases")}
    with open_store(store) as both:
        assert sorted(both.read("district")["district_code"]) == ["330205", SHIFAN]
        assert both.count("streets") == before["streets"] + 2 and both.count("grid_cells") == before["grid_cells"] + 8
        assert both.count("cases") == before["cases"] + 6
    onemap("load-geography", str(geography), "--store", store)  # loaded again: its own rows replaced, no more
    with open_store(store) as both:
        assert both.count("streets") == before["streets"] + 2 and both.count("communities") == before["communities"] + 4


def test_a_district_whose_codes_do_not_nest_in_its_own_is_refused(city, tmp_path):
    import geopandas as gpd

    store, _, geography = city
    odd = tmp_path / "odd.gpkg"
    shutil.copy(geography, odd)
    streets = gpd.read_file(odd, layer="streets")
    streets.loc[1, "street_code"] = "888801002"
    streets.to_file(odd, layer="streets", driver="GPKG")
    done = subprocess.run([sys.executable, "-m", "onemap.cli", "load-geography", str(odd), "--store", store],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "layer streets, row 2: street_code '888801002' does not begin with the district's code 999901" in done.stderr
    with open_store(store) as both:
        assert "888801002" not in set(both.read("streets")["street_code"])  # nothing was written


def test_kpis_of_one_district_and_of_the_whole_store(city):
    from layers.kpis import kpis_from_store

    with open_store(city[0]) as store:
        shifan = kpis_from_store(store, area=Area.parse(f"district:{SHIFAN}"))
        jiangbei = kpis_from_store(store, area=Area.parse("district:330205"))
        whole = kpis_from_store(store)
    received = [sum(k[kind]["received"] for kind in ("disputes", "events", "petitions")) for k in (shifan, jiangbei,
                                                                                                     whole)]
    assert received[0] == 6 and received[0] + received[1] == received[2]


def test_a_districts_user_sees_that_district_only(city):
    from dashboards.app import create_app
    from dashboards.client import for_app

    client = for_app(create_app(city[0]))
    assert client.log_in("chief", demo_password("commander")).status_code == 302
    overview = text_of(client.call("_pages_content", {"_pages_location.pathname": "/",
                                                      "_pages_location.search": ""}))
    assert "示范区 全区" in overview and "江北" not in overview
    out = client.call("overview-kpis", {"overview-period.start_date": "2024-01-01",
                                        "overview-period.end_date": "2024-12-31"}).get_json()["response"]
    cells = out["overview-map"]["figure"]["data"][0]["locations"]
    assert len(cells) == 8 and all(c.startswith(SHIFAN) for c in cells)  # its eight cells, none of Jiangbei's
    # Forged: a Jiangbei street in the filter gives nothing at all.
    forged = client.call("overview-kpis", {"overview-period.start_date": "2020-01-01",
                                           "overview-period.end_date": "2020-12-31",
                                           "overview-street.value": "330205003"}).get_json()["response"]
    assert forged["overview-map"]["figure"]["data"][0]["locations"] == []


def test_the_whole_stores_commander_sees_every_district(city):
    from dashboards.app import create_app
    from dashboards.client import for_app

    client = for_app(create_app(city[0]))
    assert client.log_in("commander", demo_password("commander")).status_code == 302
    out = client.call("overview-kpis", {"overview-period.start_date": "2020-01-01",
                                        "overview-period.end_date": "2024-12-31"}).get_json()["response"]
    cells = out["overview-map"]["figure"]["data"][0]["locations"]
    assert {c[:6] for c in cells} == {"330205", SHIFAN}


def test_the_whole_stores_commander_chooses_a_district(city):
    from dashboards.app import create_app
    from dashboards.client import for_app

    client = for_app(create_app(city[0]))
    assert client.log_in("commander", demo_password("commander")).status_code == 302
    page = client.call("_pages_content", {"_pages_location.pathname": "/", "_pages_location.search": ""})
    chooser = _component(page.get_json()["response"]["_pages_content"]["children"], "overview-district")
    assert [o["value"] for o in chooser["options"]] == ["", "330205", SHIFAN] and "display" not in chooser["style"]
    streets = client.call("overview-street", {"overview-district.value": SHIFAN}).get_json()["response"]
    assert [o["value"] for o in streets["overview-street"]["options"]] == ["", "999901001", "999901002"]
    out = client.call("overview-kpis", {"overview-period.start_date": "2020-01-01",
                                        "overview-period.end_date": "2024-12-31",
                                        "overview-district.value": SHIFAN}).get_json()["response"]
    assert {c[:6] for c in out["overview-map"]["figure"]["data"][0]["locations"]} == {SHIFAN}
    # A store of one district hides the chooser: the demo's overview is as it was.
    chief = for_app(create_app(city[0]))
    assert chief.log_in("chief", demo_password("commander")).status_code == 302
    page = chief.call("_pages_content", {"_pages_location.pathname": "/", "_pages_location.search": ""})
    mine = _component(page.get_json()["response"]["_pages_content"]["children"], "overview-district")
    assert [o["value"] for o in mine["options"]] == ["", SHIFAN] and mine["style"] == {"display": "none"}


def _component(tree, id_):
    """The props of the component with this id in a page's component tree."""
    if isinstance(tree, list):
        return next((c for c in (_component(item, id_) for item in tree) if c is not None), None)
    if isinstance(tree, dict):
        props = tree.get("props", {})
        if props.get("id") == id_:
            return props
        return _component(props.get("children"), id_)
    return None
