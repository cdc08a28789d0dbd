import pytest

from etl.read import ReadError
from etl.responsibilities import read_responsibilities


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
