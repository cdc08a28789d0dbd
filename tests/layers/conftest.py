"""Fixtures of the layers tests."""

import shutil

import pytest

from layers.store import open_store


@pytest.fixture
def store_copy(demo_gpkg, tmp_path):
    """A copy of the demo store a test may write to (exports are logged in their store)."""
    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    with open_store(str(path)) as store:
        yield store
