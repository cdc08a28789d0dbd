"""Every screen the product is used on, in a real headless Chromium at that screen's size.

The hall's wall at 1920×1080, 3840×2160 and 7680×2160; a grid leader's phone (390×844); a laptop
and a 4K monitor for the overview and its charts. At each: the area fills the map, no KPI value or
label is cut, no chart's tick label is cut, and the page is no wider than the screen.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import waiting
from tests.dashboards.test_browser import SCREENSHOTS, log_in, served  # noqa: F401 — served is a fixture

# What a person would see wrong on the screen, measured in the page:
# - fill: the share of the map's width and height the drawn area's cells span (from their own outlines);
# - inside: whether all of them are on the map;
# - clipped: KPI values and labels whose text is wider than their box;
# - cut: chart tick labels and titles that reach past their figure;
# - overflow: how many pixels the page is wider than the window.
MEASURE = """
const mapId = arguments[0];
const out = {clipped: [], cut: [], overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth};
document.querySelectorAll('.kpi-value, .kpi-zh, .kpi-en').forEach(e => {
  if (e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1) out.clipped.push(e.textContent);
});
document.querySelectorAll('.js-plotly-plot').forEach(g => {
  if (g.closest('#' + mapId)) return;
  const box = g.querySelector('.main-svg').getBoundingClientRect();
  g.querySelectorAll('.xtick text, .ytick text, .gtitle, .g-xtitle text, .g-ytitle text').forEach(t => {
    const r = t.getBoundingClientRect();
    if (r.width && (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1))
      out.cut.push(t.textContent);
  });
});
const g = document.querySelector('#' + mapId + ' .js-plotly-plot');
const map = g._fullLayout.map._subplot.map;
let west = 180, east = -180, south = 90, north = -90;
const walk = c => { if (typeof c[0] === 'number') { west = Math.min(west, c[0]); east = Math.max(east, c[0]);
  south = Math.min(south, c[1]); north = Math.max(north, c[1]); } else c.forEach(walk); };
g.data[0].geojson.features.forEach(f => walk(f.geometry.coordinates));
const a = map.project([west, north]), b = map.project([east, south]);
const c = map.getContainer();
out.fill = [(b.x - a.x) / c.clientWidth, (b.y - a.y) / c.clientHeight];
out.inside = a.x >= -1 && a.y >= -1 && b.x <= c.clientWidth + 1 && b.y <= c.clientHeight + 1;
return out;
"""

# The map has been fitted to its element and MapLibre has finished moving there.
FITTED = """
const g = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!g || !g._fullLayout || !g._fullLayout.map || !g.layout.meta || !g.layout.meta.fitted) return false;
const map = g._fullLayout.map._subplot.map;
return !map.isMoving() && Math.abs(map.getZoom() - g.layout.map.zoom) < 0.01;
"""


def on_screen(driver, width, height, *, phone=False):
    """Make the browser's viewport a screen of that size (a phone: touch, and scaled as one)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 2 if phone else 1, "mobile": phone})


def measured(driver, map_id):
    waiting(driver, 60).until(lambda d: d.execute_script(FITTED, map_id))
    time.sleep(1)  # MapLibre paints the last tiles after it stops moving
    return driver.execute_script(MEASURE, map_id)


def assert_fits(found, *, at):
    assert max(found["fill"]) >= 0.7 and found["inside"], f"{at}: the area fills {found['fill']} of the map"
    assert found["clipped"] == [], f"{at}: cut KPI text {found['clipped']}"
    assert found["cut"] == [], f"{at}: cut chart labels {found['cut']}"
    assert found["overflow"] <= 0, f"{at}: the page is {found['overflow']} px wider than the screen"


@pytest.fixture
def screen(chromium_driver):
    yield chromium_driver
    chromium_driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.mark.browser
@pytest.mark.parametrize("width,height", [(1920, 1080), (3840, 2160), (7680, 2160)])
def test_the_wall_fills_the_hall_screen(served, screen, width, height):  # noqa: F811
    from selenium.webdriver.common.by import By

    from layers.areas import Area
    from layers.store import open_store
    from layers.users import add_kiosk

    url, path = served
    with open_store(path) as store:
        _, token = add_kiosk(store, area=Area.parse("district"), view="from=2020-01-01&to=2020-12-31")
    screen.get(f"{url}/logout")
    on_screen(screen, width, height)
    screen.get(f"{url}/wall?kiosk={token}")
    waiting(screen, 60).until(lambda d: d.find_element(By.ID, "wall-kpi-disputes-received").text == "2,377")
    found = measured(screen, "wall-map")
    assert_fits(found, at=f"wall {width}×{height}")
    # Type grows with the screen: the tiles' figures are as readable from the back of a bigger hall.
    size = screen.execute_script(
        "return parseFloat(getComputedStyle(document.getElementById('wall-kpi-disputes-received')).fontSize);")
    assert size >= 34 * min(width / 1920, height / 1080) * 0.9
    legend = screen.execute_script(
        "return document.querySelector('#wall-map .js-plotly-plot')._fullLayout.legend.font.size;")
    assert legend >= 14 * min(width / 1920, height / 1080)
    # Nothing below the screen's edge: the wall is one screen.
    assert screen.execute_script("return document.documentElement.scrollHeight;") <= height
    SCREENSHOTS.mkdir(exist_ok=True)
    screen.save_screenshot(str(SCREENSHOTS / f"wall_{width}x{height}.png"))


