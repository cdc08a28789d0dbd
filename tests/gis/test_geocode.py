import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from demo.district import ADDRESS_PREFIX, ELSEWHERE
from gis.geocode import AddressMatcher, normalise_address

COMMUNITIES = pd.DataFrame({"community_code": ["330205003002", "330205001001", "330205103201", "330205006010"],
                            "name": ["怡江社区", "外滩社区", "三勤村", "河东社区"],
                            "street_code": ["330205003", "330205001", "330205103", "330205006"]})
STREETS = pd.DataFrame({"street_code": ["330205001", "330205003", "330205103", "330205006"],
                        "name": ["外滩街道", "孔浦街道", "慈城镇", "庄桥街道"]})
# A small standard address table: 槐树路 runs through two communities.
ADDRESSES = gpd.GeoDataFrame({
    "address_id": ["A1", "A2", "A3", "A4", "A5"],
    "community_code": ["330205003002", "330205003002", "330205003002", "330205001001", "330205103201"],
    "street_code": ["330205003", "330205003", "330205003", "330205001", "330205103"],
    "road": ["槐树路", "槐树路", "槐树路", "槐树路", "慈湖北路"],
    "doorplate": ["77", "77", "79", "12", "5"],
    "building": [None, "3", None, None, None],
}, geometry=[Point(121.58, 29.89), Point(121.5805, 29.8905), Point(121.581, 29.89), Point(121.55, 29.88),
             Point(121.45, 29.97)], crs=4490)
matcher = AddressMatcher(COMMUNITIES, STREETS, ADDRESSES, prefix=ADDRESS_PREFIX, elsewhere=ELSEWHERE)


def test_a_full_address_matches_its_building():
    m = matcher.match("宁波市江北区孔浦街道怡江社区槐树路77号3幢")
    assert (m.address_id, m.community_code, m.precision) == ("A2", "330205003002", "building")
    assert (m.lon, m.lat) == (121.5805, 29.8905)


def test_levels_are_read_one_by_one():
    parsed = matcher.parse("浙江省宁波市江北区孔浦街怡江社槐树路77号3栋")
    assert (parsed.street_code, parsed.community_code, parsed.road, parsed.doorplate, parsed.building) == (
        "330205003", "330205003002", "槐树路", "77", "3")


def test_abbreviations_full_width_digits_and_missing_levels():
    assert normalise_address("槐树路７７号") == "槐树路77号"
    assert matcher.match("江北区怡江槐树路７７号").address_id == "A1"
    assert matcher.match("孔浦街怡江社槐树路79号").address_id == "A3"
    assert matcher.match("慈湖北路5号").address_id == "A5"  # no street, no community: the road is unique


def test_an_unknown_building_falls_back_to_its_doorplate_and_an_unknown_number_to_the_road():
    assert matcher.match("怡江社区槐树路77号9幢").address_id == "A1"
    m = matcher.match("怡江社区槐树路999号")
    assert (m.precision, m.community_code, m.address_id) == ("road", "330205003002", None)


def test_a_road_through_two_communities_needs_the_community_or_the_doorplate():
    assert matcher.match("槐树路12号").address_id == "A4"  # the doorplate is only on one stretch
    assert matcher.match("江北区槐树路").precision == "none"  # which stretch? no honest point


def test_one_wrong_character_is_forgiven_two_are_not():
    assert matcher.match("孔浦街道恰江社区淮树路77号").address_id == "A1"
    assert matcher.match("孔浦街道怡江社区淮数路77号").precision == "community"


def test_a_community_name_without_a_road_gives_community_precision():
    m = matcher.match("江北区外滩街道外滩社区")
    assert (m.community_code, m.street_code, m.precision) == ("330205001001", "330205001", "community")


def test_street_only_gives_street_precision():
    m = matcher.match("江北区慈城镇某路1号")
    assert (m.community_code, m.street_code, m.precision) == (None, "330205103", "street")


def test_a_community_of_another_street_is_a_mismatch_not_a_hit():
    assert matcher.match("江北区外滩街道怡江社区").precision == "street"


def test_chongqing_jiangbei_is_not_ours():
    assert matcher.match("重庆市江北区外滩社区1号").precision == "none"


def test_a_register_community_column_is_matched_with_its_short_forms():
    assert matcher.community_named("怡江社区").community_code == "330205003002"
    assert matcher.community_named("怡江社").community_code == "330205003002"
    assert matcher.community_named("三勤").community_code == "330205103201"
