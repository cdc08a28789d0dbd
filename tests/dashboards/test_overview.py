"""The overview page's plain functions, without a browser."""

from datetime import date

from dash import html

from dashboards.data import overview_data
from dashboards.tiles import kpi_tiles, percent
from layers.store import open_store


def test_overview_data_gives_tiles_and_a_choropleth_of_the_period(demo_gpkg):
    with open_store(demo_gpkg[0]) as store:
        kpis, fig = overview_data(store, start=date(2020, 1, 1), end=date(2020, 12, 31))
    assert kpis["disputes"]["received"] == 2377
    choropleth = fig.data[0]
    assert choropleth.type == "choroplethmap" and len(choropleth.locations) == 596
    assert sum(choropleth.z) > 0.9 * (kpis["disputes"]["received"] + kpis["events"]["received"]) * 0.7
    assert fig.layout.map.style == "white-bg"


def test_a_street_filter_narrows_map_and_numbers(demo_gpkg):
    with open_store(demo_gpkg[0]) as store:
        whole, _ = overview_data(store, start=date(2020, 1, 1), end=date(2020, 12, 31))
        kongpu, fig = overview_data(store, start=date(2020, 1, 1), end=date(2020, 12, 31), street="孔浦街道")
    assert 0 < kongpu["disputes"]["received"] < whole["disputes"]["received"]
    assert all(code.startswith("330205003") for code in fig.data[0].locations)


def test_tiles_use_chinese_number_conventions():
    assert percent(0.9655) == "96.55%" and percent(None) == "—"
    kpis = {"disputes": {"received": 2377, "resolved_in_place_rate": 0.9655, "closure_rate": 1.0, "overdue": 0,
                         "by_level": {"community": 1, "street": 2, "district": 3}},
            "events": {"received": 5000, "closure_rate": 0.999, "overdue": 5},
            "petitions": {"overdue": 0}, "visits": {"batches": 2605, "people": 4257}}
    tiles = kpi_tiles(kpis)
    values = {t.children[2].id: t.children[2].children for t in tiles if isinstance(t, html.Div)}
    assert values["overview-kpi-disputes-received"] == "2,377"
    assert values["overview-kpi-visits"] == "2,605 / 4,257"
