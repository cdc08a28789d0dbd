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


@pytest.mark.browser
def test_the_printed_brief_has_its_pages_and_the_days_figures(demo_gpkg, tmp_path):
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm missing (Debian: poppler-utils)")
    pdf = tmp_path / "brief.pdf"
    done = subprocess.run([sys.executable, "-m", "onemap.cli", "brief", "--date", "2020-11-18", "--out", str(pdf),
                           "--store", demo_gpkg[0]], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert 1 <= len(pages) <= 2  # one to two A4 pages
    for page in pages:
        with rasterio.open(page) as image:
            ink = image.read(1)
        assert (ink < 128).mean() > 0.01  # text and tables, not a blank page
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    with open_store(demo_gpkg[0]) as store:
        kpis = kpis_from_store(store, start=date(2020, 11, 18), end=date(2020, 11, 18))
    received = sum(kpis[g]["received"] for g in ("disputes", "events", "petitions"))
    assert "今日要情" in text and f"今日受理 {received} 件" in text
    assert re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text) is None  # no phone number in the brief