@pytest.mark.browser
def test_a_grid_leader_works_from_a_phone(served, screen):  # noqa: F811
    from selenium.webdriver.common.by import By

    url, _ = served
    on_screen(screen, 390, 844, phone=True)
    log_in(screen, url, "hongmei")
    screen.get(f"{url}/?from=2020-01-01&to=2020-12-31")
    wait = waiting(screen, 60)
    wait.until(lambda d: d.find_element(By.ID, "overview-kpi-disputes-received").text)
    found = measured(screen, "overview-map")
    assert_fits(found, at="phone 390×844")
    top = screen.execute_script("""
        const r = id => document.getElementById(id).getBoundingClientRect();
        const h = document.querySelector('.header').getBoundingClientRect();
        return {header: h.height, map: r('overview-map').top, tiles: r('overview-kpis').top,
                table: r('overview-table').top, filters: document.querySelector('.filter-drawer').offsetHeight};""")
    # The header is one line, the filters wait in their drawer, and the map comes first, the latest cases below.
    assert top["header"] <= 60, top
    assert top["filters"] == 0, top
    assert top["map"] < top["tiles"] < top["table"], top
    # The drawer opens and closes at a touch, and so does the header's menu (its links and the logout).
    for button, drawer in ((".overview > .drawer-open", ".filter-drawer"), (".header .drawer-open", ".header .who")):
        screen.find_element(By.CSS_SELECTOR, button).click()
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, drawer).is_displayed())
        if drawer == ".header .who":
            assert screen.find_element(By.CSS_SELECTOR, ".header .who a[href='/logout']").is_displayed()
        screen.find_element(By.CSS_SELECTOR, button).click()
        wait.until(lambda d: not d.find_element(By.CSS_SELECTOR, drawer).is_displayed())
    SCREENSHOTS.mkdir(exist_ok=True)
    screen.save_screenshot(str(SCREENSHOTS / "overview_phone_grid_leader.png"))


@pytest.mark.browser
@pytest.mark.parametrize("width,height,lang", [(1600, 1000, "zh"), (1600, 1000, "en"), (3840, 2160, "zh")])
def test_the_overview_and_its_charts_on_a_desk(served, screen, width, height, lang):  # noqa: F811
    from selenium.webdriver.common.by import By

    url, _ = served
    on_screen(screen, width, height)
    log_in(screen, url, "commander")
    screen.get(f"{url}/?from=2020-01-01&to=2020-12-31&lang={lang}")
    waiting(screen, 60).until(lambda d: d.find_element(By.ID, "overview-kpi-disputes-received").text == "2,377")
    found = measured(screen, "overview-map")
    assert_fits(found, at=f"overview {width}×{height} {lang}")
    titles = screen.execute_script(
        "return [...document.querySelectorAll('.charts .gtitle')].map(t => t.textContent);")
    if lang == "en":  # every chart's title in English
        assert all(not any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in titles), titles
    screen.execute_script("document.querySelector('.charts').scrollIntoView();")
    time.sleep(0.5)
    SCREENSHOTS.mkdir(exist_ok=True)
    screen.save_screenshot(str(SCREENSHOTS / f"overview_charts_{width}_{lang}.png"))


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/remediation", "/blindspots", "/brief"])
def test_every_other_page_fits_a_phone(served, screen, path):  # noqa: F811
    """The other pages a street worker opens: the header in one line with its menu, nothing wider than the phone
    (a wide table scrolls in its own box)."""
    from selenium.webdriver.common.by import By

    url, _ = served
    on_screen(screen, 390, 844, phone=True)
    log_in(screen, url, "kongpu")
    screen.get(url + path)
    waiting(screen, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".header h1"))
    time.sleep(2)
    found = screen.execute_script(
        "return {overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,"
        " header: document.querySelector('.header').getBoundingClientRect().height};")
    assert found["overflow"] <= 0 and found["header"] <= 60, found
    screen.save_screenshot(str(SCREENSHOTS / f"phone{path.replace('/', '_')}.png"))
