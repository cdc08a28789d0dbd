"""The overview's download: the map's layers under the current filter and the user's area, as one file."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from layers.export import FORMATS, export_layers
from layers.filters import CaseFilter
from layers.users import PERSONAL_DATA_ROLES

# The overview's map layers and the catalogue layers they stand for; cases and cells always go.
MAP_TO_CATALOGUE = {"setback_areas": "setback_areas", "estates": "estates", "components": "components",
                    "hotspots": "hotspots", "emerging": "emerging_hotspots", "blind_spots": "blind_spots",
                    "change": "change", "priority": "priorities"}


def export_view(store, f: CaseFilter, map_layers, *, fmt: str, datum: str, user: str, role: str) -> Path:
    """A file of the view's layers (a zip when the format holds one layer per file); the caller sends it."""
    names = ["cases", "grid_cells"] + [MAP_TO_CATALOGUE[k] for k in map_layers or () if k in MAP_TO_CATALOGUE]
    folder = Path(tempfile.mkdtemp(prefix="onemap-export-"))
    one_file = fmt in ("gpkg", "html") or len(names) == 1
    out = folder / (f"onemap{FORMATS[fmt]}" if one_file else "onemap")
    export_layers(store, names, out, fmt=fmt, datum=datum, f=f, personal_allowed=role in PERSONAL_DATA_ROLES,
                  user=user)
    if out.is_dir():
        return Path(shutil.make_archive(str(folder / f"onemap_{fmt}"), "zip", out))
    return out
