"""Open a store by its name: a GeoPackage path or a ``postgresql://`` URL.

Which class serves which name is one table, :data:`BACKENDS` (as pygeoapi's
plugin table): a URL's scheme, or a path's suffix, to ``module:Class``. A
backend's module is imported only when a store of it is opened (psycopg
only for PostGIS). A new backend is one entry here and one subclass of
:class:`Store` (``layers/store/base.py`` says what it must implement).
"""

from __future__ import annotations

import importlib
from pathlib import PurePath
from urllib.parse import urlsplit

from layers.errors import StoreError
from layers.settings import Settings
from layers.store.base import Condition, Store, matches, period_filter
from layers.store.migrations import SCHEMA_VERSION

BACKENDS = {
    "postgresql": "layers.store.postgis:PostGISStore",
    "postgres": "layers.store.postgis:PostGISStore",
    ".gpkg": "layers.store.gpkg:GeoPackageStore",
}

__all__ = ["BACKENDS", "SCHEMA_VERSION", "Condition", "Store", "StoreError", "backend_for", "default_store",
           "matches", "open_store", "period_filter"]


def default_store() -> str:
    """The store to use when none is named: ``ONEMAP_STORE``, else ``data/onemap.gpkg``."""
    return Settings.from_environ().store  # at each call: a test or a shell may set ONEMAP_STORE late


def backend_for(spec: str) -> type[Store]:
    """The class that serves a store name, from :data:`BACKENDS`."""
    if "://" in spec:
        key = urlsplit(spec).scheme.lower()
        if key not in BACKENDS:
            raise StoreError(f"unknown store {spec!r}: expected a .gpkg path or a URL of "
                             f"{', '.join(k + '://' for k in BACKENDS if not k.startswith('.'))}",
                             zh=f"无法识别的数据库 {spec!r}")
    else:
        key = PurePath(spec).suffix.lower()
        if key not in BACKENDS:
            raise StoreError(f"store path {spec!r} must end in {', '.join(k for k in BACKENDS if k.startswith('.'))}",
                             zh=f"数据库文件 {spec!r} 须以 .gpkg 结尾")
    module, name = BACKENDS[key].split(":")
    return getattr(importlib.import_module(module), name)


def open_store(spec: str | None = None) -> Store:
    """Open the store ``spec`` names, or the default (``ONEMAP_STORE``, else ``data/onemap.gpkg``).

    Opening connects to nothing and changes nothing: the first read checks the schema's version.
    """
    spec = str(spec or default_store())
    return backend_for(spec)(spec)  # type: ignore[call-arg]  # each backend takes its name
