"""What an attacker tried, each as a test: masked phones through the feed, redirects after login,
links that lose their view, sessions that outlive a logout, loose path matching, exports left on disk,
and locking another person out.

Requests go through the real Flask server of the Dash app (its test client), or a real ``onemap serve``
where more than one process or raw paths matter.
"""

from __future__ import annotations

import base64
import html
import http.client
import re
import shutil
import time
from datetime import date
from urllib.parse import parse_qsl, urlencode, urlsplit

import ada_url
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboards import download, feed
from dashboards.app import create_app
from dashboards.auth import is_public, safe_next
from dashboards.client import DashClient, for_app
from dashboards.limits import QueryThrottle
from demo.users import demo_password
from layers.areas import Area
from layers.filters import CaseFilter
from layers.store import open_store
from layers.users import disable_user, set_password
from tests.conftest import demo_copy, serving

YEAR = {"overview-period.start_date": "2020-01-01", "overview-period.end_date": "2020-12-31"}
HOST = "http://onemap.test"


@pytest.fixture(scope="module")
def app(demo_gpkg, tmp_path_factory):
    from dashboards.cache import CACHE

    path = tmp_path_factory.mktemp("security") / "demo.gpkg"
    shutil.copy(demo_gpkg[0], path)  # logins, logouts and password changes are written to the store
    CACHE.check_s, before = 0, CACHE.check_s  # see every write at the next request
    yield create_app(str(path))
    CACHE.check_s = before


def login(client, name, password=None, next_="/", address="127.0.0.1"):
    return client.post("/login", data={"user": name, "password": password or demo_password(name), "next": next_},
                       environ_base={"REMOTE_ADDR": address})


def basic(name, password=None) -> dict:
    secret = f"{name}:{password or demo_password(name)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(secret).decode()}


# 1. A field a role sees masked cannot be filtered on, and near-identical queries are limited.

def test_a_masked_phone_cannot_be_filtered_on_through_the_feed(app):
    client = app.server.test_client()
    cases = "/ogcapi/collections/cases/items"
    full = client.get(cases, query_string={"limit": 1, "street_code": "330205003"}, headers=basic("commander"))
    case = full.get_json()["features"][0]["properties"]
    phone, case_id = case["reporter_phone"], case["case_id"]
    assert re.fullmatch(r"1\d{10}", phone)
    # The commander sees phones whole and may look a number up.
    found = client.get(cases, query_string={"reporter_phone": phone}, headers=basic("commander")).get_json()
    assert case_id in [f["properties"]["case_id"] for f in found["features"]]
    for who in ("kongpu", "planner", "hongmei"):
        for field, value in (("reporter_phone", phone), ("description", "x")):
            answer = client.get(cases, query_string={field: value, "case_id": case_id}, headers=basic(who))
            assert answer.status_code == 400, (who, field)
            assert "masked" in answer.get_json()["description"] and phone not in answer.text
        # The role's API document does not offer them either.
        api = client.get("/ogcapi/api", headers=basic(who)).get_json()
        offered = [p["name"] for p in api["paths"]["/collections/cases/items"]["get"]["parameters"]]
        assert "reporter_phone" not in offered and "description" not in offered and "category" in offered
        shown = client.get(cases, query_string={"case_id": case_id}, headers=basic(who)).get_json()["features"]
        assert all(f["properties"]["reporter_phone"] in (None, phone[:3] + "****" + phone[-4:]) for f in shown)


def test_trying_many_values_of_one_filter_is_stopped(app, monkeypatch):
    monkeypatch.setattr(feed, "THROTTLE", QueryThrottle(limit=20, window_s=600))
    client = app.server.test_client()
    cases = "/ogcapi/collections/cases/items"
    statuses = [client.get(cases, query_string={"case_id": f"NO-SUCH-{i}"}, headers=basic("kongpu")).status_code
                for i in range(25)]
    assert statuses[:20] == [200] * 20 and statuses[20:] == [429] * 5
    refused = client.get(cases, query_string={"case_id": "NO-SUCH-99"}, headers=basic("kongpu"))
    assert int(refused.headers["Retry-After"]) > 0 and refused.get_json()["code"] == "TooManyRequests"
    # Paging through one query's answer, or one already asked, is not a new value; another user has their own count.
    for offset in (0, 100, 200):
        assert client.get(cases, query_string={"case_id": "NO-SUCH-3", "offset": offset},
                          headers=basic("kongpu")).status_code == 200
    assert client.get(cases, query_string={"case_id": "NO-SUCH-99"}, headers=basic("planner")).status_code == 200
    # Single features by id count the same way.
    ids = [client.get(f"/ogcapi/collections/cases/items/NO-{i}", headers=basic("hongmei")).status_code
           for i in range(22)]
    assert ids[:20] == [404] * 20 and ids[20:] == [429] * 2


