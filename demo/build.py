"""Build the demo: geography, ground truth, and the raw files a real district would hand over."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyogrio

from demo.addresses import build_addresses
from demo.district import build_district
from demo.exports import write_exports
from demo.matters import generate_matters
from demo.responsibilities import write_responsibilities


def build_demo(out_dir, *, seed: int = 2020, until=None, progress=None) -> dict:
    """Write the demo district under ``out_dir``.

    Returns a dict with ``geography`` (a GeoPackage of the district's layers
    and its standard address table, CGCS2000), ``responsibilities`` (the
    responsibility list, XLSX), ``exports`` (channel → raw export path) and
    ``matters`` (the ground truth, for tests) and ``hot_areas`` (the planted hot areas, each a list of
    grid cells). ``progress(step)`` is told each step as it starts (the build takes a minute or two).
    """
    step = progress or (lambda text: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    step("the district: streets, communities, grid cells, estates")
    district = build_district(seed)
    step("the standard address table")
    district = replace(district, addresses=build_addresses(district, seed))
    geography = out / "jiangbei_geography.gpkg"
    geography.unlink(missing_ok=True)
    for name, layer in district.layers().items():
        # Components are not geography: they come in as an inventory export, through a profile.
        if name != "components":
            pyogrio.write_dataframe(layer, geography, layer=name, driver="GPKG")
    step("the matters of 2020 until now")
    matters = generate_matters(district, seed=seed, until=until)
    step("each channel's export of them")
    exports = write_exports(matters, district, out / "raw", seed=seed)
    step("the responsibility list")
    responsibilities = write_responsibilities(district, out / "属地管理责任清单.xlsx")
    return {"geography": geography, "responsibilities": responsibilities, "exports": exports, "matters": matters, "district": district,
            "hot_areas": matters.attrs["hot_areas"],
            "built_at": pd.Timestamp.now()}
