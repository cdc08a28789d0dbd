"""The overview's download: the map's layers under the current filter and the user's area, as one file."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from dashboards.map_views import catalogue_names
from layers.export import export_format, export_layers
from layers.filters import CaseFilter
from layers.users import PERSONAL_DATA_ROLES


def export_view(store, f: CaseFilter, map_layers, *, fmt: str, datum: str, user: str, role: str) -> Path:
    """A file of the view's layers (a zip when the format holds one layer per file); the caller sends it."""
    # Cases and cells always go, with the catalogue layers the map shows.
    names = list(dict.fromkeys(["cases", "grid_cells"] + catalogue_names(map_layers or ())))
    folder = Path(tempfile.mkdtemp(prefix="onemap-export-"))
    form = export_format(fmt)
    one_file = form.many_layers or form.write_all is not None or len(names) == 1
    out = folder / (f"onemap{form.suffix}" if one_file else "onemap")
    export_layers(store, names, out, fmt=fmt, datum=datum, f=f, personal_allowed=role in PERSONAL_DATA_ROLES,
                  user=user)
    if out.is_dir():
        return Path(shutil.make_archive(str(folder / f"onemap_{fmt}"), "zip", out))
    return out
