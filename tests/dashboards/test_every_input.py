"""Every input of every front door, as every role, on both stores: the class behind the attacker's findings.

Hypothesis posts into every callback (the page router's URL, the filters, the table's page and sort, the
download) and asks every page URL, outline and feed query with values of every JSON type, odd strings,
and real values of places and cases *outside* the user's area. Whatever is sent, the answer is never a
500, never holds a case or a grid cell outside the area, and never a full phone number for a role that
sees phones masked, also inside a downloaded file (a GeoPackage's pages, a zip's members).
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import zipfile
from urllib.parse import quote, unquote, unquote_plus, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboards.app import create_app
from dashboards.client import for_app
from demo.users import demo_password
from layers.areas import Area
from layers.catalogue import CATALOGUE
from layers.filters import CaseFilter
from layers.store import matches, open_store
from layers.users import PERSONAL_DATA_ROLES, add_kiosk

ROLES = ("commander", "kongpu", "hongmei", "planner", "kiosk")
ODD = st.sampled_from(["' OR 1=1 --", "../../etc/passwd", "\x00", "%00", "<script>alert(1)</script>", "{{7*7}}",
                       "${jndi:x}", "%s%n", "NaN", "-1", "1e309", "９９", "Ｃ2020", "\u202e", "x" * 5000,
                       "2020-02-30", "0000-00-00", "/", "//evil.example", "\t", "null", "[]", "{}"])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20) | ODD,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=6)
PATHS = ["/", "/wall", "/brief", "/remediation", "/quarantine", "/password", "/geo/grid_cells.geojson", "/geo/streets.geojson",
         "/geo/communities.geojson", "/geo/setback_areas.geojson", "/ogcapi/collections"]
_CASE_ID = re.compile(rb"[a-z0-9_]+:[A-Za-z0-9\-]+")
_DIGITS = re.compile(rb"(?<![0-9])[0-9]{11,14}(?![0-9])")


class World:
    """The demo store and, for each role, what its answers must never hold."""

    def __init__(self, spec: str, token: str):
        self.spec, self.token = spec, token
        with open_store(spec) as store:
            cases = store.read("cases")
            cells = store.read("grid_cells")
            users = store.read("users").set_index("user_name")
        self.cases = cases
        self.phones = {p.encode() for p in cases["reporter_phone"].dropna()}
        self.values = sorted(set(cases["case_id"].sample(40, random_state=1))
                             | set(cells["grid_cell"]) | set(cells["community_code"]) | set(cells["street_code"])
                             | set(cases["category"].unique()[:10]) | {"2020-01-01", "2020-12-31", "2021-06-30"})
        self.outside: dict[str, tuple[set, set]] = {}
        areas = {name: Area.parse(users.at[name, "area"]) for name in ROLES if name != "kiosk"}
        areas["kiosk"] = Area.parse("street:330205003")
        for name, area in areas.items():
            inside = CaseFilter(area=area).mask(cases)
            cells_in = set(cells.loc[matches(cells, area.conditions("grid_cells")), "grid_cell"])
            self.outside[name] = ({c.encode() for c in cases.loc[~inside, "case_id"]},
                                  {c.encode() for c in cells["grid_cell"] if c not in cells_in})

    def leaks(self, role: str, blob: bytes, sent: bytes) -> list[bytes]:
        """What in an answer the role must not see: cases and cells outside its area, full phone numbers.

        A value the request itself sent, said back in a message ("no street 330205001 in your area"), is not one.
        """
        cases_out, cells_out = self.outside[role]
        found = [t for t in _CASE_ID.findall(blob) if t in cases_out]
        digits = _DIGITS.findall(blob)
        found += [t for t in digits if t in cells_out]
        if role not in PERSONAL_DATA_ROLES:
            found += [t for t in digits if t in self.phones]
        return [t for t in found if t not in sent]


@pytest.fixture(scope="module", params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def world(request, demo_gpkg, tmp_path_factory):
    # A copy of its own on either store: the pages write, and a fuzzed form that happens to be whole is written.
    if request.param == "postgis":
        from tests.conftest import _postgis_schema, copy_store

        with _postgis_schema("every") as spec:
            copy_store(demo_gpkg[0], spec)
            yield _world(spec)
        return
    spec = str(tmp_path_factory.mktemp("every") / "demo.gpkg")
    shutil.copy(demo_gpkg[0], spec)
    yield _world(spec)


def _world(spec):
    with open_store(spec) as store:
        _, token = add_kiosk(store, area=Area.parse("street:330205003"), label="fuzz")
    app = create_app(spec)
    clients = {}
    for role in ROLES:
        client = for_app(app)
        if role == "kiosk":
            assert client.http.get(f"/wall?kiosk={token}").status_code == 200
        else:
            assert client.log_in(role, demo_password(role)).status_code == 302
        clients[role] = client
    return World(spec, token), app, clients


def blobs(answer) -> list[bytes]:
    """The answer's bytes, and each downloaded file in it (each member of a zip) as bytes."""
    raw = answer.get_data()
    found = [raw]
    try:
        body = json.loads(raw)
    except ValueError:
        return found
    stack = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("base64") and isinstance(item.get("content"), str):
                data = base64.b64decode(item["content"])
                found.append(data)
                if data[:2] == b"PK":
                    with zipfile.ZipFile(io.BytesIO(data)) as z:
                        found += [z.read(n) for n in z.namelist()]
            stack += list(item.values())
        elif isinstance(item, list):
            stack += item
    return found