def test_the_query_limit_forgets_values_after_its_window():
    throttle = QueryThrottle(limit=2, window_s=60)
    assert throttle.wait_s("u", ("cases",), ("a",), now=0) == 0
    assert throttle.wait_s("u", ("cases",), ("b",), now=1) == 0
    assert throttle.wait_s("u", ("cases",), ("a",), now=2) == 0  # asked before: not a new value
    assert throttle.wait_s("u", ("cases",), ("c",), now=3) == 57  # until "a" leaves the window
    assert throttle.wait_s("u", ("cases",), ("c",), now=61) == 0


# 2. No redirect to another site after login, however the address is written.

@pytest.mark.parametrize("next_", ["/\t/evil.example/x", "/%09/evil.example/x", "//evil.example", "/\\evil.example",
                                   "\\\\evil.example", "/\n/evil.example", " //evil.example", "/.//evil.example",
                                   "/..//evil.example", "https://evil.example/", "javascript:alert(1)",
                                   "http:evil.example", "/\\/evil.example", "//evil.example@onemap.test/"])
def test_login_never_redirects_to_another_site(app, next_):
    client = app.server.test_client()
    answer = login(client, "planner", next_=next_)
    assert answer.status_code == 302
    assert ada_url.URL(answer.headers["Location"], HOST).host == "onemap.test", answer.headers["Location"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(list("/\\\t\n\r .%09:@?#evilxmpa\x00\x0b\x0c\u3000")
                                + ["//", "%2f", "%5c", "http:", "..", "evil.example"]), max_size=20).map("".join))
def test_where_login_goes_next_is_always_a_path_on_this_server(target):
    went = ada_url.URL(safe_next(target), HOST)
    assert went.origin == HOST and went.host == "onemap.test"


# 3. A shared link comes back whole after login.

def test_a_link_with_every_filter_comes_back_whole_after_login(app):
    f = CaseFilter(start=date(2020, 3, 1), end=date(2020, 6, 30), street_code="330205003",
                   community_code="330205003002", grid_cell="33020500300201",
                   categories=("噪声扰民", "物业管理"), channels=("hotline_12345", "walk_in"),
                   statuses=("reported", "closed"), levels=("community", "street"), overdue_only=True)
    link = "/?" + urlencode({**f.to_query(), "layers": "cases,heat", "measure": "density", "lang": "en"})
    client = app.server.test_client()
    gate = client.get(link)
    assert gate.status_code == 302
    page = client.get(gate.headers["Location"]).get_data(as_text=True)
    next_ = html.unescape(re.search(r'name="next" value="([^"]*)"', page).group(1))
    went = login(client, "commander", next_=next_).headers["Location"]
    assert went == link
    assert CaseFilter.from_query(dict(parse_qsl(urlsplit(went).query))) == f


# 4. Sessions end on logout, on a password change and when the user is disabled, on every process.

def _copy_of_session(client, app):
    other = app.server.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def test_a_copied_session_ends_with_logout(app):
    client = app.server.test_client()
    login(client, "kongpu")
    copy = _copy_of_session(client, app)
    assert copy.get("/_dash-layout").status_code == 200
    assert copy.get("/ogcapi/collections").status_code == 200
    client.get("/logout")
    assert copy.get("/_dash-layout").status_code == 401
    assert copy.get("/ogcapi/collections").status_code == 401
    assert for_app(app, copy).call("overview-kpis", YEAR).status_code == 401


