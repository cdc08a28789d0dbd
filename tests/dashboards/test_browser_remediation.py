"""The remediation loop in a real headless Chromium, as street staff and a commander work it: a hot cell clicked
on the map, an order opened on a setback area there, taken to handed over; the register, the setback area,
the map's layer of orders and the wall's panel all show it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from demo.blind_spots import record_demo_blind_spots
from layers.filters import CaseFilter
from layers.store import Condition, open_store
from tests.conftest import demo_copy, serving, waiting
from tests.dashboards.test_browser import log_in

# Written where the other browser tests write theirs (not tracked); docs/ holds copies looked at by hand.
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
STREET = "330205003"  # kongpu's
YEAR = "from=2020-01-01&to=2020-12-31"


def hot_cell_with_a_setback_area(store) -> tuple[str, str]:
    """The street's busiest cell of 2020 that touches an unmanaged setback area, and that area."""
    cases = CaseFilter.from_query({"from": "2020-01-01", "to": "2020-12-31", "street": STREET}).read_cases(store)
    cells = store.read("grid_cells", [Condition("street_code", "=", STREET)]).set_index("grid_cell")
    areas = store.read("setback_areas", [Condition("status", "=", "unmanaged")])
    for cell in cases["grid_cell"].value_counts().index:
        touching = areas[areas.intersects(cells.geometry[cell])]
        if len(touching):
            return cell, touching.iloc[0]["setback_area"]
    raise AssertionError("no cell of the street touches an unmanaged setback area")


def take_step(driver, wait, url, order, step, **fields):
    """Open /remediation, choose the order in its table, take ``step`` with the ``fields`` typed in."""
    from selenium.webdriver.common.by import By

    driver.get(f"{url}/remediation")
    row = wait.until(lambda d: next((r for r in d.find_elements(By.CSS_SELECTOR, "#remediation-orders tbody tr")
                                     if order in r.text), None))
    row.find_element(By.CSS_SELECTOR, "td.dash-select-cell input").click()
    wait.until(lambda d: order in d.find_element(By.ID, "remediation-chosen-title").text)
    choice = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f"#remediation-step input[value='{step}']"))
    choice.click()
    for element_id, text in fields.items():
        box = driver.find_element(By.ID, element_id)
        box.clear()
        box.send_keys(text)
    driver.find_element(By.ID, "remediation-advance").click()
    wait.until(lambda d: "form-ok" in d.find_element(By.ID, "remediation-advance-message").get_attribute("innerHTML"))


