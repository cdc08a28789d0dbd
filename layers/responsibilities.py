"""The responsibility list (属地管理责任清单) as a lookup: which unit answers for a case.

For a case the most specific entry wins: its community's, else its street's,
else the district's. A case no entry covers gets no unit: that is a blind spot
the analysis shows (``gis.blind_spots``), not an error.
"""

from __future__ import annotations

import pandas as pd


def responsible_units(cases: pd.DataFrame, responsibilities: pd.DataFrame) -> pd.Series:
    """The unit answering for each case (category + community/street/district), or None."""
    if responsibilities.empty or cases.empty:
        return pd.Series(None, index=cases.index, dtype=object)
    units = dict(zip(responsibilities["category"] + "|" + responsibilities["area_code"], responsibilities["unit"]))
    street = cases["street_code"].astype(object)
    district = street.str[:6]
    found = pd.Series(None, index=cases.index, dtype=object)
    for level in (district, street, cases["community_code"].astype(object)):  # the most specific wins
        unit = (cases["category"].astype(object) + "|" + level).map(units)
        found = unit.where(unit.notna(), found)
    return found.astype(object).where(found.notna(), None)
