"""A printed map: the brief's cases and their heat over the area's outlines, as a PNG.

Drawn by matplotlib (through geopandas) in CGCS2000 / Gauss-Krüger metres, so a
kilometre is as long north-south as east-west on paper. Words (title, legend)
stay in the page's HTML, where the CJK fonts are; the picture holds none.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: the server and CI draw off screen

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402

from dashboards.figures import HEAT_COLOURS  # noqa: E402
from gis.datums import METRIC_CRS  # noqa: E402
from gis.heat import BANDWIDTH_M, kernel_density, to_metric  # noqa: E402

# The dashboard's heat colours, transparent where there is nothing.
HEAT_MAP = LinearSegmentedColormap.from_list("heat", [(*HEAT_COLOURS[0], 0.0), *[(*c, 0.85) for c in HEAT_COLOURS[1:]]])
TODAY_COLOUR, YESTERDAY_COLOUR, HOT_COLOUR = "#b91c1c", "#1f3b73", "#dc2626"


def brief_map(cells, outlines, cases, hot, *, width_mm: float = 100, max_height_mm: float = 110,
              dpi: int = 220) -> bytes:
    """The map as PNG bytes, ``width_mm`` wide and as tall as the area's shape asks (up to
    ``max_height_mm``): grid cells thin, ``outlines`` bold, the kernel density of ``cases``, the cases
    (``today`` True: red, else blue) and the ``hot`` cells ringed."""
    cells = cells.to_crs(METRIC_CRS)
    minx, miny, maxx, maxy = cells.total_bounds if len(cells) else (0, 0, 1, 1)
    height_mm = min(max_height_mm, width_mm * (maxy - miny) / max(maxx - minx, 1.0))
    figure, axes = plt.subplots(figsize=(width_mm / 25.4, height_mm / 25.4), dpi=dpi)
    try:
        axes.set_axis_off()
        axes.set_aspect("equal")
        cells.boundary.plot(ax=axes, color="#cbd5e1", linewidth=0.3)
        if len(cases):
            x, y = to_metric(cases.geometry.x.to_numpy(), cases.geometry.y.to_numpy())
            # 300 m over a district; narrower over a few cells, where 300 m would cover them all.
            extent = max(maxx - minx, maxy - miny)
            heat = kernel_density(x, y, (minx, miny, maxx, maxy), bandwidth_m=float(np.clip(extent / 40, 50, BANDWIDTH_M)),
                                  cell_m=max(5.0, extent / 400))
            peak = float(heat.density.max())
            if peak > 0:
                hx0, hy0, hx1, hy1 = heat.bounds
                axes.imshow(heat.density / peak, extent=(hx0, hx1, hy0, hy1), cmap=HEAT_MAP, vmin=0, vmax=1,
                            interpolation="bilinear", zorder=2)
        outlines.to_crs(METRIC_CRS).boundary.plot(ax=axes, color="#334155", linewidth=0.9, zorder=3)
        if len(hot):
            hot.to_crs(METRIC_CRS).boundary.plot(ax=axes, color=HOT_COLOUR, linewidth=1.4, zorder=4)
        if len(cases):
            today = cases["today"].to_numpy(dtype=bool)
            for chosen, colour in ((~today, YESTERDAY_COLOUR), (today, TODAY_COLOUR)):
                axes.scatter(np.asarray(x)[chosen], np.asarray(y)[chosen], s=12, c=colour, edgecolors="white",
                             linewidths=0.3, zorder=5)
        axes.set_xlim(minx, maxx)
        axes.set_ylim(miny, maxy)
        figure.subplots_adjust(0, 0, 1, 1)
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=dpi)
        return out.getvalue()
    finally:
        plt.close(figure)
