"""The live feed against the running server, read by GDAL (``ogrinfo OAPIF:``) as QGIS would, and by hand."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from demo.users import demo_password
from layers.store import open_store
from tests.conftest import serving

KONGPU, HONGMEI_CELLS = "330205003", ("33020500300201", "33020500300202")
KNOWN = "3302050101000999"  # a component at 29.87 N 121.55 E (CGCS2000)


@pytest.fixture(scope="module")
def feed(demo_gpkg, tmp_path_factory):
    path = tmp_path_factory.mktemp("feed") / "feed.gpkg"
    shutil.copy(demo_gpkg[0], path)
    with open_store(str(path)) as store:
        store.upsert("components", gpd.GeoDataFrame(
            {"component_id": [KNOWN], "major_class": ["01"], "minor_class": ["01"], "class_name": ["上水井盖"],
             "state": ["damaged"], "managing_unit": ["江北区市政设施养护所"], "grid_cell": [HONGMEI_CELLS[0]]},
            geometry=[Point(121.55, 29.87)], crs=4490))
        cases = store.read("cases")
    log = path.with_suffix(".log")
    with serving(path, log=log) as url:
        yield url + "/ogcapi", cases
    # Whatever the tests asked, no phone number and no complaint text went into the server's log.
    said = log.read_text(encoding="utf-8", errors="replace")
    phones = cases["reporter_phone"].dropna()
    assert "serving the one map" in said
    assert not any(phone in said for phone in phones) and not any(
        text in said for text in cases["description"].dropna().head(200))


def get(url, user=None, password=None, **params):
    """(status, headers, JSON body) of a GET, logged in with HTTP Basic as ``user``."""
    request = urllib.request.Request(url + ("?" + urllib.parse.urlencode(params) if params else ""))
    if user:
        secret = f"{user}:{password or demo_password(user)}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(secret).decode())
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


def ogrinfo(url, user, *args):
    env = {**os.environ, "GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": f"{user}:{demo_password(user)}"}
    return subprocess.run(["ogrinfo", "-ro", "-oo", "PAGE_SIZE=1000", f"OAPIF:{url}", *args], env=env,
                          capture_output=True, text=True, timeout=300, check=True).stdout


def test_gdal_lists_every_layer_and_counts_each_users_area(feed):
    url, cases = feed
    listing = ogrinfo(url, "commander")
    for title in ("网格 · Grid cells", "案件 · Cases", "热点分析 Gi* · Hotspots (Gi*)", "优先治理 · Priorities"):
        assert title in listing
    assert f"Feature Count: {len(cases)}" in ogrinfo(url, "commander", "-so", "cases")
    mine = cases["grid_cell"].isin(HONGMEI_CELLS)
    assert f"Feature Count: {mine.sum()}" in ogrinfo(url, "hongmei", "-so", "cases")
    assert "Feature Count: 2" in ogrinfo(url, "hongmei", "-so", "grid_cells")


def test_gdal_reads_every_page_and_filters_at_the_server(feed):
    url, cases = feed
    street = cases[cases["street_code"] == KONGPU]
    text = ogrinfo(url, "kongpu", "-al", "-q", "cases")
    assert text.count("OGRFeature(cases)") == len(street)
    ids = [line.split("=", 1)[1].strip() for line in text.splitlines() if line.strip().startswith("case_id (String)")]
    assert sorted(ids) == sorted(street["case_id"])
    noise = ogrinfo(url, "kongpu", "-al", "-q", "cases", "-where", "category = '噪声扰民'")
    assert noise.count("OGRFeature(cases)") == (street["category"] == "噪声扰民").sum()


def test_paging_by_next_links_gives_each_feature_once(feed):
    url, cases = feed
    link, seen = f"{url}/collections/cases/items?limit=500", []
    while link:
        status, _, body = get(link, "kongpu")
        assert status == 200
        seen += [f["id"] for f in body["features"]]
        link = next((k["href"] for k in body["links"] if k["rel"] == "next"), None)
    assert len(seen) == len(set(seen)) == body["numberMatched"] == (cases["street_code"] == KONGPU).sum()


def test_area_scoping_holds_against_forged_queries(feed):
    url, cases = feed
    other = cases.loc[cases["street_code"] != KONGPU].iloc[0]
    status, _, body = get(f"{url}/collections/cases/items", "kongpu", street_code=other["street_code"])
    assert status == 200 and body["numberMatched"] == 0
    assert get(f"{url}/collections/cases/items/{urllib.parse.quote(other['case_id'])}", "hongmei")[0] == 404
    status, _, body = get(f"{url}/collections/grid_cells/items", "hongmei", limit=1000)
    assert sorted(f["id"] for f in body["features"]) == sorted(HONGMEI_CELLS)
    assert get(f"{url}/collections/cases/items")[0] == 401
    assert get(f"{url}/collections/cases/items", "kongpu", password="wrong")[0] == 401


def test_bbox_datetime_and_properties_narrow_as_asked(feed):
    url, cases = feed
    june = cases[(cases["reported_at"] >= "2020-06-01") & (cases["reported_at"] < "2020-07-01")]
    _, _, body = get(f"{url}/collections/cases/items", "commander", datetime="2020-06-01/2020-06-30", limit=1)
    assert body["numberMatched"] == len(june)
    box = (121.50, 29.90, 121.55, 29.95)
    located = cases[cases.geometry.notna() & ~cases.geometry.is_empty]
    inside = located.cx[box[0]:box[2], box[1]:box[3]]
    _, _, body = get(f"{url}/collections/cases/items", "commander", bbox=",".join(map(str, box)), limit=1)
    assert body["numberMatched"] == len(inside)
    status, _, body = get(f"{url}/collections/cases/items", "commander", colour="red")
    assert status == 400 and "colour" in body["description"]
    _, _, body = get(f"{url}/collections/hotspots/items", "commander", datetime="2020-01-01/2020-12-31",
                     bin="3", limit=1000)
    assert body["numberMatched"] > 0 and all(f["properties"]["bin"] == 3 for f in body["features"])


def test_the_known_point_in_each_crs_and_phones_by_role(feed):
    url, cases = feed
    item = f"{url}/collections/components/items/{KNOWN}"
    _, headers, body = get(item, "commander")
    assert body["geometry"]["coordinates"] == pytest.approx([121.55, 29.87], abs=1e-9)
    gk = "http://www.opengis.net/def/crs/EPSG/0/4549"
    _, headers, body = get(item, "commander", crs=gk)
    assert headers["Content-Crs"] == f"<{gk}>"
    assert body["geometry"]["coordinates"] == pytest.approx([3306711.728, 649757.548], abs=0.01)
    with_phone = cases.loc[cases["reporter_phone"].notna()].iloc[0]
    one = f"{url}/collections/cases/items/{urllib.parse.quote(with_phone['case_id'])}"
    planner, commander = get(one, "planner")[2]["properties"], get(one, "commander")[2]["properties"]
    assert commander["reporter_phone"] == with_phone["reporter_phone"] and commander["description"]
    assert planner["reporter_phone"] == with_phone["reporter_phone"][:3] + "****" + with_phone["reporter_phone"][-4:]
    assert planner["description"] is None
    assert pd.Timestamp(commander["reported_at"]) == with_phone["reported_at"]


HOSTILE = ["' OR '1'='1", "330205003' OR 1=1 --", "'; DROP TABLE cases; --", '" OR ""="', "%", "_",
           "\\'", "330205003\x00", "' UNION SELECT * FROM users --", "'" * 500]


def test_values_built_to_break_sql_find_nothing_and_break_nothing(feed):
    url, cases = feed
    for value in HOSTILE:
        for layer, field in (("cases", "street_code"), ("cases", "category"), ("grid_cells", "street_code"),
                             ("setback_areas", "estate_id"), ("components", "grid_cell")):
            status, _, body = get(f"{url}/collections/{layer}/items", "commander", **{field: value})
            assert status == 200 and body["numberMatched"] == 0, (layer, field, value)
        status, _, body = get(f"{url}/collections/cases/items/{urllib.parse.quote(value, safe='')}", "commander")
        assert status in (400, 404), value
    # Everything is still there.
    _, _, body = get(f"{url}/collections/cases/items", "commander", limit=1)
    assert body["numberMatched"] == len(cases)
    _, _, body = get(f"{url}/collections/grid_cells/items", "commander", limit=1)
    assert body["numberMatched"] == 596


def test_basic_logins_share_the_failed_login_limit(feed):
    url, _ = feed
    for _ in range(5):
        assert get(f"{url}/collections", "admin", password="guess")[0] == 401
    # Locked now: the right password is refused too, for the lockout's time.
    assert get(f"{url}/collections", "admin")[0] == 401
    assert get(f"{url}/collections", "commander")[0] == 200  # another user is not locked out