def values(world: World):
    real = st.sampled_from(world.values)
    return JSON | real | st.lists(real, max_size=3) | st.text(max_size=30)


def _check(world, role, answer, what):
    said = answer.get_data()[:300]
    assert answer.status_code < 500, (role, what, said)
    sent = json.dumps(what, ensure_ascii=False, default=str).encode()
    for blob in blobs(answer):
        leaked = world.leaks(role, blob, sent)
        assert not leaked, (role, what, leaked[:3])


SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("role", ROLES)
@SETTINGS
@given(data=st.data())
def test_every_callback_as_every_role(world, role, data):
    w, app, clients = world
    client = clients[role]
    for key, spec in app.callback_map.items():
        if "callback" not in spec:  # clientside: the browser runs it
            continue
        first = key.strip(".").split("...")[0].rsplit(".", 1)[0]
        given_ = {f"{i['id']}.{i['property']}": data.draw(values(w)) for i in spec["inputs"]}
        state = {f"{i['id']}.{i['property']}": data.draw(values(w)) for i in spec["state"]}
        if first == "_pages_content":  # the page router: a path and a query of the page's parameters
            given_["_pages_location.pathname"] = data.draw(st.sampled_from(PATHS) | st.text(max_size=20))
            given_["_pages_location.search"] = "?" + urlencode(data.draw(st.dictionaries(
                st.sampled_from(["from", "to", "street", "community", "cell", "category", "channel", "status",
                                 "level", "overdue", "layers", "measure", "lang", "preset", "date", "kiosk"]),
                st.sampled_from(w.values) | st.text(max_size=20) | ODD, max_size=6)))
        answer = client.call(first, given_, state)
        if role == "kiosk" and not first.startswith("wall-") and first != "_pages_content":
            assert answer.status_code == 403, (key, answer.status_code)
        # The page's query as the server reads it, decoded, may come back: a category its link carried, say.
        _check(w, role, answer, (key, given_, state, unquote_plus(given_.get("_pages_location.search", ""))))


@pytest.mark.parametrize("role", ROLES)
@SETTINGS
@given(data=st.data())
def test_every_page_outline_and_feed_query_as_every_role(world, role, data):
    w, app, clients = world
    http = clients[role].http
    layer = data.draw(st.sampled_from(["cases"] * len(CATALOGUE) + sorted(CATALOGUE)))  # cases hold the phones
    fields = [f.name for f in CATALOGUE[layer].fields]
    keys = st.sampled_from(["bbox", "bbox-crs", "datetime", "crs", "limit", "offset", "f", "next", "lang", "date",
                            "street", "area", "kiosk"] + fields)
    query = data.draw(st.dictionaries(keys, st.sampled_from(w.values) | st.text(max_size=20) | ODD
                                      | st.sampled_from(["1", "0", "10000", "-5", "121,29,122,30", "2020-01-01/..",
                                                         "http://www.opengis.net/def/crs/EPSG/0/4549"]),
                                      max_size=5))
    items = f"/ogcapi/collections/{layer}/items"
    path = data.draw(st.sampled_from(PATHS + [items] * len(PATHS) + [f"/ogcapi/collections/{layer}",
                                              f"/ogcapi/collections/{layer}/items/" + data.draw(st.sampled_from(w.values)),
                                              "/ogcapi/api", f"/geo/{layer}.geojson"]))
    answer = http.get(path, query_string=query)
    _check(w, role, answer, (path, query))


@pytest.mark.parametrize("role", ROLES)
@SETTINGS
@given(data=st.data())
def test_every_push_api_read_as_every_role(world, role, data):
    w, app, clients = world
    http = clients[role].http
    keys = st.sampled_from(["service_request_id", "service_code", "start_date", "end_date", "status", "limit",
                            "api_key", "page"])
    query = data.draw(st.dictionaries(keys, st.sampled_from(w.values) | st.text(max_size=20) | ODD
                                      | st.sampled_from(["open", "closed", "open,closed", "1000", "0", "-1",
                                                         "2020-01-01T00:00:00+08:00", "2020-12-31T00:00:00Z"]),
                                      max_size=4))
    # An id as a client sends it in a path: percent-encoded ("?" or "#" in it would end the path).
    path = data.draw(st.sampled_from(["/open311/v2/requests.json", "/open311/v2/services.json",
                                      "/open311/v2/requests/" + quote(str(data.draw(st.sampled_from(w.values))),
                                                                      safe="") + ".json",
                                      "/open311/v2/requests/" + quote(data.draw(st.text(max_size=20) | ODD), safe="")
                                      + ".json"]))
    answer = http.get(path, query_string=query)
    if role == "kiosk":  # no key and no person: nothing (a path that is not the API's: 404)
        assert answer.status_code in (401, 404), (path, answer.status_code)
    _check(w, role, answer, (unquote(path), query))  # what was sent, as the server read it, may come back


@pytest.mark.parametrize("role", ROLES)
def test_every_page_and_every_layer_whole_as_every_role(world, role):
    w, app, clients = world
    http = clients[role].http
    for path in PATHS + [f"/ogcapi/collections/{name}/items" for name in CATALOGUE]:
        answer = http.get(path, query_string={"limit": "10000"} if "/items" in path else {})
        _check(w, role, answer, (path,))
