"""The monthly analysis printed by headless Chromium, from each store: pages with ink, the month's figures."""

import re
import subprocess
import sys
from datetime import date

import pytest
import rasterio

from layers.kpis import kpis_from_store
from layers.store import open_store
from tests.conftest import printed


@pytest.mark.browser
def test_the_printed_monthly_analysis_holds_the_months_figures(demo_store, tmp_path):
    pages, text = printed(["monthly", "--month", "2021-02", "--store", demo_store], tmp_path)
    assert 2 <= len(pages) <= 6
    for page in pages:
        with rasterio.open(page) as image:
            assert (image.read(1) < 128).mean() > 0.005  # not a blank page
    with open_store(demo_store) as store:
        figures = [kpis_from_store(store, start=a, end=b) for a, b in (
            (date(2021, 2, 1), date(2021, 2, 28)), (date(2021, 1, 1), date(2021, 1, 31)),
            (date(2020, 2, 1), date(2020, 2, 29)))]
    totals = [sum(f[g]["received"] for g in ("disputes", "events", "petitions")) for f in figures]
    row = re.search(r"合计\s+(\d+)\s+(\d+)\s+\S+\s+(\d+)", text)
    assert row and [int(n) for n in row.groups()] == totals  # this month, last month, a year before
    for title in ("本月概况", "高发、同质化问题", "疑难案件", "靶向治理进展与成效", "盲点清单及变化"):
        assert title in text
    assert re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text) is None  # no phone number


def test_a_month_that_is_not_a_month_is_refused_by_name(tmp_path):
    done = subprocess.run([sys.executable, "-m", "onemap.cli", "monthly", "--month", "2021-13", "--out",
                           str(tmp_path / "m.html"), "--store", str(tmp_path / "none.gpkg")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0 and "not a month (YYYY-MM): '2021-13'" in done.stderr
