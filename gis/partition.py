"""Partition a polygon into contiguous parts of given relative areas.

Used where no public polygons exist (the demo's subdistricts, communities and
grid cells): recursive bisection by straight cuts, each cut placed by bisection
on area, so the parts tile the parent exactly (no gaps, no overlaps) and their
areas follow the weights. Work in a metric CRS.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box


def partition(polygon, weights, anchors=None, *, tolerance=1e-4):
    """Split ``polygon`` into ``len(weights)`` parts with areas proportional to ``weights``.

    Parameters
    ----------
    polygon : shapely Polygon or MultiPolygon, in a metric CRS
    weights : sequence of positive float
    anchors : sequence of (x, y), optional
        Where each part would like to be: parts are ordered along each cut
        axis by their anchor, so a part ends up near it. Defaults to the
        order given.
    tolerance : float
        Relative area error allowed for each cut.

    Returns
    -------
    list of shapely geometries, one per weight, in input order; each is a
    single Polygon unless the parent's shape forces a multipart result.
    """
    weights = np.asarray(weights, dtype=float)
    if len(weights) == 0 or np.any(weights <= 0):
        raise ValueError(f"weights must be positive and non-empty, got {weights!r}")
    if anchors is None:
        anchors = np.column_stack([np.arange(len(weights)), np.arange(len(weights))])
    anchors = np.asarray(anchors, dtype=float)
    parts = [None] * len(weights)
    _split(shapely.make_valid(polygon), list(range(len(weights))), weights, anchors,
           parts, tolerance)
    return _absorb_fragments(parts)


def _split(geom, idx, weights, anchors, out, tolerance):
    if len(idx) == 1:
        out[idx[0]] = geom
        return
    minx, miny, maxx, maxy = geom.bounds
    axis = 0 if (maxx - minx) >= (maxy - miny) else 1
    order = sorted(idx, key=lambda i: (anchors[i][axis], anchors[i][1 - axis], i))
    w = weights[order]
    cum = np.cumsum(w)
    k = int(np.argmin(np.abs(cum[:-1] - cum[-1] / 2.0))) + 1
    left, right = order[:k], order[k:]
    share = cum[k - 1] / cum[-1]
    lo, hi = (minx, maxx) if axis == 0 else (miny, maxy)
    total = geom.area
    cut = (lo + hi) / 2.0
    for _ in range(60):
        cut = (lo + hi) / 2.0
        low_box = box(minx, miny, cut, maxy) if axis == 0 else box(minx, miny, maxx, cut)
        got = geom.intersection(low_box).area / total
        if abs(got - share) < tolerance:
            break
        if got < share:
            lo = cut
        else:
            hi = cut
    low_box = box(minx - 1, miny - 1, cut, maxy + 1) if axis == 0 else box(minx - 1, miny - 1, maxx + 1, cut)
    _split(_polygonal(geom.intersection(low_box)), left, weights, anchors, out, tolerance)
    _split(_polygonal(geom.difference(low_box)), right, weights, anchors, out, tolerance)


def _polygonal(geom):
    """Keep only the polygon parts of a set-operation result."""
    polys = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, (Polygon, MultiPolygon))]
    flat = []
    for g in polys:
        flat.extend(getattr(g, "geoms", [g]))
    flat = [p for p in flat if p.area > 0]
    if len(flat) == 1:
        return flat[0]
    return MultiPolygon(flat)


def _absorb_fragments(parts):
    """Give each stray piece of a multipart result to the neighbour it shares most border with.

    A straight cut through a concave outline can leave a part in pieces; the
    largest piece stays and the others join an adjacent part, so every part
    ends up in one piece where the geometry allows it, and the tiling stays exact.
    """
    parts = list(parts)
    for i, geom in enumerate(parts):
        pieces = list(getattr(geom, "geoms", [geom]))
        if len(pieces) < 2:
            continue
        pieces.sort(key=lambda p: p.area, reverse=True)
        parts[i] = pieces[0]
        for piece in pieces[1:]:
            best, best_len = None, 0.0
            for j, other in enumerate(parts):
                if j == i:
                    continue
                shared = piece.boundary.intersection(other.boundary).length
                if shared > best_len:
                    best, best_len = j, shared
            if best is None:
                parts[i] = parts[i].union(piece)  # an island: nothing else touches it
            else:
                parts[best] = _polygonal(shapely.union(parts[best], piece).buffer(0))
    return parts
