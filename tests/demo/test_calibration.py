"""The ingested demo reproduces the centre's 2020 report, on both stores."""

import pytest

from layers.kpis import kpis_from_store
from layers.store import open_store


def check_2020(store):
    k = kpis_from_store(store, start="2020-01-01", end="2020-12-31")
    assert k["disputes"]["received"] == 2377
    assert k["disputes"]["resolved_in_place"] == 2295
    assert k["disputes"]["resolved_in_place_rate"] == 0.9655
    assert k["visits"] == {"batches": 2605, "people": 4257}
    assert k["events"]["closure_rate"] == 0.999
    assert k["setback_areas"] == {"estates": 100, "handed_over": 25, "unmanaged": 75}
    return k


def test_geopackage_store_reproduces_2020(demo_gpkg):
    with open_store(demo_gpkg[0]) as store:
        check_2020(store)


@pytest.mark.postgis
def test_postgis_store_reproduces_2020(demo_build, postgis_url, demo_gpkg):
    from tests.conftest import ingest_demo

    with open_store(postgis_url) as store:
        ingest_demo(demo_build, store)
        pg = check_2020(store)
    with open_store(demo_gpkg[0]) as store:
        assert kpis_from_store(store, start="2020-01-01", end="2020-12-31") == pg
