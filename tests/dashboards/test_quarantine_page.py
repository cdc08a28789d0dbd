"""The /quarantine page: admins and commanders see their area's kept-back rows by file and reason and download
the spreadsheet; every other role is refused, the page and its download alike, on both stores."""

from __future__ import annotations

import base64
import io
import json

import pandas as pd
import pytest

from dashboards.app import create_app
from layers.areas import DISTRICT
from layers.quarantine import REASON, open_entries
from layers.store import open_store
from tests.dashboards.test_errors import page_callback
from tests.dashboards.test_remediation import client_as


@pytest.fixture
def app(demo_store):
    return create_app(demo_store)


def _text(answer) -> str:
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return json.dumps(answer.get_json(), ensure_ascii=False)


def _download(client):
    answer = client.call("quarantine-file", {"quarantine-export.n_clicks": 1}, {"quarantine-lang.data": "zh"})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return answer.get_json()


@pytest.mark.parametrize("name", ["admin", "commander"])
def test_admins_and_commanders_see_the_rows_by_file_and_reason_and_download_them(app, demo_store, name):
    with open_store(demo_store) as store:
        entries = open_entries(store, DISTRICT)
    assert len(entries) > 0
    client = client_as(app, name)
    page = _text(page_callback(client, "/quarantine"))
    assert "quarantine-counts" in page and "quarantine-refused" not in page
    assert f"待处理 {len(entries)} 行" in page
    for file in set(entries["file"]):
        assert file in page
    sent = _download(client)["response"]["quarantine-file"]["data"]
    sheet = pd.read_excel(io.BytesIO(base64.b64decode(sent["content"])), dtype=str)
    assert len(sheet) == len(entries) and sheet.columns[-1] == REASON


@pytest.mark.parametrize("name", ["kongpu", "hongmei", "planner"])
def test_other_roles_are_refused_the_page_and_the_download(app, name):
    client = client_as(app, name)
    page = _text(page_callback(client, "/quarantine"))
    assert "quarantine-refused" in page and "quarantine-counts" not in page and "第" not in page
    answer = _download(client)
    assert "response" not in answer or "quarantine-file" not in answer.get("response", {})
    assert "隔离区仅限管理员和指挥中心" in answer["sideUpdate"]["app-error-text"]["children"]