def test_a_password_change_ends_the_users_other_sessions(app):
    from dashboards.cache import CACHE

    store = app.server.extensions["onemap_store"]
    client, elsewhere = app.server.test_client(), app.server.test_client()
    login(client, "planner")
    login(elsewhere, "planner")
    copy = _copy_of_session(elsewhere, app)
    assert copy.get("/_dash-layout").status_code == 200
    # On the password page: the old password first, a token the page gave, the new one twice.
    page = client.get("/password").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]*)"', page).group(1)
    new = "a-new-password-2026"
    forged = client.post("/password", data={"current": demo_password("planner"), "new": new, "again": new})
    assert forged.status_code == 403  # no token: a form posted from another site
    assert client.post("/password", data={"current": "wrong", "new": new, "again": new,
                                          "csrf": token}).status_code == 401
    changed = client.post("/password", data={"current": demo_password("planner"), "new": new, "again": new,
                                             "csrf": token})
    assert changed.status_code == 200 and "password-message" in changed.get_data(as_text=True)
    assert client.get("/_dash-layout").status_code == 200  # this browser goes on
    assert copy.get("/_dash-layout").status_code == 401 and elsewhere.get("/_dash-layout").status_code == 401
    assert login(app.server.test_client(), "planner").status_code == 401  # the old password is gone
    # The feed's clients: a password checked before the change is checked again, and fails.
    assert app.server.test_client().get("/ogcapi/collections", headers=basic("planner", new)).status_code == 200
    set_password(store, "planner", demo_password("planner"))  # and back, by an administrator (the CLI's way)
    CACHE.check_s = 0
    assert client.get("/_dash-layout").status_code == 401
    assert app.server.test_client().get("/ogcapi/collections", headers=basic("planner", new)).status_code == 401


def test_disabling_a_user_ends_their_sessions(app, demo_gpkg):
    client = app.server.test_client()
    login(client, "admin")
    assert client.get("/_dash-layout").status_code == 200
    disable_user(app.server.extensions["onemap_store"], "admin")
    assert client.get("/_dash-layout").status_code == 401


