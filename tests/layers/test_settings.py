"""The tunables: one typed value each, set by its environment variable, listed in the README."""

from pathlib import Path

import pytest

from layers.errors import InvalidValue
from layers.settings import Settings


def test_each_setting_is_read_from_its_variable_with_its_type():
    s = Settings.from_environ({"ONEMAP_PG_POOL_MAX": "4", "ONEMAP_GPKG_LOCK_TIMEOUT": "2.5", "ONEMAP_STORE": "x.gpkg"})
    assert (s.pg_pool_max, s.gpkg_lock_timeout_s, s.store) == (4, 2.5, "x.gpkg")
    assert Settings.from_environ({}) == Settings()


def test_a_value_that_does_not_parse_names_its_variable():
    with pytest.raises(InvalidValue, match="ONEMAP_PG_POOL_MAX='many'"):
        Settings.from_environ({"ONEMAP_PG_POOL_MAX": "many"})


def test_the_readme_lists_every_setting_with_its_default():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for variable, _, default in Settings.described():
        assert f"| `{variable}` | `{default}` |" in readme, variable
