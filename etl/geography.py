"""Load a district's geography layers (grid cells, communities...) into the store.

Real districts deliver their own grid shapefiles or GeoPackages; the demo
delivers a GeoPackage of the same shape. Each layer must declare its CRS:
projected layers are brought to CGCS2000 lon/lat, nothing is guessed.
"""

from __future__ import annotations

from pathlib import Path

import pyogrio

from etl.responsibilities import read_responsibilities
from layers.errors import BadInput
from layers.store import Store

LAYERS = ("district", "streets", "communities", "grid_cells", "estates", "setback_areas", "addresses",
          "components")


class GeographyError(BadInput):
    """A geography file that cannot be loaded."""


def load_geography(path, store: Store, *, layers=LAYERS) -> dict[str, int]:
    """Load each of ``layers`` found in the GeoPackage ``path``; return layer → features loaded."""
    path = Path(path)
    if not path.exists():
        raise GeographyError(f"{path}: no such file")
    present = {str(name) for name, _ in pyogrio.list_layers(path)}
    missing = [name for name in ("streets", "communities", "grid_cells") if name not in present]
    if missing:
        raise GeographyError(f"{path}: lacks the layers {missing}; it has {sorted(present)}")
    loaded = {}
    for name in layers:
        if name not in present:
            continue
        frame = pyogrio.read_dataframe(path, layer=name)
        if frame.crs is None:
            raise GeographyError(f"{path} layer {name}: no CRS declared; say which datum it is in")
        loaded[name] = store.write_layer(name, frame)
    return loaded


def load_responsibilities(path, store: Store) -> int:
    """Replace the store's responsibility list with the one in ``path``; return its entries."""
    areas = set()
    for name, key in (("district", "district_code"), ("streets", "street_code"), ("communities", "community_code")):
        areas |= set(store.read(name)[key])
    if not areas:
        raise GeographyError(f"store {store.url} has no district, streets or communities: load the geography first")
    return store.write_layer("responsibilities", read_responsibilities(path, areas))