@pytest.mark.parametrize("kind", ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_logout_ends_the_session_on_every_server_process(kind, demo_gpkg, tmp_path, request):
    spec = demo_copy(kind, demo_gpkg, tmp_path, request)
    with serving(spec, workers=2) as url:
        person = requests.Session()
        assert person.post(url + "/login", data={"user": "kongpu", "password": demo_password("kongpu")}).ok
        copy = requests.Session()
        copy.cookies.set("session", person.cookies["session"])
        assert all(copy.get(url + "/_dash-layout", allow_redirects=False).status_code == 200 for _ in range(6))
        person.get(url + "/logout")
        time.sleep(1.5)  # each process looks at the store's versions at most once a second
        answers = [copy.get(url + path, allow_redirects=False).status_code
                   for path in ("/_dash-layout", "/ogcapi/collections") * 6]
        assert answers == [401, 401] * 6


# 5. Only an exact list of paths opens without a login.

@pytest.mark.parametrize("path", ["/login/../_dash-layout", "/loginx", "/login/../brief", "/logout/../wall",
                                  "/assets/../_dash-layout", "/login/", "/assets/../ogcapi/collections",
                                  "/_dash-component-suites/../_dash-dependencies", "/login%2F..%2F_dash-layout",
                                  "/./_dash-layout", "//_dash-layout"])
def test_paths_that_only_look_public_need_a_login(demo_gpkg, path, raw_server):
    # Sent as written, over a real socket: nothing on the way normalises the path first.
    connection = http.client.HTTPConnection(*raw_server)
    connection.request("GET", path)
    answer = connection.getresponse()
    body = answer.read().decode("utf-8", "replace")
    assert answer.status in (302, 401, 404), (path, answer.status)
    assert "_dash-config" not in body and "dash_renderer" not in body  # not the page frame, with its versions


@pytest.fixture(scope="module")
def raw_server(demo_gpkg):
    with serving(demo_gpkg[0]) as url:
        parts = urlsplit(url)
        yield parts.hostname, parts.port


def test_the_public_paths_are_an_exact_list():
    assert is_public("/login") and is_public("/assets/style.css") and is_public("/_dash-component-suites/dash/x.js")
    for path in ("/login/..", "/loginx", "/assets/", "/assets//style.css", "/assets/../x", "login", "/Login"):
        assert not is_public(path), path


# 6. Exports leave nothing on disk.

def test_a_download_leaves_no_file_behind(app, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "EXPORT_ROOT", tmp_path / "exports")
    client = app.server.test_client()
    login(client, "commander")
    answer = for_app(app, client).call("overview-download", {"overview-export.n_clicks": 1},
                                       {**YEAR, "overview-export-format.value": "gpkg",
                                        "overview-export-datum.value": "cgcs2000"})
    assert answer.status_code == 200 and answer.get_json()["response"]["overview-download"]["data"]["content"]
    assert list((tmp_path / "exports").iterdir()) == []


def test_an_export_that_fails_half_way_leaves_no_file(demo_gpkg, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "EXPORT_ROOT", tmp_path / "exports")
    shutil.copy(demo_gpkg[0], tmp_path / "demo.gpkg")  # the export is logged in its store: not the shared demo's
    with open_store(str(tmp_path / "demo.gpkg")) as store, pytest.raises(ConnectionResetError):
        with download.exported_view(store, CaseFilter(start=date(2020, 12, 1), end=date(2020, 12, 31)), [],
                                    fmt="geojson", datum="wgs84", user="t", role="commander") as path:
            assert path.stat().st_size > 0
            raise ConnectionResetError("the browser went away while the file was sent")
    assert list((tmp_path / "exports").iterdir()) == []


def test_a_servers_start_sweeps_what_a_killed_server_left(tmp_path):
    old, new = tmp_path / "export-old", tmp_path / "export-new"
    for folder in (old, new):
        folder.mkdir()
        (folder / "onemap.gpkg").write_bytes(b"13312345678")
    assert download.sweep(tmp_path, older_than_s=3600, now=time.time() + 1800) == 0
    assert download.sweep(tmp_path, older_than_s=3600, now=time.time() + 7200) == 2
    assert not old.exists() and not new.exists()


# 7. A stranger cannot lock a person out of their own office.

def test_wrong_passwords_from_one_address_lock_only_that_address(app):
    stranger, office = app.server.test_client(), app.server.test_client()
    assert login(office, "hongmei", address="10.1.1.1").status_code == 302  # the person's own machine
    for _ in range(5):
        assert login(stranger, "hongmei", "guess", address="203.0.113.9").status_code == 401
    assert login(stranger, "hongmei", address="203.0.113.9").status_code == 429  # locked, right password or not
    assert login(office, "hongmei", address="10.1.1.1").status_code == 302
    assert login(app.server.test_client(), "hongmei", address="10.1.1.2").status_code == 302


def test_a_guesser_on_many_addresses_is_stopped_but_the_persons_own_address_is_not(app):
    office = app.server.test_client()
    assert login(office, "commander", address="10.2.2.2").status_code == 302
    for i in range(20):  # four at a time from each of five addresses: never five in a row from one
        assert login(app.server.test_client(), "commander", "guess", address=f"198.51.100.{i // 4}").status_code == 401
    assert login(app.server.test_client(), "commander", address="198.51.100.77").status_code == 429
    assert login(office, "commander", address="10.2.2.2").status_code == 302


def test_one_address_guessing_many_names_is_locked(app):
    for i in range(50):
        login(app.server.test_client(), f"nobody{i}", "guess", address="192.0.2.50")
    assert login(app.server.test_client(), "kongpu", address="192.0.2.50").status_code == 429
    assert login(app.server.test_client(), "kongpu", address="192.0.2.51").status_code == 302


def test_a_client_address_is_taken_from_the_proxy_only_when_one_is_configured(demo_gpkg, tmp_path, monkeypatch):
    from dashboards import auth

    monkeypatch.setattr(auth, "PROXIES", 1)
    path = tmp_path / "demo.gpkg"
    shutil.copy(demo_gpkg[0], path)
    behind = create_app(str(path))
    for _ in range(5):
        behind.server.test_client().post("/login", data={"user": "kongpu", "password": "guess"},
                                         headers={"X-Forwarded-For": "203.0.113.5"})
    locked = behind.server.test_client().post("/login", data={"user": "kongpu", "password": demo_password("kongpu")},
                                              headers={"X-Forwarded-For": "203.0.113.5"})
    other = behind.server.test_client().post("/login", data={"user": "kongpu", "password": demo_password("kongpu")},
                                             headers={"X-Forwarded-For": "203.0.113.6"})
    assert locked.status_code == 429 and other.status_code == 302


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=300), password=st.text(max_size=50), next_=st.text(max_size=100))
def test_the_login_form_answers_anything_without_a_500(app, name, password, next_):
    answer = app.server.test_client().post("/login", data={"user": name, "password": password, "next": next_},
                                           environ_base={"REMOTE_ADDR": "192.0.2.200"})
    assert answer.status_code in (302, 401, 429)