@pytest.mark.browser
def test_street_staff_and_a_commander_work_a_remediation_from_the_map_to_the_handover(demo_gpkg, tmp_path, request,
                                                                                       chromium_driver):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    spec = demo_copy("gpkg", demo_gpkg, tmp_path, request)
    with open_store(spec) as store:
        record_demo_blind_spots(store)
        cell, area = hot_cell_with_a_setback_area(store)
        community = store.read("grid_cells", [Condition("grid_cell", "=", cell)])["community_code"].iat[0]
    driver = chromium_driver
    driver.set_window_size(1600, 1000)
    SHOTS.mkdir(exist_ok=True)
    with serving(spec) as url:
        wait = waiting(driver, 60)
        # Street staff: the hot cell on the map, clicked.
        log_in(driver, url, "kongpu")
        driver.get(f"{url}/?{YEAR}&street={STREET}&community={community}&cell={cell}&layers=heat")
        canvas = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#overview-map canvas.maplibregl-canvas")))
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", canvas)
        time.sleep(3)  # MapLibre paints the cell before a click can hit it
        ActionChains(driver).move_to_element_with_offset(canvas, 0, 0).click().perform()
        wait.until(ec.visibility_of_element_located((By.ID, "overview-details-remediate")))
        driver.save_screenshot(str(SHOTS / "remediation-1-map-click.png"))
        # 立项治理 on the setback area the cell touches: the form comes filled in with the place and problem.
        link = next(a for a in driver.find_elements(By.CSS_SELECTOR, "#overview-details .details-places a")
                    if f"place={area}" in a.get_attribute("href"))
        link.click()
        measures = wait.until(ec.visibility_of_element_located((By.ID, "remediation-measures")))
        assert driver.find_element(By.CSS_SELECTOR, "#remediation-place-kind input[value='setback_area']").is_selected()
        measures.send_keys("拆除违建，划设停车位，移交物业管理")
        unit = driver.find_element(By.ID, "remediation-unit")
        if not unit.get_attribute("value"):
            unit.send_keys("孔浦街道城市管理科")
        driver.save_screenshot(str(SHOTS / "remediation-2-form.png"))
        driver.find_element(By.ID, "remediation-open").click()
        message = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#remediation-open-message .form-ok")).text
        order = message.split(": ")[1]
        wait.until(lambda d: order in d.find_element(By.ID, "remediation-orders").text)

        # The commander approves; street staff start the works; the commander accepts; street staff hand over.
        log_in(driver, url, "commander")
        take_step(driver, wait, url, order, "approved", **{"remediation-step-note": "同意立项"})
        log_in(driver, url, "kongpu")
        take_step(driver, wait, url, order, "in_progress")
        with open_store(spec) as store:
            assert store.read("setback_areas", [Condition("setback_area", "=", area)])["status"].iat[0] == "in_renovation"
        log_in(driver, url, "commander")
        take_step(driver, wait, url, order, "accepted", **{"remediation-step-note": "验收合格"})
        log_in(driver, url, "kongpu")
        take_step(driver, wait, url, order, "handed_over", **{"remediation-handover": "孔浦物业管理中心"})
        # The order's panel is drawn again by the next callback, after the step's message: waited for.
        steps = wait.until(lambda d: (t := d.find_element(By.ID, "remediation-chosen-steps").text).count("\n") == 4 and t)
        assert steps.count("\n") == 4 and "孔浦物业管理中心" in steps and "验收合格" in steps
        assert "已移交" in next(r.text for r in driver.find_elements(By.CSS_SELECTOR, "#remediation-orders tbody tr")
                               if order in r.text)
        driver.save_screenshot(str(SHOTS / "remediation-3-handed-over.png"))

        # The map's layer of orders shows it handed over, on its place.
        driver.get(f"{url}/?{YEAR}&street={STREET}&community={community}&cell={cell}&layers=remediations")
        names = wait.until(lambda d: [n for n in d.execute_script(
            "const g = document.querySelector('#overview-map .js-plotly-plot');"
            "return g && g._fullData ? g._fullData.map(t => t.name || '') : [];") if n.startswith("治理工单")])
        assert names == ["治理工单 Remediation orders · handed_over"]
        driver.execute_script("document.getElementById('overview-map').scrollIntoView({block: 'center'});")
        time.sleep(2)
        driver.save_screenshot(str(SHOTS / "remediation-4-map-layer.png"))

        # The wall's panel, for the street: this year's handed-over order and the setback area handed over.
        with open_store(spec) as store:
            handed = int((store.read("setback_areas", [Condition("street_code", "=", STREET)])["status"]
                          == "handed_over").sum())
        driver.get(f"{url}/wall")
        wait.until(lambda d: d.find_element(By.ID, "wall-rem-state-handed_over").text == "1")
        assert driver.find_element(By.ID, "wall-rem-setback-handed_over").text == str(handed)
        time.sleep(1)
        driver.save_screenshot(str(SHOTS / "remediation-5-wall.png"))

        # The blind spots there, with their state in the register, on the map and on their page.
        driver.get(f"{url}/?{YEAR}&street={STREET}&layers=blind_spots")
        hovers = wait.until(lambda d: d.execute_script(
            "const g = document.querySelector('#overview-map .js-plotly-plot');"
            "return g && g._fullData ? g._fullData.filter(t => (t.name || '').startsWith('盲点'))"
            ".flatMap(t => [].concat(t.hovertext || t.text || [])) : [];"))
        assert hovers and all("新发现 New" in h for h in hovers), hovers[:3]
        driver.get(f"{url}/blindspots")
        row = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#blindspots-table tbody td.dash-select-cell input"))
        row.click()
        wait.until(lambda d: d.find_element(By.ID, "blindspots-chosen-title").text)
        driver.save_screenshot(str(SHOTS / "blind-spots-page.png"))
    with open_store(spec) as store:
        followed = store.read("setback_areas", [Condition("setback_area", "=", area)]).iloc[0]
        audit = store.read("audit", [Condition("record", "=", order)])
    assert (followed["status"], followed["managing_unit"]) == ("handed_over", "孔浦物业管理中心")
    assert sorted(audit["actor"]) == ["commander", "commander", "kongpu", "kongpu", "kongpu"]
