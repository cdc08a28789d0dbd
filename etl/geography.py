"""Load a district's geography layers (grid cells, communities...) into the store.

A store holds one district, or several (a city's or a province's): a district
loaded into a store of others replaces its own rows and keeps theirs.

Real districts deliver their own grid shapefiles or GeoPackages; the demo
delivers a GeoPackage of the same shape. Each layer must declare its CRS:
projected layers are brought to CGCS2000 lon/lat, nothing is guessed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyogrio

from etl.responsibilities import read_responsibilities
from layers.areas import Area
from layers.errors import BadInput
from layers.store import Store, matches

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
    frames = {}
    for name in layers:
        if name not in present:
            continue
        frames[name] = pyogrio.read_dataframe(path, layer=name)
        if frames[name].crs is None:
            raise GeographyError(f"{path} layer {name}: no CRS declared; say which datum it is in")
    others = _other_districts(path, frames, store)
    loaded = {}
    for name, frame in frames.items():
        if others is not None:  # the store's other districts keep their rows of the layer
            held = store.read(name)
            kept = held[~matches(held, others.conditions(name))]
            if len(kept):
                frame = pd.concat([kept.to_crs(frame.crs), frame], ignore_index=True)
        loaded[name] = store.write_layer(name, frame)
    return loaded


def _other_districts(path, frames: dict, store: Store) -> Area | None:
    """The file's district as an area, when the store already holds other districts (a city's store): their
    rows stay, and this district's are replaced. None when the store holds no other: the layers are replaced
    whole, as a district's own store has them.

    A district joins others only with codes that nest in its own (GB/T 2260 and 10114: a street's 9 digits
    begin with its district's 6), which is how an area of one district is told from the rest.
    """
    held = store.read("district")
    district = frames.get("district")
    if district is None or not len(held):
        return None
    codes = sorted(set(district["district_code"].astype(str)))
    if set(held["district_code"]) <= set(codes):
        return None  # the same district again
    if len(codes) != 1 or not re.fullmatch(r"\d{6}", codes[0]):
        raise GeographyError(f"{path} layer district: a store of several districts takes them one file at a time, "
                             f"each with one 6-digit district_code; this file has {codes[:5]}")
    code = codes[0]
    for name, frame in frames.items():
        column = next((c for c in ("street_code", "community_code", "grid_cell") if c in frame), None)
        if column is None:
            continue
        stray = frame[~frame[column].astype(str).str.startswith(code)]
        if len(stray):
            row = int(stray.index[0]) + 1
            raise GeographyError(f"{path} layer {name}, row {row}: {column} {stray[column].iat[0]!r} does not begin "
                                 f"with the district's code {code}; the store holds other districts "
                                 f"({', '.join(sorted(held['district_code']))}), told apart by their codes")
    return Area("district", (code,))


def load_responsibilities(path, store: Store) -> int:
    """Replace the store's responsibility list with the one in ``path``; return its entries."""
    areas = set()
    for name, key in (("district", "district_code"), ("streets", "street_code"), ("communities", "community_code")):
        areas |= set(store.read(name)[key])
    if not areas:
        raise GeographyError(f"store {store.url} has no district, streets or communities: load the geography first")
    return store.write_layer("responsibilities", read_responsibilities(path, areas))
