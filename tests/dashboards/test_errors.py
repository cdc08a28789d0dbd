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


@pytest.fixture(scope="module")
def commander(demo_gpkg, tmp_path_factory):
    path = tmp_path_factory.mktemp("errors") / "demo.gpkg"
    shutil.copy(demo_gpkg[0], path)
    app = create_app(str(path))
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
    body = answer.get_data(as_text=True)
    assert said in body and "overview-kpis" in body  # the page is there, and says what it did not take


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
