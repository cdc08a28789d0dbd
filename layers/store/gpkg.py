"""The embedded store: one GeoPackage file, no server needed.

Upserts read the layer, replace the rows whose key comes again and write
the layer back whole. That keeps the file a plain GeoPackage any GIS opens,
at the cost of rewriting a layer per batch: fine for a district's cases,
not meant for a province's (use PostGIS there).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyogrio

from layers.schema import LAYERS, conform
from layers.store.base import Store, StoreError, empty_frame


class GeoPackageStore(Store):
    def __init__(self, path):
        self.path = Path(path)
        self.url = str(self.path)
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"store {self.path} is a directory, expected a .gpkg file")
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def reset(self):
        self.path.unlink(missing_ok=True)

    def _layers(self):
        if not self.path.exists():
            return set()
        return {str(row[0]) for row in pyogrio.list_layers(self.path)}

    def _replace(self, name, frame):
        layer = LAYERS[name]
        # Point layers may hold only empty geometries (unlocated cases), so say the type.
        kwargs = {"geometry_type": "Point"} if layer.geometry == "Point" else {}
        pyogrio.write_dataframe(frame, self.path, layer=name, driver="GPKG", **kwargs)

    def _upsert(self, name, frame):
        existing = self._read(name, [])
        key = list(LAYERS[name].key)
        if len(existing):
            fresh = pd.MultiIndex.from_frame(frame[key].astype(str))
            old = pd.MultiIndex.from_frame(existing[key].astype(str))
            existing = existing[~old.isin(fresh)]
            frame = pd.concat([existing, frame], ignore_index=True)
        self._replace(name, conform(name, frame))

    def _read(self, name, where):
        if name not in self._layers():
            return empty_frame(name)
        clause = " AND ".join(_sql_term(t) for t in where) or None
        try:
            frame = pyogrio.read_dataframe(self.path, layer=name, where=clause,
                                           fid_as_index=False)
        except pyogrio.errors.DataSourceError as exc:
            raise StoreError(f"cannot read layer {name!r} from {self.path}: {exc}") from exc
        if "geometry" in frame.columns and LAYERS[name].geometry is None:
            frame = pd.DataFrame(frame.drop(columns="geometry"))
        return conform(name, frame)


def _literal(value):
    if isinstance(value, (int, float)):
        return repr(value)
    if hasattr(value, "isoformat"):
        # GeoPackage stores datetimes as ISO 8601 text, so text order is time order.
        value = value.isoformat(timespec="milliseconds") if hasattr(value, "hour") else value.isoformat()
    return "'" + str(value).replace("'", "''") + "'"


def _sql_term(term):
    column = '"' + term.column.replace('"', '""') + '"'
    if term.op == "in":
        values = ", ".join(_literal(v) for v in term.value) or "NULL"
        return f"{column} IN ({values})"
    return f"{column} {term.op} {_literal(term.value)}"
