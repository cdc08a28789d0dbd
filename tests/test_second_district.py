"""A second, small, made-up district, end to end: nothing in the product assumes Jiangbei.

示范区 (Shifan) of a made-up city: two streets, four communities, eight grid cells, far from
Ningbo. It is loaded and ingested through the command line as a new centre would, and every
page, the brief and an export show its own name and place.
"""

from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from demo.users import demo_password

CENTRE = (104.05, 30.65)  # far from Jiangbei (121.5, 29.9)
DAY = "2024-05-20"


def made_up_district(folder):
    """The geography GeoPackage and a 12345 export of the made-up district."""
    x0, y0 = CENTRE
    streets, communities, cells = [], [], []
    for s, (street_name, dx) in enumerate((("青松街道", 0.0), ("白鹭镇", 0.04))):
        street_code = f"999901{s + 1:03d}"  # a street's code begins with its district's (GB/T 10114)
        streets.append({"street_code": street_code, "name": street_name, "kind": "subdistrict",
                        "geometry": box(x0 + dx, y0, x0 + dx + 0.04, y0 + 0.04)})
        for c, community_name in enumerate(("翠竹社区", "红枫社区") if s == 0 else ("芦花村", "荷塘村")):
            community_code = f"{street_code}{c + 1:03d}"
            cx, cy = x0 + dx + 0.02 * c, y0
            communities.append({"community_code": community_code, "name": community_name, "official_name": community_name,
                                "street_code": street_code, "kind": "urban", "population": 3000,
                                "geometry": box(cx, cy, cx + 0.02, cy + 0.04)})
            for k in range(2):
                cells.append({"grid_cell": f"{community_code}{k + 1:03d}", "name": f"{community_name}第{k + 1}网格",
                              "community_code": community_code, "street_code": street_code, "kind": "general",
                              "population": 1500, "geometry": box(cx, cy + 0.02 * k, cx + 0.02, cy + 0.02 * (k + 1))})
    district = [{"district_code": "999901", "name": "示范区", "name_en": "Shifan",
                 "address_prefix": "中国 四川省 示范市 示范区", "elsewhere": "",
                 "geometry": box(x0, y0, x0 + 0.08, y0 + 0.04)}]
    path = folder / "shifan.gpkg"
    for name, rows in (("district", district), ("streets", streets), ("communities", communities),
                       ("grid_cells", cells)):
        gpd.GeoDataFrame(rows, crs="EPSG:4490").to_file(path, layer=name, driver="GPKG")
    export = folder / "hotline.csv"
    rows = [{"工单编号": f"SF{i:04d}", "来电时间": f"2024/05/{19 + i % 2} 09:{i:02d}:00", "派单时间": "", "办结时间": "",
             "诉求类别": "噪声扰民", "诉求内容": "楼上装修", "事发地址": f"四川省示范市示范区青松街道翠竹社区{i + 1}号",
             "来电号码": f"1330000{i:04d}", "办理状态": "已受理", "受理层级": "村社", "化解层级": "村社",
             "是否就地化解": "否"} for i in range(6)]
    pd.DataFrame(rows).to_csv(export, index=False, encoding="gbk")
    return path, export


def text_of(answer) -> str:
    """A callback's answer as text a person reads (Dash escapes Chinese in its JSON)."""
    return json.dumps(answer.get_json(), ensure_ascii=False)


def onemap(*args):
    done = subprocess.run([sys.executable, "-m", "onemap.cli", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def shifan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shifan")
    geography, export = made_up_district(folder)
    store = str(folder / "store.gpkg")
    onemap("load-geography", str(geography), "--store", store)
    said = onemap("ingest", str(export), "--source", "hotline_12345", "--store", store, "--json")
    assert '"stored": 6' in said
    subprocess.run([sys.executable, "-m", "onemap.cli", "user", "add", "chief", "--role", "commander",
                    "--area", "district", "--password-stdin", "--store", store],
                   input=demo_password("commander") + "\n", text=True, check=True, capture_output=True)
    return store, folder


def test_the_cases_are_placed_in_the_made_up_district(shifan):
    from layers.store import open_store

    with open_store(shifan[0]) as store:
        cases = store.read("cases")
    assert len(cases) == 6 and set(cases["community_code"]) == {"999901001001"}  # 翠竹社区, from the address


def test_every_page_shows_the_districts_own_name(shifan):
    from dashboards.app import create_app
    from dashboards.client import for_app

    app = create_app(shifan[0])
    client = for_app(app)
    login_page = client.http.get("/login").get_data(as_text=True)
    assert "示范区社会治理一张图" in login_page and "江北" not in login_page
    assert client.log_in("chief", demo_password("commander")).status_code == 302
    for path in ("/", "/?lang=en", "/wall", "/brief", "/remediation"):
        answer = client.call("_pages_content", {"_pages_location.pathname": path.split("?")[0],
                                                "_pages_location.search": "?lang=en" if "lang" in path else ""})
        page = text_of(answer)
        assert answer.status_code == 200 and "Internal error" not in page, (path, page[:300])
        assert "江北" not in page and "Jiangbei" not in page, path
    overview = client.call("_pages_content", {"_pages_location.pathname": "/", "_pages_location.search": ""})
    assert "示范区社会治理一张图" in text_of(overview)
    english = client.call("_pages_content", {"_pages_location.pathname": "/", "_pages_location.search": "?lang=en"})
    assert "Shifan one map" in text_of(english)


def test_the_brief_and_an_export_are_of_the_made_up_district(shifan):
    import pyogrio

    store, folder = shifan
    brief = folder / "brief.html"
    onemap("brief", "--date", DAY, "--out", str(brief), "--store", store)
    text = brief.read_text(encoding="utf-8")
    assert "示范区" in text and "江北" not in text
    out = folder / "cases.gpkg"
    onemap("export", "cases", "--from", "2024-01-01", "--to", "2024-12-31", "--out", str(out), "--store", store)
    cases = pyogrio.read_dataframe(out)
    minx, miny, maxx, maxy = cases.total_bounds
    assert len(cases) == 6 and CENTRE[0] <= minx <= maxx <= CENTRE[0] + 0.08
    page = folder / "map.html"
    onemap("export", "grid_cells", "--format", "html", "--crs", "wgs84", "--out", str(page), "--store", store)
    html = page.read_text(encoding="utf-8")
    assert "江北" not in html and json.dumps("翠竹社区第1网格") in html  # folium writes its data as JSON
