"""The daily brief printed by headless Chromium: pages that are not blank, in Chinese, with the KPIs' figures."""

import re
import shutil
import subprocess
import sys
import time
from datetime import date

import pytest
import rasterio

from layers.areas import Area
from layers.filters import CaseFilter
from layers.kpis import kpis_from_store
from layers.store import open_store
from tests.conftest import printed, printed_pages, serving
from tests.dashboards.test_browser import SCREENSHOTS, log_in


@pytest.mark.browser
def test_the_printed_brief_has_its_pages_and_the_days_figures(demo_store, tmp_path):
    pages, text = printed(["brief", "--date", "2020-11-18", "--store", demo_store], tmp_path)
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


def test_the_page_shows_the_brief_archived_that_day_or_one_made_now(demo_gpkg, tmp_path):
    from dashboards.brief import brief_for_page
    from layers.areas import Area
    from layers.brief import archive_brief

    path = tmp_path / "demo.gpkg"
    shutil.copy(demo_gpkg[0], path)
    street = Area.parse("street:330205003")
    with open_store(str(path)) as store:
        archive_brief(store, date(2020, 11, 18), street.spec(), "<p>孔浦 07:30</p>", made_at="2020-11-18 07:30")
        page, note = brief_for_page(store, date(2020, 11, 18), street)
        assert page == "<p>孔浦 07:30</p>" and "2020-11-18 07:30 生成并存档" in note
        page, note = brief_for_page(store, date(2020, 11, 18), street, fresh=True, now="2026-11-27 09:00")
        assert "孔浦街道" in page and "截至 23:59" in page and "未存档" in note
        # Today's brief, not archived yet, is made as of now.
        page, _ = brief_for_page(store, date(2020, 11, 19), street, now="2020-11-19 10:15")
        assert "截至 10:15" in page


def test_the_briefs_are_due_at_the_hour_or_at_once_when_the_server_starts_late():
    from datetime import datetime, time

    from dashboards.schedule import next_run, parse_hour

    at = parse_hour("07:30")
    assert next_run(datetime(2026, 11, 27, 6, 0), at, made_today=False) == datetime(2026, 11, 27, 7, 30)
    assert next_run(datetime(2026, 11, 27, 9, 0), at, made_today=False) == datetime(2026, 11, 27, 9, 0)
    assert next_run(datetime(2026, 11, 27, 9, 0), at, made_today=True) == datetime(2026, 11, 28, 7, 30)
    assert parse_hour("off") is None and at == time(7, 30)
    with pytest.raises(ValueError, match="not a time of day"):
        parse_hour("7h30")


@pytest.fixture(scope="module")
def served_with_briefs(demo_gpkg, tmp_path_factory):
    """``onemap serve`` on a copy of the demo that makes the day's briefs from midnight: at once."""
    path = tmp_path_factory.mktemp("briefs") / "demo.gpkg"
    shutil.copy(demo_gpkg[0], path)
    log = path.parent / "serve.log"
    with serving(path, log=log, brief_at="00:00") as url:
        yield url, str(path), log


