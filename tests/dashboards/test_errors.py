"""Bad values at the dashboard's door: a message in the page, never a blank page or a bare 500.

Each case here once gave a blank page or a 500 with the traceback only in the log. The property
test posts values of every JSON type into every callback's inputs, on both stores.
"""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboards.app import create_app
from dashboards.client import for_app
from demo.users import demo_password

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=6)


@pytest.fixture(scope="module", params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def commander(request, demo_gpkg, tmp_path_factory):
    """The commander logged in to the demo, on each store in turn: the app and its client."""
    if request.param == "postgis":
        spec = request.getfixturevalue("demo_postgis")
    else:
        spec = str(tmp_path_factory.mktemp("errors") / "demo.gpkg")
        shutil.copy(demo_gpkg[0], spec)
    app = create_app(spec)
    client = for_app(app)
    assert client.log_in("commander", demo_password("commander")).status_code == 302
    return app, client


def error_box(answer) -> str:
    """The error box's text a callback's answer sets, or ''."""
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    body = answer.get_json()
    return (body.get("sideUpdate") or {}).get("app-error-text", {}).get("children", "")


def page_callback(client, path: str):
    """The page router's answer for a URL, as the browser asks for it after loading the page."""
    pathname, _, search = path.partition("?")
    return client.call("_pages_content", {"_pages_location.pathname": pathname,
                                          "_pages_location.search": "?" + search if search else ""})


@pytest.mark.parametrize("path, said", [
    ("/?street=999999999", "999999999"),
    ("/?from=2020-13-45", "2020-13-45"),
    ("/?from=0001-01-01&to=9999-12-31", "0001-01-01"),
    ("/?from=2020-12-31&to=2020-01-01", "2020-12-31"),
])
def test_a_link_with_a_bad_value_opens_the_page_with_a_message_naming_it(commander, path, said):
    _, client = commander
    answer = page_callback(client, path)
    assert answer.status_code == 200
    body = json.dumps(answer.get_json(), ensure_ascii=False)
    assert said in body and "overview-kpis" in body and "参数无效" in body  # the page is there, and says what it did not take


def test_a_link_to_a_place_outside_the_users_area_says_so(demo_gpkg):
    app = create_app(demo_gpkg[0])
    client = for_app(app)
    assert client.log_in("kongpu", demo_password("kongpu")).status_code == 302  # 孔浦街道's staff
    body = json.dumps(page_callback(client, "/?street=330205001").get_json(), ensure_ascii=False)  # 外滩街道
    assert "不在您的辖区内" in body and "outside your area" in body


@pytest.mark.parametrize("street", [["330205003"], {"a": 1}, 12, 2.5, True])
def test_a_street_that_is_not_text_gets_a_message_not_a_500(commander, street):
    _, client = commander
    answer = client.call("overview-kpis", {"overview-period.start_date": "2020-01-01",
                                           "overview-period.end_date": "2020-12-31",
                                           "overview-street.value": street, "overview-layers.value": ["cases"]})
    assert "参数无效" in error_box(answer) and "street" in error_box(answer)


@pytest.mark.parametrize("page, sort_by", [("abc", None), (2.5, None), (-3, None), (0, "junk"),
                                           (0, [{"column_id": "nope", "direction": "up"}]), (0, [1, 2])])
def test_a_table_page_or_sort_that_means_nothing_gets_a_message(commander, page, sort_by):
    _, client = commander
    answer = client.call("overview-table", {"overview-table.page_current": page, "overview-table.sort_by": sort_by,
                                            "overview-period.start_date": "2020-01-01",
                                            "overview-period.end_date": "2020-12-31"})
    assert answer.status_code == 200
    text = error_box(answer)
    assert text == "" or "参数无效" in text


def test_an_error_in_a_route_is_a_page_not_a_traceback(commander):
    app, client = commander
    answer = client.http.get("/ogcapi/collections/cases/items?limit=abc")
    assert answer.status_code == 400 and answer.get_json()["code"] == "InvalidParameterValue"


# Dash's own page router: its inputs are the browser's location, which Dash itself reads.
NOT_OURS = ("_pages_content",)


def every_callback_input(app):
    for key, spec in app.callback_map.items():
        if "callback" not in spec:  # a clientside callback: the browser runs it, the server has nothing to answer
            continue
        yield key, spec


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_no_callback_answers_500_whatever_json_it_is_sent(commander, data):
    app, client = commander
    for key, spec in every_callback_input(app):
        first = key.strip(".").split("...")[0].rsplit(".", 1)[0]
        values = {f"{i['id']}.{i['property']}": data.draw(JSON) for i in spec["inputs"]}
        state = {f"{i['id']}.{i['property']}": data.draw(JSON) for i in spec["state"]}
        answer = client.call(first, values, state)
        said = answer.get_data(as_text=True)
        assert answer.status_code < 500, (key, json.dumps(values)[:300], said[:300])
        # Every callback of ours checks its inputs: a bad value is named in the page, never reported as a bug.
        assert first in NOT_OURS or "Internal error" not in said, (key, json.dumps(values)[:300], json.dumps(state)[:300], said[:300])


def test_the_brief_of_a_day_out_of_range_is_named(commander):
    _, client = commander
    answer = client.call("brief-frame", {"brief-day.date": "0001-01-01", "brief-fresh.value": []},
                         {"brief-lang.data": "zh"})
    assert "0001-01-01" in error_box(answer) and "参数无效" in error_box(answer)


def test_an_unknown_export_format_or_datum_is_named(commander):
    _, client = commander
    for fmt, datum, said in (("xls", "cgcs2000", "xls"), ("gpkg", "mars", "mars")):
        answer = client.call("overview-download", {"overview-export.n_clicks": 1}, {
            "overview-export-format.value": fmt, "overview-export-datum.value": datum,
            "overview-layers.value": ["cases"], "overview-period.start_date": "2020-01-01",
            "overview-period.end_date": "2020-01-31"})
        assert said in error_box(answer) and "参数无效" in error_box(answer)


def test_the_monthly_analysis_of_a_month_without_cases_is_still_printed(demo_gpkg, tmp_path):
    """A grid leader's two cells had no case in that month: the button gives the analysis, saying so."""
    import base64

    from tests.conftest import printed_pages

    client = for_app(create_app(demo_gpkg[0]))
    assert client.log_in("hongmei", demo_password("hongmei")).status_code == 302
    answer = client.call("brief-monthly-file", {"brief-monthly.n_clicks": 1}, {"brief-month.value": "2024-01"})
    assert error_box(answer) == ""
    sent = answer.get_json()["response"]["brief-monthly-file"]["data"]
    pdf = tmp_path / "monthly.pdf"
    pdf.write_bytes(base64.b64decode(sent["content"]))
    pages, text = printed_pages(pdf, tmp_path)
    assert pages and "2024" in text


def test_a_routes_error_is_json_with_its_status_for_clients_and_a_page_for_people(demo_gpkg, tmp_path):
    """Each front door translates the product's errors in one place: routes added later get it too."""
    from layers.errors import StoreUnreachable

    spec = tmp_path / "demo.gpkg"
    shutil.copy(demo_gpkg[0], spec)
    app = create_app(str(spec))

    def unreachable():
        raise StoreUnreachable("store x does not answer", zh="数据库 x 暂时无法连接")

    def bug():
        raise KeyError("a bug")
    for path, view in (("/ogcapi/probe", unreachable), ("/probe", unreachable), ("/probe-bug", bug)):
        app.server.add_url_rule(path, path, view)
    client = for_app(app)
    assert client.log_in("commander", demo_password("commander")).status_code == 302
    feed = client.http.get("/ogcapi/probe")
    assert feed.status_code == 503 and feed.get_json()["code"] == "StoreUnreachable"
    page = client.http.get("/probe")
    assert page.status_code == 503 and "数据库 x 暂时无法连接" in page.get_data(as_text=True)
    broken = client.http.get("/probe-bug")
    assert broken.status_code == 500 and "Internal error (ref" in broken.get_data(as_text=True)
    assert "KeyError" not in broken.get_data(as_text=True)  # the traceback is in the log, not the page
