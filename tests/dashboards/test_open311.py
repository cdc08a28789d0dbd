"""The push API over real HTTP, as a channel system uses it: keys, scopes, bad requests, repeats, status.

Each test runs ``onemap serve`` on a copy of the demo (both stores) and talks to it with ``requests``.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import requests

from demo.users import demo_password
from layers.apikeys import add_key, revoke_key
from layers.store import Condition, open_store
from tests.conftest import demo_copy, serving

KINDS = ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)]
V2 = "/open311/v2"


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def a_place(spec: str, cell: str = "33020500300201") -> tuple[float, float]:
    """A point inside one grid cell of the demo (CGCS2000 lon, lat)."""
    with open_store(spec) as store:
        cells = store.read("grid_cells", [Condition("grid_cell", "=", cell)])
    point = cells.geometry.iat[0].representative_point()
    return point.x, point.y


def a_case(lon: float, lat: float, request_id: str, **more) -> dict:
    return {"service_code": "邻里纠纷", "lat": lat, "long": lon, "datum": "cgcs2000",
            "description": "楼上深夜装修噪声", "phone": "13800001111",
            "requested_datetime": "2026-11-30T09:30:00+08:00", "channel_request_id": request_id, **more}


@pytest.fixture(params=KINDS)
def pushing(request, demo_gpkg, tmp_path):
    """(url, spec, keys by name) with a live hotline key, a smart-city key and a revoked one."""
    spec = demo_copy(request.param, demo_gpkg, tmp_path, request)
    with open_store(spec) as store:
        keys = {"hotline": add_key(store, "hotline_12345", label="12345工单系统", created_by="test")[1],
                "city": add_key(store, "smart_city", label="智慧城管", created_by="test")[1]}
        revoked_id, keys["revoked"] = add_key(store, "hotline_12345", created_by="test")
        revoke_key(store, revoked_id, by="test")
    with serving(spec) as url:
        yield url, spec, keys


def audit_count(spec: str, record: str) -> int:
    with open_store(spec) as store:
        return len(store.read("audit", [Condition("record", "=", record)]))


def test_a_channel_system_reports_a_case_once_and_moves_it_to_closed(pushing):
    url, spec, keys = pushing
    lon, lat = a_place(spec)
    services = requests.get(f"{url}{V2}/services.json", headers=bearer(keys["hotline"]), timeout=30).json()
    assert "邻里纠纷" in {s["service_code"] for s in services}

    sent = requests.post(f"{url}{V2}/requests.json", json=a_case(lon, lat, "GD-7001"),
                         headers=bearer(keys["hotline"]), timeout=60)
    assert sent.status_code == 201, sent.text
    case_id = sent.json()[0]["service_request_id"]
    assert case_id == "hotline_12345:GD-7001"
    with open_store(spec) as store:
        case = store.read("cases", [Condition("case_id", "=", case_id)])
    assert case["grid_cell"].iat[0] == "33020500300201" and case["channel"].iat[0] == "hotline_12345"
    assert case["status"].iat[0] == "reported"
    assert case["reported_at"].iat[0] == pd.Timestamp("2026-11-30 09:30:00")
    assert audit_count(spec, case_id) == 1

    again = requests.post(f"{url}{V2}/requests.json", json=a_case(lon, lat, "GD-7001", description="改过的描述"),
                          headers=bearer(keys["hotline"]), timeout=60)
    assert again.status_code == 200 and again.json()[0]["repeated"] is True
    assert again.json()[0]["service_request_id"] == case_id
    with open_store(spec) as store:
        assert len(store.read("case_sources", [Condition("source_id", "=", "GD-7001")])) == 1
        assert store.read("cases", [Condition("case_id", "=", case_id)])["description"].iat[0] == "楼上深夜装修噪声"
    assert audit_count(spec, case_id) == 1  # the repeat wrote nothing

    step = {"status": "closed", "updated_datetime": "2026-11-30T03:00:00Z"}  # 11:00 in the district
    other = requests.post(f"{url}{V2}/requests/{case_id}/status.json", json=step, headers=bearer(keys["city"]),
                          timeout=30)
    assert other.status_code == 403
    closed = requests.post(f"{url}{V2}/requests/{case_id}/status.json", json=step, headers=bearer(keys["hotline"]),
                           timeout=30)
    assert closed.status_code == 200, closed.text
    assert closed.json()[0]["status"] == "closed"
    assert closed.json()[0]["closed_datetime"] == "2026-11-30T11:00:00+08:00"
    with open_store(spec) as store:
        case = store.read("cases", [Condition("case_id", "=", case_id)])
    assert case["closed_at"].iat[0] == pd.Timestamp("2026-11-30 11:00:00") and bool(case["resolved_in_place"].iat[0])
    requests.post(f"{url}{V2}/requests/{case_id}/status.json", json=step, headers=bearer(keys["hotline"]), timeout=30)
    trail = audit_count(spec, case_id)
    assert trail == 2  # created, closed; the same step sent again is not a change
    with open_store(spec) as store:
        last = store.read("audit", [Condition("record", "=", case_id)]).sort_values("at").iloc[-1]
    assert last["actor"].startswith("apikey:") and json.loads(last["before"])["status"] == "reported"
    assert json.loads(last["after"])["status"] == "closed" and "reporter_phone" not in json.loads(last["after"])


def test_keys_are_checked_and_each_reads_only_its_own_channel(pushing):
    url, spec, keys = pushing
    lon, lat = a_place(spec)
    body = a_case(lon, lat, "GD-7002")
    assert requests.post(f"{url}{V2}/requests.json", json=body, timeout=30).status_code == 401
    assert requests.post(f"{url}{V2}/requests.json", json=body, headers=bearer("om_00000000_wrong"),
                         timeout=30).status_code == 401
    assert requests.post(f"{url}{V2}/requests.json", json=body, headers=bearer(keys["revoked"]),
                         timeout=30).status_code == 401
    forged = requests.post(f"{url}{V2}/requests.json", json={**body, "channel": "smart_city"},
                           headers=bearer(keys["hotline"]), timeout=30)
    assert forged.status_code == 403
    with open_store(spec) as store:
        assert store.read("case_sources", [Condition("source_id", "=", "GD-7002")]).empty

    # Open311's own way: a form with api_key.
    form = {**{k: str(v) for k, v in body.items()}, "api_key": keys["hotline"]}
    sent = requests.post(f"{url}{V2}/requests.json", data=form, timeout=60)
    assert sent.status_code == 201, sent.text
    case_id = sent.json()[0]["service_request_id"]
    mine = requests.get(f"{url}{V2}/requests/{case_id}.json", headers=bearer(keys["hotline"]), timeout=30)
    assert mine.status_code == 200 and mine.json()[0]["description"] is None  # a key reads no free text
    assert requests.get(f"{url}{V2}/requests/{case_id}.json", headers=bearer(keys["city"]),
                        timeout=30).status_code == 403
    listed = requests.get(f"{url}{V2}/requests.json", params={"start_date": "2026-11-01T00:00:00+08:00"},
                          headers=bearer(keys["city"]), timeout=30).json()
    assert case_id not in {r["service_request_id"] for r in listed}
    listed = requests.get(f"{url}{V2}/requests.json", params={"start_date": "2026-11-01T00:00:00+08:00"},
                          headers=bearer(keys["hotline"]), timeout=30).json()
    assert case_id in {r["service_request_id"] for r in listed}


def test_a_logged_in_page_reads_its_area_but_its_cookie_never_writes(pushing):
    url, spec, keys = pushing
    lon, lat = a_place(spec)
    outside = a_place(spec, "33020500100101")
    for rid, (x, y), phone in (("GD-7003", (lon, lat), "13800003333"), ("GD-7004", outside, "13800004444")):
        assert requests.post(f"{url}{V2}/requests.json", json=a_case(x, y, rid, phone=phone),
                             headers=bearer(keys["hotline"]), timeout=60).status_code == 201
    leader = requests.Session()
    leader.post(f"{url}/login", data={"user": "hongmei", "password": demo_password("hongmei"), "next": "/"}, timeout=30)
    seen = {r["service_request_id"] for r in leader.get(
        f"{url}{V2}/requests.json", params={"start_date": "2026-11-29T00:00:00Z"}, timeout=30).json()}
    assert "hotline_12345:GD-7003" in seen and "hotline_12345:GD-7004" not in seen
    assert leader.get(f"{url}{V2}/requests/hotline_12345:GD-7004.json", timeout=30).status_code == 403
    # A page's session (a forged cross-site form would carry it) does not write.
    assert leader.post(f"{url}{V2}/requests.json", json=a_case(lon, lat, "GD-7005"), timeout=30).status_code == 401
    assert leader.post(f"{url}{V2}/requests/hotline_12345:GD-7003/status.json", json={"status": "closed"},
                       timeout=30).status_code == 401
    with open_store(spec) as store:
        assert store.read("case_sources", [Condition("source_id", "=", "GD-7005")]).empty
        assert store.read("cases", [Condition("case_id", "=", "hotline_12345:GD-7003")])["status"].iat[0] == "reported"


def test_a_bad_request_gets_every_reason_and_is_kept_in_quarantine(pushing):
    url, spec, keys = pushing
    bad = {"service_code": "不存在的类别", "lat": "abc", "long": "121.5", "requested_datetime": "昨天",
           "channel_request_id": "GD-7100"}
    sent = requests.post(f"{url}{V2}/requests.json", json=bad, headers=bearer(keys["hotline"]), timeout=60)
    assert sent.status_code == 400
    reasons = {(e["field"], e["reason"]) for e in sent.json()}
    assert reasons == {("service_code", "unknown_value"), ("long/lat", "bad_coordinate"),
                       ("requested_datetime", "bad_date")}, sent.json()
    with open_store(spec) as store:
        kept = store.read("quarantine", [Condition("source", "=", "hotline_12345")])
        assert store.read("case_sources", [Condition("source_id", "=", "GD-7100")]).empty
    kept = kept[kept["file"].str.startswith("open311-")]
    assert len(kept) == 1 and json.loads(kept["raw"].iat[0])["service_code"] == "不存在的类别"
    assert "requested_datetime" in kept["message"].iat[0]

    unknown_datum = requests.post(f"{url}{V2}/requests.json", json={**a_case(121.55, 29.9, "GD-7101"),
                                                                     "datum": "mars"},
                                  headers=bearer(keys["hotline"]), timeout=60)
    assert unknown_datum.status_code == 400 and unknown_datum.json()[0]["field"] == "datum"
    assert requests.post(f"{url}{V2}/requests.json", data="not json", headers={
        **bearer(keys["hotline"]), "Content-Type": "application/json"}, timeout=30).status_code == 400


def test_a_batch_counts_every_request_it_carried(pushing):
    url, spec, keys = pushing
    lon, lat = a_place(spec)
    first = requests.post(f"{url}{V2}/requests.json", json=a_case(lon, lat, "GD-7200"),
                          headers=bearer(keys["hotline"]), timeout=60)
    assert first.status_code == 201
    batch = [a_case(lon, lat, "GD-7200"),  # sent before
             a_case(lon + 0.002, lat, "GD-7201", service_code="物业纠纷", phone="13900002222"),
             {"service_code": "邻里纠纷", "channel_request_id": "GD-7202"},  # no place at all
             {"service_code": "邻里纠纷", "address_string": "某处", "channel_request_id": ""}]  # no id
    answer = requests.post(f"{url}{V2}/batch.json", json={"requests": batch},
                           headers=bearer(keys["hotline"]), timeout=60)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["rows_in"] == 4 == body["stored"] + body["merged"] + body["quarantined"]
    assert (body["repeated"], body["quarantined"]) == (1, 2)
    assert [("errors" in r) for r in body["requests"]] == [False, False, True, True]
    assert body["requests"][1]["service_request_id"] == "hotline_12345:GD-7201"
    not_objects = requests.post(f"{url}{V2}/batch.json", json={"requests": [a_case(lon, lat, "GD-7203"), "x"]},
                                headers=bearer(keys["hotline"]), timeout=60)
    assert not_objects.status_code == 400  # refused whole: GD-7203 is not stored either
    with open_store(spec) as store:
        assert store.read("case_sources", [Condition("source_id", "=", "GD-7203")]).empty
    too_many = requests.post(f"{url}{V2}/batch.json", json={"requests": [{}] * 1001},
                             headers=bearer(keys["hotline"]), timeout=60)
    assert too_many.status_code == 413


def test_a_push_is_left_to_the_follower_and_read_back_at_once_from_the_store(demo_gpkg, tmp_path):
    from dashboards.app import create_app
    from dashboards.cache import CACHE

    spec = str(tmp_path / "demo.gpkg")
    shutil.copy(demo_gpkg[0], spec)
    with open_store(spec) as store:
        _, key = add_key(store, "hotline_12345", created_by="test")
        store.upsert("cases", store.read("cases").iloc[:1])  # the store now has change numbers
    app = create_app(spec)
    store = app.server.extensions["onemap_store"]
    held = CACHE.cases(store)[0]
    client = app.server.test_client()
    lon, lat = a_place(spec)
    for rid, phone in (("GD-8001", "13800008001"), ("GD-8002", "13800008002")):  # two cases, not one merged
        sent = client.post(f"{V2}/requests.json", json=a_case(lon, lat, rid, phone=phone), headers=bearer(key))
        assert sent.status_code == 201, sent.get_data(as_text=True)
    # The push did not take its cases into this process's copy (no page here waits for them; the follower
    # does it, giving way to requests), yet the system that sent them lists them at once: read from the store.
    assert len(CACHE.cases_held(store)[0]) == len(held) and CACHE.behind(store)
    since = {"start_date": "2026-11-01T00:00:00+08:00"}
    pushed = {"hotline_12345:GD-8001", "hotline_12345:GD-8002"}
    listed = client.get(f"{V2}/requests.json", query_string=since, headers=bearer(key)).get_json()
    assert pushed <= {r["service_request_id"] for r in listed}
    CACHE.follow_now(store)  # the follower's turn
    assert len(CACHE.cases_held(store)[0]) == len(held) + 2 and not CACHE.behind(store)
    again = client.get(f"{V2}/requests.json", query_string=since, headers=bearer(key)).get_json()
    assert again == listed  # from the copy now, the same answer


def test_the_listing_orders_as_a_sort_of_every_case_kept_would():
    import numpy as np

    from dashboards.open311 import latest_cases

    stamps = pd.to_datetime(["2026-11-30 09:00", None, "2026-11-30 10:00", "2026-11-30 09:00", "2026-11-29 08:00",
                             "2026-11-30 10:00", None, "2026-11-28 07:00"]).astype("datetime64[ms]")
    cases = pd.DataFrame({"case_id": [f"hotline_12345:GD-{i}" for i in (5, 3, 1, 7, 2, 8, 4, 6)],
                          "reported_at": stamps, "status": "reported", "category": "邻里纠纷"})
    cases["case_id"] = cases["case_id"].astype("category")
    rows = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    for limit in (1, 2, 3, 5, 8):
        want = cases.sort_values(["reported_at", "case_id"], ascending=False).head(limit)
        assert [c["case_id"] for c in latest_cases(cases, rows, limit)] == list(want["case_id"]), limit
    assert [c["case_id"] for c in latest_cases(cases, np.array([1, 4, 7]), 2)] == [
        "hotline_12345:GD-2", "hotline_12345:GD-6"]
