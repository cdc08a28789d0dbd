import pandas as pd
import pytest

from etl.read import ReadError
from etl.responsibilities import read_responsibilities, responsible_units

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


def test_a_bad_list_names_file_row_and_column(tmp_path):
    path = tmp_path / "清单.csv"
    path.write_text("事项类别,区域代码,区域名称,责任单位\n邻里纠纷,330205,江北区,区矛调中心\n"
                    "物业纠纷,330299,别处,某单位\n劳资纠纷,330205,江北区,\n", encoding="gbk")
    with pytest.raises(ReadError) as err:
        read_responsibilities(path, {"330205"})
    assert "清单.csv 第3行 区域代码" in str(err.value) and "清单.csv 第4行 责任单位: 为空" in str(err.value)


def test_the_demo_list_loads_and_leaves_its_three_gaps(demo_build, tmp_path):
    from etl.geography import load_geography, load_responsibilities
    from layers.store import open_store

    with open_store(str(tmp_path / "s.gpkg")) as store:
        load_geography(demo_build["geography"], store)
        n = load_responsibilities(demo_build["responsibilities"], store)
        stored = store.read("responsibilities")
    assert n == len(stored) > 152
    cizheng = "330205103"
    assert not ((stored["category"] == "违章搭建") & (stored["area_code"] == cizheng)).any()