@pytest.mark.browser
def test_the_server_makes_and_archives_the_days_briefs_and_the_page_shows_them(served_with_briefs, chromium_driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from layers.brief import archived

    url, path, log = served_with_briefs
    today = date.today()
    with open_store(path) as store:
        streets = list(store.read("streets")["street_code"])
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and "briefs of" not in log.read_text():
        time.sleep(2)
    assert f"briefs of {today} made" in log.read_text() and f": {len(streets) + 1} of {len(streets) + 1}" in \
        log.read_text()
    assert f"blind spots of {today}: blind spots recorded:" in log.read_text()  # the register first, then the briefs
    with open_store(path) as store:
        for area in ["district", *(f"street:{s}" for s in streets)]:
            assert archived(store, today, area) is not None, area

    # The street's staff opens the brief page: today's brief as the server archived it.
    driver = chromium_driver
    log_in(driver, url, "kongpu")
    driver.get(f"{url}/brief")
    wait = WebDriverWait(driver, 60)
    wait.until(lambda d: "生成并存档" in d.find_element(By.ID, "brief-note").text)
    with open_store(path) as store:
        kept = archived(store, today, "street:330205003")[0]
    assert driver.find_element(By.ID, "brief-frame").get_attribute("srcdoc") == kept

    # The grid leader's brief of a past day, made from the store for her two cells.
    log_in(driver, url, "hongmei")
    driver.get(f"{url}/brief?day=2020-12-29")
    wait.until(lambda d: "未存档" in d.find_element(By.ID, "brief-note").text)
    with open_store(path) as store:
        cells = CaseFilter(start=date(2020, 12, 29), end=date(2020, 12, 29),
                           area=Area.parse("cells:33020500300201,33020500300202")).read_cases(store)
    shown = driver.find_element(By.ID, "brief-frame").get_attribute("srcdoc")
    assert len(cells) > 0 and f"今日受理 <b>{len(cells)}</b> 件" in shown and "红梅社区 2个网格" in shown
    driver.switch_to.frame(driver.find_element(By.ID, "brief-frame"))
    assert "今日要情" in driver.find_element(By.TAG_NAME, "h1").text
    driver.switch_to.default_content()
    SCREENSHOTS.mkdir(exist_ok=True)
    driver.set_window_size(1400, 1400)
    driver.save_screenshot(str(SCREENSHOTS / "brief_page.png"))


@pytest.mark.browser  # the PDF is printed by Chromium
def test_the_page_gives_the_viewers_brief_and_monthly_analysis_from_each_store(demo_store, tmp_path):
    import base64

    from dashboards.app import create_app
    from dashboards.client import for_app
    from demo.users import demo_password

    client = for_app(create_app(demo_store))
    client.log_in("kongpu", demo_password("kongpu"))
    shown = client.call("brief-frame", {"brief-day.date": "2020-11-18", "brief-fresh.value": ["fresh"]},
                        {"brief-lang.data": "zh"}).get_json()["response"]
    street = Area.parse("street:330205003")
    with open_store(demo_store) as store:
        day = CaseFilter(start=date(2020, 11, 18), end=date(2020, 11, 18), area=street).read_cases(store)
        month = kpis_from_store(store, start=date(2021, 2, 1), end=date(2021, 2, 28), area=street)
    assert "孔浦街道" in shown["brief-frame"]["srcDoc"] and f"今日受理 <b>{len(day)}</b> 件" in shown["brief-frame"]["srcDoc"]

    sent = client.call("brief-monthly-file", {"brief-monthly.n_clicks": 1},
                       {"brief-month.value": "2021-02"}).get_json()["response"]["brief-monthly-file"]["data"]
    assert sent["filename"] == "难题月研判_2021-02.pdf"
    pdf = tmp_path / "monthly.pdf"
    pdf.write_bytes(base64.b64decode(sent["content"]))
    pages, text = printed_pages(pdf, tmp_path)
    total = sum(month[g]["received"] for g in ("disputes", "events", "petitions"))
    assert pages and "孔浦街道" in text and re.search(rf"合计\s+{total}\s", text)


def test_the_schedule_asks_again_while_the_store_does_not_answer(tmp_path, monkeypatch):
    from datetime import time as time_of_day

    from dashboards import schedule

    monkeypatch.setattr(schedule, "RETRY_S", 0.1)
    foreign = tmp_path / "notes.gpkg"
    foreign.write_text("not a GeoPackage", encoding="utf-8")
    said = []
    running = schedule.BriefSchedule(str(foreign), time_of_day(0, 0), log=said.append).start()
    time.sleep(1.5)
    running.stop()
    assert len([s for s in said if "the store did not answer" in s]) >= 3 and "not a GeoPackage" in foreign.read_text()