def test_dash_client_logs_in_with_the_new_session(app):
    client = DashClient(app.server.test_client(), for_app(app).callback_map)
    assert client.log_in("kongpu", demo_password("kongpu")).status_code in (200, 302)
    assert client.call("overview-kpis", YEAR).status_code == 200


def test_a_callback_without_the_sessions_csrf_token_is_refused(app):
    """What a page on another site can make the browser send (the session cookie, no header) does nothing."""
    client = DashClient(app.server.test_client(), for_app(app).callback_map)
    answer = client.log_in("kongpu", demo_password("kongpu"))
    token = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("_csrf_token="))
    assert "HttpOnly" not in token and "SameSite=Strict" in token  # the page's script reads it, no other site
    assert client.call("overview-kpis", YEAR, csrf=False).status_code == 403
    forged = client.http.post("/_dash-update-component", json=client.body("overview-kpis", YEAR),
                              headers={"X-CSRFToken": "guessed"})
    assert forged.status_code == 403 and "CSRF" in forged.get_json()["error"]
    other = DashClient(app.server.test_client(), client.callback_map)
    other.log_in("hongmei", demo_password("hongmei"))
    theirs = client.http.post("/_dash-update-component", json=client.body("overview-kpis", YEAR),
                              headers={"X-CSRFToken": other.csrf_token()})
    assert theirs.status_code == 403  # a token is good only with its own session
    assert client.call("overview-kpis", YEAR).status_code == 200
    client.http.get("/logout")
    assert client.csrf_token() is None  # the session's end takes its token with it


# What the checklist in the README claims besides the findings.

def test_each_login_begins_a_new_session_and_its_cookie_is_not_for_scripts(app):
    client = app.server.test_client()
    first = login(client, "kongpu")
    cookie = next(c for c in first.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/_dash-layout").headers["Cache-Control"] == "no-store"  # no copy kept after logout
    before = client.get_cookie("session").value
    login(client, "kongpu")  # whatever the browser held before, a login gives it a new session
    assert client.get_cookie("session").value != before
    earlier = app.server.test_client()
    earlier.set_cookie("session", before)
    client.get("/logout")  # logging out ends this session; the person's session on another device goes on
    assert client.get("/_dash-layout").status_code == 401
    assert earlier.get("/_dash-layout").status_code == 200


def test_passwords_are_long_enough_and_kept_only_as_slow_hashes(app):
    from layers.errors import InvalidValue
    from layers.users import MIN_PASSWORD, add_user

    store = app.server.extensions["onemap_store"]
    with pytest.raises(InvalidValue, match="shorter"):
        set_password(store, "planner", "x" * (MIN_PASSWORD - 1))
    with pytest.raises(InvalidValue, match="shorter"):
        add_user(store, "short", role="planner", area=Area.parse("district"), password="x" * (MIN_PASSWORD - 1))
    hashes = store.read("users")["password_hash"]
    assert hashes.str.startswith("scrypt:").all()
    assert not any(demo_password(n) in h for n, h in zip(store.read("users")["user_name"], hashes))


def test_no_front_door_filters_or_sorts_on_a_personal_field():
    """The class of finding 1: besides the feed, no door takes a personal field as a filter or a sort."""
    from dataclasses import fields

    from dashboards.table import TABLE_COLUMNS
    from layers.catalogue import CATALOGUE

    personal = {name for layer in CATALOGUE.values() for name in layer.personal}
    assert personal >= {"reporter_phone", "description"}
    assert not personal & {c for c, _, _ in TABLE_COLUMNS}  # the table's sort and its columns
    assert not personal & {f.name for f in fields(CaseFilter)}  # the filter of pages, exports and the CLI
    for layer in CATALOGUE.values():
        assert not set(layer.filterable(personal_allowed=False)) & set(layer.personal)
