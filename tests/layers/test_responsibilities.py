import pandas as pd

from layers.responsibilities import responsible_units

LIST = pd.DataFrame({
    "category": ["邻里纠纷", "邻里纠纷", "邻里纠纷", "医疗纠纷"],
    "area_code": ["330205", "330205003", "330205003002", "330205"],
    "unit": ["区矛调中心", "孔浦街道人民调解委员会", "怡江社区人民调解委员会", "区医调委"],
})


def test_the_most_specific_entry_wins_and_a_gap_stays_empty():
    cases = pd.DataFrame({"category": ["邻里纠纷", "邻里纠纷", "邻里纠纷", "医疗纠纷", "违章搭建", "邻里纠纷"],
                          "community_code": ["330205003002", "330205003001", "330205001001", "330205003002",
                                             "330205003002", None],
                          "street_code": ["330205003", "330205003", "330205001", "330205003", "330205003", None]})
    assert responsible_units(cases, LIST).tolist() == [
        "怡江社区人民调解委员会", "孔浦街道人民调解委员会", "区矛调中心", "区医调委", None, None]
