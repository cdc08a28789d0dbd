import pandas as pd

from gis.geocode import AddressMatcher, normalise_address

COMMUNITIES = pd.DataFrame({"community_code": ["330205003002", "330205001001", "330205103201"],
                            "name": ["怡江社区", "外滩社区", "三勤村"],
                            "street_code": ["330205003", "330205001", "330205103"]})
STREETS = pd.DataFrame({"street_code": ["330205001", "330205003", "330205103"],
                        "name": ["外滩街道", "孔浦街道", "慈城镇"]})
matcher = AddressMatcher(COMMUNITIES, STREETS)


def test_full_address_matches_its_community():
    m = matcher.match("宁波市江北区孔浦街道怡江社区槐树路77号3幢")
    assert (m.community_code, m.street_code, m.precision) == ("330205003002", "330205003", "community")


def test_abbreviated_community_and_full_width_digits():
    assert normalise_address("槐树路７７号") == "槐树路77号"
    assert matcher.match("江北区怡江槐树路７７号").community_code == "330205003002"


def test_street_only_gives_street_precision():
    m = matcher.match("江北区慈城镇某路1号")
    assert (m.community_code, m.street_code, m.precision) == (None, "330205103", "street")


def test_chongqing_jiangbei_is_not_ours():
    assert matcher.match("重庆市江北区外滩社区1号").precision == "none"
