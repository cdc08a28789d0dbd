"""The daily brief's section of overdue remediation orders, on the page and printed."""

import re
from datetime import date

import pytest

from dashboards.brief import brief_html
from layers.brief import brief_from_store
from layers.store import Condition, open_store
from tests.conftest import printed
from tests.layers.orders_demo import KONGPU, WAITAN, writable_demo


@pytest.fixture(scope="module", params=["gpkg"])
def worked(request, demo_gpkg, tmp_path_factory):
    """The demo with the five orders of ``orders_demo`` in 孔浦街道 (a GeoPackage: the section is laid out the
    same from either store, whose figures tests/layers/test_brief_orders.py compares)."""
    yield from writable_demo(request, demo_gpkg, tmp_path_factory, "briefpage")


def test_the_brief_page_lists_the_overdue_orders_or_says_there_are_none(worked):
    spec, ids = worked
    with open_store(spec) as store:
        kongpu = brief_html(brief_from_store(store, date(2021, 2, 28), KONGPU.area))
        waitan = brief_html(brief_from_store(store, date(2021, 2, 28), WAITAN.area))
        place = store.read("remediations").set_index("remediation_id")["place"]
        cell, setback = place[ids["carried"]], place[ids["works"]]
        cell_name = store.read("grid_cells", [Condition("grid_cell", "=", cell)])["name"].iat[0]
        setback_name = store.read("setback_areas", [Condition("setback_area", "=", setback)])["name"].iat[0]
    section = kongpu[kongpu.index("逾期治理工单"):kongpu.index("新增和加剧的热点")]
    assert "仍未验收的靶向治理工单 <b>2</b> 件" in section
    for heading in ("地点", "问题类别", "责任单位", "计划完成", "逾期天数", "当前状态"):
        assert f"<th>{heading}</th>" in section
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in section.split("<tr>")[2:]]
    assert rows == [[f"{cell_name}（{cell}）", "占道经营", "孔浦街道综合执法队", "2020-12-31", "59", "已批准"],
                    [f"{setback_name}（{setback}）", "物业纠纷", "孔浦街道城市管理科", "2021-02-19", "9", "整治中"]]
    waitan_section = waitan[waitan.index("逾期治理工单"):waitan.index("新增和加剧的热点")]
    assert "无逾期的靶向治理工单" in waitan_section and "<table>" not in waitan_section


@pytest.mark.browser  # printed by Chromium
def test_the_printed_brief_carries_the_overdue_orders(worked, tmp_path):
    spec, _ = worked
    pages, text = printed(["brief", "--date", "2021-02-28", "--street", "孔浦街道", "--store", spec], tmp_path)
    assert 1 <= len(pages) <= 2
    assert "逾期治理工单" in text and "孔浦街道综合执法队" in text and "2020-12-31" in text and "已批准" in text
