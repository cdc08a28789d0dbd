import pytest

from etl.profiles import ProfileError, available_profiles, read_profile
from etl.read import detect_encoding, read_export


def test_every_channel_has_a_shipped_profile_and_components_have_theirs():
    from layers.glossary import CHANNELS

    shipped = {name: read_profile(name) for name in available_profiles()}
    assert {p.channel for p in shipped.values() if p.target == "cases"} == set(CHANNELS)
    assert shipped["component_inventory"].target == "components"
    assert shipped["smart_city"].location.datum == "EPSG:4528"
    assert shipped["component_inventory"].location.datum == "EPSG:4550"


def test_a_profile_with_an_unknown_datum_is_refused(tmp_path):
    path = tmp_path / "new_source.toml"
    path.write_text('source = "x"\nchannel = "e_ningbo"\nformat = "csv"\nkind = "dispute"\n'
                    'datetime_formats = ["%Y-%m-%d"]\n[columns]\nsource_id = "id"\nreported_at = "t"\n'
                    'category = "c"\nstatus = "s"\n[location]\nx = "lng"\ny = "lat"\ndatum = "baidu"\n',
                    encoding="utf-8")
    with pytest.raises(ProfileError, match="unknown datum 'baidu'"):
        read_profile(str(path))


def test_a_profile_with_coordinates_must_say_their_datum(tmp_path):
    path = tmp_path / "new_source.toml"
    path.write_text('source = "x"\nchannel = "e_ningbo"\nformat = "csv"\nkind = "dispute"\n'
                    'datetime_formats = ["%Y-%m-%d"]\n[columns]\nsource_id = "id"\nreported_at = "t"\n'
                    'category = "c"\nstatus = "s"\n[location]\nx = "lng"\ny = "lat"\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="no datum: nothing is guessed"):
        read_profile(str(path))


def test_gbk_is_detected_when_the_profile_does_not_say(tmp_path):
    path = tmp_path / "工单.csv"
    path.write_bytes("工单编号,来电时间\nA1,2020/01/01 08:00:00\n".encode("gbk"))
    assert detect_encoding(path) == "gb18030"


def test_a_file_without_the_profile_columns_is_refused_by_name(tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"wrong.csv: columns \[.*'事件ID'.*\] named by profile e_ningbo"):
        read_export(path, read_profile("e_ningbo"))
