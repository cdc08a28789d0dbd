"""A writable copy of the store the 1M benches share, for the benches that write into it.

``writable_copy(folder, small, rows)`` copies ``bench_store`` (``bench/out/dashboard_1m.gpkg``, built once
by ``bench/dashboard_1m.py``'s ``build_store`` and kept; ``small``: the 10 000-row one) into ``folder``,
brings the copy to the current schema, and returns ``(spec, district)``: the copy's path and the demo
district whose geography it holds (``write_small.ten_new`` draws new cases from it). ``postgis_copy``
puts such a copy in a schema of its own on PostGIS for the length of a bench.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from pathlib import Path

from dashboard_1m import bench_store

from demo.build import build_demo
from layers.store import open_store


def writable_copy(folder: Path, small: bool, rows: int):
    kept = bench_store(small, rows)
    spec = folder / "large.gpkg"
    shutil.copyfile(kept, spec)
    with open_store(str(spec)) as store:
        store.migrate()
        print(f"{store.count('cases'):,} cases: a copy of {kept}", flush=True)
    return str(spec), build_demo(folder / "demo", seed=2020, until="2020-02-01")


@contextlib.contextmanager
def postgis_copy(spec: str, pg: str, prefix: str):
    """The store at ``spec`` copied into a new schema ``{prefix}_…`` of the database ``pg``; dropped at the end."""
    from tests.conftest import copy_store

    where = f"{pg}?schema={prefix}_{uuid.uuid4().hex[:8]}"
    copy_store(spec, where)
    try:
        yield where
    finally:
        with open_store(where) as store, store._connection() as conn:
            conn.execute(f'DROP SCHEMA "{store.schema}" CASCADE')
