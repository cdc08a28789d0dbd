"""The daily brief printed by headless Chromium: pages that are not blank, in Chinese, with the KPIs' figures."""

import re
import shutil
import subprocess
import sys
from datetime import date

import pytest
import rasterio

from layers.kpis import kpis_from_store
from layers.store import open_store
from tests.conftest import printed_pages


@pytest.mark.browser
def test_the_printed_brief_has_its_pages_and_the_days_figures(demo_store, tmp_path):
    pdf = tmp_path / "brief.pdf"
    done = subprocess.run([sys.executable, "-m", "onemap.cli", "brief", "--date", "2020-11-18", "--out", str(pdf),
                           "--store", demo_store], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    pages, text = printed_pages(pdf, tmp_path)
    assert 1 <= len(pages) <= 2  # one to two A4 pages
    for page in pages:
        with rasterio.open(page) as image:
            ink = image.read(1)
        assert (ink < 128).mean() > 0.01  # text and tables, not a blank page
    with open_store(demo_store) as store:
        kpis = kpis_from_store(store, start=date(2020, 11, 18), end=date(2020, 11, 18))
    received = sum(kpis[g]["received"] for g in ("disputes", "events", "petitions"))
    assert "今日要情" in text and f"今日受理 {received} 件" in text
    assert "新增和加剧的热点" in text and "今日 %d 件" % received in text  # the map's key counts the day's cases
    page_one = pages[0]
    with rasterio.open(page_one) as image:
        red, green, blue = image.read(1).astype(int), image.read(2).astype(int), image.read(3).astype(int)
    assert ((red - green > 80) & (red - blue > 80)).sum() > 50  # the map's heat and red points are on page one
    assert re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text) is None  # no phone number in the brief


def test_yesterdays_brief_reads_as_it_was_made(demo_gpkg, tmp_path):
    store_path = tmp_path / "demo.gpkg"
    shutil.copy(demo_gpkg[0], store_path)

    def brief(*more):
        out = tmp_path / f"b{len(list(tmp_path.glob('b*.html')))}.html"
        done = subprocess.run([sys.executable, "-m", "onemap.cli", "brief", "--date", "2020-11-18", "--street", "孔浦街道",
                               "--out", str(out), "--store", str(store_path), *more], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return out.read_text(encoding="utf-8")

    made = brief("--as-of", "2020-11-18 17:30:00")
    assert "孔浦街道" in made and "截至 17:30" in made
    # The day goes on; the brief made at 17:30 is still the one on record.
    assert brief("--archived") == made
