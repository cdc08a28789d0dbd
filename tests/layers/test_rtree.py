"""The R*Tree bulk loader writes what SQLite's own rtreecheck() accepts and answers queries exactly."""

import sqlite3

import numpy as np
import pytest

from layers.store.rtree import bulk_load


@pytest.mark.parametrize("n", [0, 1, 51, 52, 20_000])
def test_a_packed_tree_is_valid_and_finds_every_box(n):
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE r USING rtree(id, minx, maxx, miny, maxy)")
    rng = np.random.default_rng(n)
    x, y = rng.uniform(121.4, 121.6, n), rng.uniform(29.8, 30.0, n)
    ids = rng.permutation(n) + 1
    bulk_load(conn, '"r"', ids, np.column_stack([x, x, y, y]))
    assert conn.execute("SELECT rtreecheck('r')").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM r").fetchone()[0] == n
    window = (121.45, 121.47, 29.85, 29.88)
    expected = set(ids[(x >= window[0]) & (x <= window[1]) & (y >= window[2]) & (y <= window[3])].tolist())
    found = {row[0] for row in conn.execute(
        "SELECT id FROM r WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?", window)}
    assert found == expected  # float32 rounding only ever grows a box, so nothing in the window is missed
    # SQLite keeps maintaining the tree afterwards.
    conn.execute("INSERT INTO r VALUES (?, 121.5, 121.5, 29.9, 29.9)", (n + 10,))
    some = [row[0] for row in conn.execute("SELECT id FROM r LIMIT 10").fetchall()]
    conn.executemany("DELETE FROM r WHERE id = ?", [(i,) for i in some])
    assert conn.execute("SELECT rtreecheck('r')").fetchone()[0] == "ok"
