"""How the pages' files and answers travel: compressed, and the files whose URL names their version kept a year.

Through the real Flask server of the Dash app (its test client), logged in as the commander, with the
scripts the overview's page itself names.
"""

from __future__ import annotations

import gzip
import json
import pkgutil
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dashboards.app import create_app, set_up
from dashboards.client import for_app
from demo.users import demo_password

ASSETS = Path(__file__).resolve().parents[2] / "dashboards" / "assets"
YEAR = {"overview-period.start_date": "2020-01-01", "overview-period.end_date": "2020-12-31"}


@pytest.fixture(scope="module")
def client(demo_gpkg):
    app = create_app(demo_gpkg[0])
    client = app.server.test_client()
    client.environ_base["HTTP_ACCEPT_ENCODING"] = "gzip, deflate"  # what Chromium sends over plain HTTP
    answer = client.post("/login", data={"user": "commander", "password": demo_password("commander"), "next": "/"})
    assert answer.status_code == 302
    return app, client


def scripts(client) -> list[str]:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["Content-Encoding"] == "gzip"
    return re.findall(r'<script src="([^"]+)"', gzip.decompress(page.data).decode())


def test_the_component_suites_are_compressed_and_kept_a_year(client):
    app, client = client
    suites = [s for s in scripts(client) if s.startswith("/_dash-component-suites/")]
    assert len(suites) >= 6  # react, react-dom, the renderer, html, dcc, the table...
    for src in suites:
        answer = client.get(src)
        assert answer.status_code == 200, src
        assert answer.headers["Content-Encoding"] == "gzip", src
        assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable", src
        # The bytes the browser gets back are the package's file.
        package, name = src.split("/")[2], src.split("/", 3)[3]
        from dash.fingerprint import check_fingerprint

        original = pkgutil.get_data(package, check_fingerprint(name)[0])
        assert gzip.decompress(answer.data) == original, src
        assert len(answer.data) < len(original) / 2 or len(original) < 5000, src


def test_the_plotly_bundle_is_ours_compressed_and_kept_a_year(client):
    app, client = client
    sources = scripts(client)
    assert not any("plotly.min.js" in s for s in sources)
    ours = [s for s in sources if s.startswith("/assets/plotly-onemap.min.js?m=")]
    assert len(ours) == 1
    answer = client.get(ours[0])
    assert answer.headers["Content-Encoding"] == "gzip"
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    body = gzip.decompress(answer.data)
    assert body == (ASSETS / "plotly-onemap.min.js").read_bytes()
    assert len(answer.data) < len(body) / 3
    # Asked again (the next person's first visit), the same compressed bytes.
    assert client.get(ours[0]).data == answer.data


def test_an_asset_without_its_version_is_asked_again(client):
    app, client = client
    answer = client.get("/assets/plotly-onemap.min.js")
    assert answer.status_code == 200
    assert "max-age=31536000" not in answer.headers.get("Cache-Control", "")


def test_callback_answers_are_compressed_and_not_kept(client):
    app, client = client
    answer = for_app(app, client).call("overview-kpis", YEAR)
    assert answer.status_code == 200
    assert answer.headers["Content-Encoding"] == "gzip"
    assert answer.headers["Cache-Control"] == "no-store"
    assert json.loads(gzip.decompress(answer.data))["response"]


def test_the_bundle_is_the_plotly_js_of_the_plotly_package():
    # dcc.Graph draws what the plotly package's figures describe: the bundle follows its plotly.js version.
    from plotly.offline import get_plotlyjs_version

    head = (ASSETS / "plotly-onemap.min.js").read_bytes()[:200].decode()
    assert head.startswith(f"/* plotly.js {get_plotlyjs_version()} ")
    lock = json.loads((ASSETS.parent / "plotlyjs" / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/plotly.js"]["version"] == get_plotlyjs_version()


def test_a_new_process_serves_the_scripts_asked_for_at_once(client, demo_gpkg):
    """A new browser asks for the page's scripts at once, from a server (or a gunicorn worker) that has
    answered nothing yet. Dash set itself up at the first of them while the others were answered, refusing
    scripts it had not yet listed (500): the page stayed blank."""
    app, client = client
    sources = scripts(client)
    fresh = create_app(demo_gpkg[0])
    set_up(fresh)  # as serve() does before it serves
    fresh = fresh.server
    start = threading.Barrier(len(sources))

    def fetch(src):
        asker = fresh.test_client()
        start.wait()
        return src, asker.get(src).status_code

    with ThreadPoolExecutor(len(sources)) as pool:
        statuses = dict(pool.map(fetch, sources))
    assert statuses == {src: 200 for src in sources}


def test_the_bundle_holds_every_trace_type_the_pages_draw():
    """A trace type the bundle lacks draws nothing: each one named in dashboards/ must be in entry.js."""
    import plotly.graph_objects as go
    from plotly.basedatatypes import BaseTraceType

    kinds = {name.lower(): name for name in dir(go)
             if isinstance(getattr(go, name), type) and issubclass(getattr(go, name), BaseTraceType)}
    used = set()
    for source in (ASSETS.parent).rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        used |= {k for k in re.findall(r'(?:\btype=|"type":\s*|_trace\()"(\w+)"', text) if k in kinds}
        used |= {k.lower() for k in re.findall(r"\bgo\.(\w+)\(", text) if k.lower() in kinds}
    assert {"scatter", "bar", "choroplethmap", "scattermap"} <= used
    entry = (ASSETS.parent / "plotlyjs" / "entry.js").read_text()
    bundled = {"scatter"} | set(re.findall(r"require\('plotly\.js/lib/(\w+)'\)", entry))
    assert used <= bundled
