"""The HTML export opened in headless Chromium: it draws every feature with no network."""

from datetime import date
from pathlib import Path

import pytest

from layers.export import export_layers, layer_frame
from layers.filters import CaseFilter
from layers.html_map import html_map

STREET = CaseFilter(start=date(2020, 12, 1), end=date(2020, 12, 31), street_code="330205003")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def test_the_page_fetches_nothing_and_carries_leaflet(store_copy):
    page = html_map({"grid_cells": layer_frame(store_copy, "grid_cells", STREET)})
    assert "<script src=" not in page and 'rel="stylesheet"' not in page and "cdn." not in page
    assert "L.map(" in page and "Leaflet" in page and "url(data:image/png;base64," in page


@pytest.mark.browser
def test_the_exported_map_draws_each_feature_offline_in_chromium(store_copy, tmp_path, chromium_driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    counts = export_layers(store_copy, ["grid_cells", "setback_areas", "cases"], tmp_path / "m.html",
                           fmt="html", f=STREET)
    assert all(counts.values())
    driver = chromium_driver
    driver.get((tmp_path / "m.html").as_uri())
    expected = sum(counts.values())
    # Polygons and the cases' circle markers are each one SVG path Leaflet marks interactive.
    WebDriverWait(driver, 30).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive")) >= expected)
    assert len(driver.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive")) == expected
    labels = driver.find_element(By.CSS_SELECTOR, ".leaflet-control-layers").text
    assert "网格 · Grid cells" in labels and "退红空间 · Setback areas" in labels and "案件 · Cases" in labels
    assert driver.execute_script("return document.querySelectorAll('script[src], link[href]').length") == 0
    # The shapes fill the window one way or the other: the map was fitted to them.
    filled = driver.execute_script("""
        const r = [...document.querySelectorAll('path.leaflet-interactive')].map(p => p.getBoundingClientRect());
        const wide = Math.max(...r.map(b => b.right)) - Math.min(...r.map(b => b.left));
        const tall = Math.max(...r.map(b => b.bottom)) - Math.min(...r.map(b => b.top));
        return Math.max(wide / window.innerWidth, tall / window.innerHeight);""")
    SCREENSHOTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "html_export.png"))
    assert filled > 0.6
