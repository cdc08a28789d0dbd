"""Shared fixtures: the demo district, the real PostGIS server, headless Chromium.

With ONEMAP_REQUIRE_SERVICES=1 (as .ci/run sets) a missing server or browser
fails the test; elsewhere it skips with a one-line reason.

After the whole run, what the product wrote on the side is searched for phone numbers: every log
record of this process, every server's output, every file a server left in its temporary folder
(each ``serving`` gets one of its own), and the dashboard's export folder. One found fails the run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import pytest

REQUIRE = os.environ.get("ONEMAP_REQUIRE_SERVICES") == "1"
PG_URL = os.environ.get("ONEMAP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
# The demo as of a fixed day: 2020 closed out and two months of 2021, quick to build.
DEMO_UNTIL = "2021-03-01 12:00:00"


# What a mobile number looks like (11 digits from 13…19), not inside a longer run of digits.
PHONE_SHAPED = re.compile(rb"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
_SIDE = tempfile.mkdtemp(prefix="onemap-test-side-")  # server logs and server temporary folders, searched at the end


class _Kept(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(self.format(record))


_KEPT = _Kept()


def pytest_sessionstart(session):
    logging.getLogger().addHandler(_KEPT)
    logging.getLogger().setLevel(min(logging.getLogger().level or logging.WARNING, logging.INFO))


def waiting(driver, seconds: float):
    """A wait on the page that looks again when what it found was redrawn meanwhile (a wall's refresh, a
    callback's answer): a stale element is not a failure, only a reason to look again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,))


def phone_shaped_in(folder) -> list[tuple[str, bytes]]:
    """(file, number) for each phone-shaped string in the files under ``folder``, zip members read as they are."""
    found = []
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with contextlib.suppress(OSError):
                data = open(path, "rb").read()
                found += [(path, m) for m in PHONE_SHAPED.findall(data)]
    return found


def pytest_sessionfinish(session, exitstatus):
    from dashboards.download import EXPORT_ROOT

    logging.getLogger().removeHandler(_KEPT)
    leaks = [("log record", m) for text in _KEPT.records for m in PHONE_SHAPED.findall(text.encode())]
    leaks += phone_shaped_in(_SIDE)
    left = [str(p) for p in EXPORT_ROOT.glob("*")] if EXPORT_ROOT.is_dir() else []
    if leaks or left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_line(f"personal data left on the side: {leaks[:5]} ({len(leaks)} in all); "
                            f"exports left: {left[:5]}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        shutil.rmtree(_SIDE, ignore_errors=True)


def _unavailable(reason):
    if REQUIRE:
        pytest.fail(f"{reason} (ONEMAP_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@contextlib.contextmanager
def _postgis_schema(prefix: str):
    """A schema of its own on the real PostGIS server, dropped afterwards; its store URL."""
    psycopg = pytest.importorskip("psycopg")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(PG_URL, connect_timeout=5, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        _unavailable(f"PostGIS not available at {PG_URL}: {str(exc).strip().splitlines()[0]}")
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def postgis_url():
    """A fresh schema on the real PostGIS server, dropped afterwards."""
    with _postgis_schema("t") as url:
        yield url


@pytest.fixture
def replica():
    """A PostgreSQL primary with PostGIS and a hot standby streaming from it, both this test's own
    (``tests/layers/replication.py``): the test may stop the primary. Removed after."""
    pytest.importorskip("psycopg")
    from tests.layers.replication import missing, replicated

    reason = missing()
    if reason:
        _unavailable(reason)
    with replicated() as pair:
        yield pair


@pytest.fixture(params=["gpkg", "postgis"])
def store(request, tmp_path):
    """Each store backend in turn, empty."""
    from layers.store import open_store

    if request.param == "gpkg":
        spec = str(tmp_path / "store.gpkg")
    else:
        spec = request.getfixturevalue("postgis_url")
    s = open_store(spec)
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory):
    from demo.build import build_demo

    return build_demo(tmp_path_factory.mktemp("demo"), seed=2020, until=DEMO_UNTIL)


def ingest_demo(built, store):
    from etl.geography import load_geography, load_responsibilities
    from etl.ingest import ingest_many
    from etl.profiles import read_profile

    load_geography(built["geography"], store)
    load_responsibilities(built["responsibilities"], store)
    return ingest_many([(p, read_profile(c)) for c, p in built["exports"].items()], store)


@pytest.fixture(scope="session")
def demo_gpkg(demo_build, tmp_path_factory):
    """A GeoPackage store holding the ingested demo; its path and the ingest report."""
    from demo.remediations import create_demo_remediations
    from demo.users import create_demo_users
    from layers.store import open_store

    path = tmp_path_factory.mktemp("store") / "demo.gpkg"
    with open_store(str(path)) as store:
        report = ingest_demo(demo_build, store)
        create_demo_users(store)
        create_demo_remediations(store)
    return str(path), report


@pytest.fixture(scope="session")
def demo_postgis(demo_gpkg):
    """The demo in a schema of its own on the PostGIS server, for the session; its store URL."""
    with _postgis_schema("demo") as url:
        copy_store(demo_gpkg[0], url)
        yield url


@pytest.fixture(params=["gpkg", "postgis"])
def demo_store(request, demo_gpkg, tmp_path):
    """The demo in each store in turn (the GeoPackage a copy this test may write to); its spec."""
    if request.param == "postgis":
        return request.getfixturevalue("demo_postgis")
    path = tmp_path / "demo.gpkg"
    shutil.copy(demo_gpkg[0], path)
    return str(path)


@pytest.fixture
def redis_url():
    """The real Redis the servers of a store share (``ONEMAP_TEST_REDIS``, else 127.0.0.1:6379, database 0).

    Each store's keys are named by its own secret, so tests on stores of their own never see each other's.
    """
    redis = pytest.importorskip("redis")
    url = os.environ.get("ONEMAP_TEST_REDIS", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        _unavailable(f"Redis not available at {url}: {exc}")
    return url


@pytest.fixture(scope="session")
def chromium_driver():
    """A headless Chromium driven through chromedriver, with software WebGL for the map."""
    webdriver = pytest.importorskip("selenium.webdriver")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        _unavailable("headless Chromium or chromedriver not installed (Debian: chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1600,1000", "--lang=zh-CN"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


@contextlib.contextmanager
def serving(store_path, log=None, workers=1, brief_at="off", extra=(), env=None):
    """``onemap serve`` on a store, in its own process as in production; yields its base URL.

    In a process of its own, so the server's sockets never share descriptor
    numbers with the test process's database connections. ``log``: a file for what the server prints;
    ``brief_at``: when the server makes the day's briefs (off unless a test is about them); ``env``: variables
    set for the server beside the test's own.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Its output and its temporary files go where the end of the run searches them for phone numbers.
    side = tempfile.mkdtemp(dir=_SIDE, prefix="serve-")
    os.makedirs(os.path.join(side, "tmp"))
    log = log or os.path.join(side, "serve.log")
    out = open(log, "w")
    proc = subprocess.Popen([sys.executable, "-m", "onemap.cli", "serve", "--store", str(store_path),
                             "--port", str(port), "--workers", str(workers), "--brief-at", brief_at, *extra],
                            stdout=out, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {}), "TMPDIR": os.path.join(side, "tmp")})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/login", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"onemap serve exited with {proc.returncode}") from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(20)
        out.close()
        if os.path.dirname(os.path.abspath(log)) != side:  # a test's own log: searched at the end too
            shutil.copy(log, os.path.join(side, "serve.log"))


@contextlib.contextmanager
def postgres_stopped():
    """The local PostgreSQL stopped (fast: its clients are cut off) for the block, then started again.

    What a database restart looks like from the product. Needs Debian's ``pg_ctlcluster`` and root, as
    ``.ci/run`` has; the server is started again whatever the block does.
    """
    if not shutil.which("pg_ctlcluster") or os.geteuid() != 0:
        _unavailable("stopping PostgreSQL needs pg_ctlcluster and root")
    cluster = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main"]
    subprocess.run(cluster + ["stop", "-m", "fast"], check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(cluster + ["start"], check=True, capture_output=True)
        for _ in range(60):
            if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode == 0:
                break
            time.sleep(0.5)


def demo_copy(kind: str, demo_gpkg, tmp_path, request) -> str:
    """A copy of the demo this test may write to, on the store ``kind`` names (gpkg or postgis); its spec."""
    if kind == "postgis":
        spec = request.getfixturevalue("postgis_url")
        copy_store(demo_gpkg[0], spec)
        return spec
    spec = str(tmp_path / "demo.gpkg")
    shutil.copy(demo_gpkg[0], spec)
    return spec


def copy_store(source: str, target: str) -> None:
    """Every layer of one store written into another (the demo into PostGIS, say); rollups are counted anew
    by the target as the layers they count are written."""
    from layers.schema import LAYERS
    from layers.store import open_store

    with open_store(source) as read, open_store(target) as write:
        for name in LAYERS:
            if LAYERS[name].counts is None:
                write.write_layer(name, read.read(name))


def printed(command: list[str], folder) -> tuple[list, str]:
    """``onemap COMMAND --out FOLDER/printed.pdf`` run as a user runs it; the PDF read by :func:`printed_pages`."""
    pdf = f"{folder}/printed.pdf"
    done = subprocess.run([sys.executable, "-m", "onemap.cli", *command, "--out", pdf], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return printed_pages(pdf, folder)


def printed_pages(pdf, folder) -> tuple[list, str]:
    """A printed PDF's pages as PNG files (pdftoppm, 50 dpi) and its text (pdftotext -layout)."""
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm missing (Debian: poppler-utils)")
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), f"{folder}/page"], check=True)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return sorted(__import__("pathlib").Path(folder).glob("page-*.png")), text
