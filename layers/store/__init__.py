"""Open a store by its name: a GeoPackage path or a ``postgresql://`` URL."""

from __future__ import annotations

import os

from layers.store.base import Condition, Store, StoreError, matches, period_filter

DEFAULT_STORE = "data/onemap.gpkg"

__all__ = ["Condition", "Store", "StoreError", "default_store", "matches", "open_store", "period_filter"]


def default_store() -> str:
    return os.environ.get("ONEMAP_STORE") or DEFAULT_STORE


def open_store(spec: str | None = None) -> Store:
    """Open the store ``spec`` names, or the default (``ONEMAP_STORE``, else ``data/onemap.gpkg``)."""
    spec = str(spec or default_store())
    if spec.startswith(("postgresql://", "postgres://")):
        from layers.store.postgis import PostGISStore  # psycopg only when asked for

        return PostGISStore(spec)
    if "://" in spec:
        raise StoreError(f"unknown store {spec!r}: expected a .gpkg path or a postgresql:// URL")
    if not spec.endswith(".gpkg"):
        raise StoreError(f"store path {spec!r} must end in .gpkg")
    from layers.store.gpkg import GeoPackageStore

    return GeoPackageStore(spec)
