"""Users, areas and kiosk links in each store."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from layers.areas import Area, AreaError
from layers.store import Condition
from layers.users import (
    add_kiosk,
    add_user,
    authenticate,
    disable_user,
    get_user,
    kiosk_for_token,
    revoke_kiosk,
    server_secret,
)


def test_an_area_reads_from_its_spec_and_becomes_filter_terms():
    cells = Area.parse("cells:33020500300201, 33020500300202")
    assert cells.spec() == "cells:33020500300201,33020500300202"
    assert cells.conditions("cases") == [Condition("grid_cell", "in", ["33020500300201", "33020500300202"])]
    assert cells.conditions("setback_areas") == [Condition("community_code", "=", "330205003002")]
    assert cells.conditions("streets") == [Condition("street_code", "=", "330205003")]
    assert cells.conditions("district") == []
    street = Area.parse("street:330205003")
    assert street.conditions("grid_cells") == [Condition("street_code", "=", "330205003")]
    assert Area.parse("district").conditions("cases") == []
    assert street.overlaps("330205003002") and street.overlaps(None) and not street.overlaps("330205001")
    assert cells.overlaps("330205003") and not cells.overlaps("33020500300203")
    assert cells.contains("33020500300201") and not cells.contains("330205003002")
    for bad in ("", "county:1", "street:1,2", "cells:", "district:1", "district:330205,330206", "district:33020x"):
        with pytest.raises(AreaError):
            Area.parse(bad)


def test_one_district_of_a_citys_store_is_an_area_of_its_own():
    jiangbei = Area.parse("district:330205")
    assert jiangbei.spec() == "district:330205" and not jiangbei.is_district and Area.parse("district").is_district
    # Cases carry their district's code; places have codes that begin with its six digits: one range, which
    # every store answers through its index.
    assert jiangbei.conditions("cases") == [Condition("district_code", "=", "330205")]
    assert jiangbei.conditions("streets") == [Condition("street_code", "within", [("330205", "330206")])]
    assert jiangbei.conditions("district") == [Condition("district_code", "=", "330205")]
    assert jiangbei.contains("33020500300201") and not jiangbei.contains("330203001")
    assert jiangbei.overlaps("330205003") and not jiangbei.overlaps("330203")
    from layers.store import matches

    streets = pd.DataFrame({"street_code": ["330205003", "330203001", "330205999", "3302051", None]})
    assert matches(streets, jiangbei.conditions("streets")).tolist() == [True, False, True, True, False]


def test_the_whole_stores_name_is_the_place_its_districts_share():
    from layers.areas import district_names

    districts = pd.DataFrame({"district_code": ["330205", "330203"], "name": ["江北区", "海曙区"],
                              "name_en": ["Jiangbei", "Haishu"],
                              "address_prefix": ["浙江省宁波市江北区", "浙江省宁波市海曙区"]})
    assert district_names(districts) == ("宁波市", "宁波市 (2 districts)")
    assert district_names(districts, "330203") == ("海曙区", "Haishu")
    assert district_names(districts.iloc[:1]) == ("江北区", "Jiangbei")


@pytest.fixture
def with_geography(store):
    square = box(121.5, 29.9, 121.51, 29.91)
    store.write_layer("streets", gpd.GeoDataFrame(
        {"street_code": ["330205003"], "name": ["孔浦街道"], "kind": ["street"]}, geometry=[square], crs=4490))
    store.write_layer("grid_cells", gpd.GeoDataFrame(
        {"grid_cell": ["33020500300201"], "community_code": ["330205003002"], "street_code": ["330205003"],
         "name": ["红梅社区第1网格"], "kind": ["general"]}, geometry=[square], crs=4490))
    return store


def test_users_log_in_with_their_password_and_stop_when_disabled(with_geography):
    store = with_geography
    add_user(store, "hongmei", role="grid_leader", area=Area.parse("cells:33020500300201"), password="a long secret",
             display_name="红梅社区网格长")
    stored = store.read("users")
    assert stored["password_hash"].iat[0].startswith("scrypt:") and "a long secret" not in stored.to_string()
    user = authenticate(store, "hongmei", "a long secret")
    assert user.area == Area("cells", ("33020500300201",)) and user.display_name == "红梅社区网格长"
    assert authenticate(store, "hongmei", "a long secreT") is None
    assert authenticate(store, "nobody", "a long secret") is None
    assert disable_user(store, "hongmei") and get_user(store, "hongmei") is None
    assert authenticate(store, "hongmei", "a long secret") is None
    with pytest.raises(ValueError, match="role"):
        add_user(store, "x", role="mayor", area=Area(), password="long enough")
    with pytest.raises(ValueError, match="shorter"):
        add_user(store, "x", role="planner", area=Area(), password="short")
    with pytest.raises(AreaError, match="330205001"):
        add_user(store, "x", role="street_staff", area=Area.parse("street:330205001"), password="long enough")


def test_a_kiosk_link_opens_its_area_and_view_until_revoked(with_geography):
    store = with_geography
    kiosk_id, token = add_kiosk(store, area=Area.parse("street:330205003"), label="大厅", view="rotate=1&interval=30",
                                now=pd.Timestamp("2021-03-01 08:00"))
    assert token not in store.read("kiosks").to_string()
    kiosk = kiosk_for_token(store, token)
    assert kiosk.area.codes == ("330205003",) and kiosk.view == {"rotate": "1", "interval": "30"}
    assert kiosk_for_token(store, token[:-1] + "x") is None
    assert revoke_kiosk(store, kiosk_id) and kiosk_for_token(store, token) is None
    assert not revoke_kiosk(store, "no-such-id")


def test_the_session_secret_is_made_once_per_store(store):
    assert server_secret(store) == server_secret(store) and len(server_secret(store)) == 64
