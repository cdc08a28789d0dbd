"""The overview's download: the map's layers under the current filter and the user's area, as one file.

The file is made in a folder of its own under ``EXPORT_ROOT``, read into the
answer and removed at once, whether the export worked or not: a commander's
file holds full phone numbers. A folder left by a server that was killed
half way is removed by the next server's start (``sweep``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from dashboards.map_views import catalogue_names
from layers.export import export_format, export_layers
from layers.filters import CaseFilter
from layers.users import PERSONAL_DATA_ROLES

EXPORT_ROOT = Path(tempfile.gettempdir()) / "onemap-exports"
# Older than this, a folder under EXPORT_ROOT is one a killed server left (no export takes this long).
STALE_S = 6 * 3600


@contextmanager
def exported_view(store, f: CaseFilter, map_layers, *, fmt: str, datum: str, user: str, role: str):
    """The file of the view's layers, while the ``with`` block sends it; removed after, whatever happened."""
    EXPORT_ROOT.mkdir(mode=0o700, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="export-", dir=EXPORT_ROOT))
    try:
        yield export_view(store, f, map_layers, folder, fmt=fmt, datum=datum, user=user, role=role)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sweep(root: Path | None = None, *, older_than_s: float = STALE_S, now: float | None = None) -> int:
    """Remove export folders a killed server left behind; how many were removed."""
    root = EXPORT_ROOT if root is None else root
    now = time.time() if now is None else now
    removed = 0
    for folder in root.glob("export-*") if root.is_dir() else ():
        if now - folder.stat().st_mtime > older_than_s:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def export_view(store, f: CaseFilter, map_layers, folder: Path, *, fmt: str, datum: str, user: str,
                role: str) -> Path:
    """A file of the view's layers in ``folder`` (a zip when the format holds one layer per file)."""
    # Cases and cells always go, with the catalogue layers the map shows.
    names = list(dict.fromkeys(["cases", "grid_cells"] + catalogue_names(map_layers or ())))
    form = export_format(fmt)
    one_file = form.many_layers or form.write_all is not None or len(names) == 1
    out = folder / (f"onemap{form.suffix}" if one_file else "onemap")
    export_layers(store, names, out, fmt=fmt, datum=datum, f=f, personal_allowed=role in PERSONAL_DATA_ROLES,
                  user=user)
    if out.is_dir():
        return Path(shutil.make_archive(str(folder / f"onemap_{fmt}"), "zip", out))
    return out
