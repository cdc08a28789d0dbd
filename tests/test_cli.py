"""The onemap command as a user runs it."""

import json

from onemap.cli import main


def test_kpis_json_uses_glossary_names_and_fractions(demo_gpkg, capsys):
    assert main(["kpis", "--store", demo_gpkg[0], "--from", "2020-01-01", "--to", "2020-12-31", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["disputes"]) >= {"received", "closed", "closure_rate", "resolved_in_place_rate", "by_level"}
    assert (out["disputes"]["received"], out["disputes"]["resolved_in_place_rate"]) == (2377, 0.9655)


def test_kpis_for_one_street(demo_gpkg, capsys):
    assert main(["kpis", "--store", demo_gpkg[0], "--street", "慈城镇", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["street"] == "330205103"


def test_bad_arguments_get_a_clear_message(capsys):
    assert main(["kpis", "--store", "x.sqlite"]) == 2
    assert "must end in .gpkg" in capsys.readouterr().err
