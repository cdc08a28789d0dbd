"""The OGC API – Features documents, from plain data: query parsing, axis order, paging links."""

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from layers.catalogue import CATALOGUE
from layers.features import (
    CRS84,
    BadQuery,
    ItemsQuery,
    api_definition,
    feature_collection,
    in_crs,
    matching,
    parse_bbox,
    parse_datetime,
    parse_items_query,
)

CGCS2000 = "http://www.opengis.net/def/crs/EPSG/0/4490"
GK = "http://www.opengis.net/def/crs/EPSG/0/4549"


def test_datetime_instants_days_and_open_intervals_become_local_times():
    assert parse_datetime("2020-06-01") == (pd.Timestamp("2020-06-01"), pd.Timestamp("2020-06-01 23:59:59.999999"))
    # 00:00 UTC is 08:00 in the district, where the store's times are kept.
    assert parse_datetime("2020-06-01T00:00:00Z")[0] == pd.Timestamp("2020-06-01 08:00")
    assert parse_datetime("2020-06-01/2020-06-30") == (pd.Timestamp("2020-06-01"),
                                                       pd.Timestamp("2020-06-30 23:59:59.999999"))
    assert parse_datetime("../2020-06-30")[0] is None and parse_datetime("2020-06-01/..")[1] is None
    for wrong in ("yesterday", "2020-06-30/2020-06-01", "..", "a/b/c"):
        with pytest.raises(BadQuery):
            parse_datetime(wrong)


def test_a_bbox_in_a_north_first_crs_is_read_in_that_order():
    assert parse_bbox("121.5,29.8,121.6,29.9") == pytest.approx((121.5, 29.8, 121.6, 29.9))
    # EPSG:4490 is latitude first; EPSG:4549 is northing first.
    assert parse_bbox("29.8,121.5,29.9,121.6", CGCS2000) == pytest.approx((121.5, 29.8, 121.6, 29.9))
    box = parse_bbox("3306711.728,649757.548,3306711.728,649757.548", GK)
    assert box[0] == pytest.approx(121.55, abs=1e-7) and box[1] == pytest.approx(29.87, abs=1e-7)
    for wrong in ("1,2,3", "a,b,c,d", "121.6,29.9,121.5,29.8", "nan,1,2,3"):
        with pytest.raises(BadQuery):
            parse_bbox(wrong)


def test_the_known_point_in_each_offered_crs():
    point = gpd.GeoSeries([Point(121.55, 29.87)], crs=4490)
    assert in_crs(point, CRS84)[0].coords[0] == pytest.approx((121.55, 29.87))
    assert in_crs(point, CGCS2000)[0].coords[0] == pytest.approx((29.87, 121.55))
    # Northing first, as EPSG defines it: N 3306711.728, E 649757.548 within 1 cm.
    assert in_crs(point, GK)[0].coords[0] == pytest.approx((3306711.728, 649757.548), abs=0.01)


def test_the_query_string_refuses_what_it_cannot_mean():
    q = parse_items_query({"limit": "50", "offset": "100", "category": "噪声扰民"}, ["category"])
    assert (q.limit, q.offset, q.properties) == (50, 100, {"category": "噪声扰民"})
    assert parse_items_query({"limit": "10000"}).limit == 10_000
    with pytest.raises(BadQuery, match="at most 10000"):  # above the maximum the API document states
        parse_items_query({"limit": "999999"})
    for args, said in (({"limit": "0"}, "limit"), ({"offset": "-1"}, "offset"), ({"limit": "ten"}, "whole"),
                       ({"crs": "EPSG:3857"}, "not offered"), ({"colour": "red"}, "unknown parameter")):
        with pytest.raises(BadQuery, match=said):
            parse_items_query(args, ["category"])


def test_matching_and_paging_links():
    frame = gpd.GeoDataFrame(
        {"case_id": [f"C{i}" for i in range(5)], "category": ["噪声扰民", "噪声扰民", "占道经营", "噪声扰民", None],
         "reported_at": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-02-01", "2020-03-01", "2020-03-02"])},
        geometry=[Point(121.5 + i / 100, 29.9) for i in range(5)], crs=4490)
    q = ItemsQuery(bbox=(121.505, 29.8, 121.535, 30.0), properties={"category": "噪声扰民"},
                   start=pd.Timestamp("2020-02-01"), end=None, limit=1)
    assert matching(frame, q, time_field="reported_at").tolist() == [False, True, False, True, False]
    body = feature_collection(frame.iloc[[1]], CATALOGUE["cases"], q, 2, "http://x/items", {"category": "噪声扰民"})
    assert (body["numberMatched"], body["numberReturned"]) == (2, 1)
    assert body["features"][0]["id"] == "C1" and body["features"][0]["properties"]["category"] == "噪声扰民"
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert "offset=1" in rels["next"] and "prev" not in rels and "category=" in rels["next"]


def test_the_api_definition_names_each_layers_fields_and_the_page_size():
    doc = api_definition("http://x/ogcapi", CATALOGUE.values())
    items = doc["paths"]["/collections/cases/items"]["get"]["parameters"]
    names = [p["name"] for p in items]
    assert {"bbox", "datetime", "limit", "offset", "crs", "category", "grid_cell"} <= set(names)
    assert next(p for p in items if p["name"] == "limit")["schema"]["maximum"] == 10_000
