"""A user's area: the district, a street, a community or a set of grid cells.

Codes nest (a community's 12-digit code starts with its street's 9 digits, a
grid cell's code with its community's), so an area turns into plain filter
terms for any layer: the terms are ANDed onto whatever else a request asks
for, and a request for a place outside the area comes back empty.
"""

from __future__ import annotations

from dataclasses import dataclass

from layers.errors import InvalidValue
from layers.schema import LAYERS
from layers.store import Condition

AREA_KINDS = {"district": ("全区", "District"), "street": ("街道", "Street"),
              "community": ("社区", "Community"), "cells": ("网格", "Grid cells")}
# How long each level's code is; a grid cell's code is longer than its community's.
STREET_DIGITS, COMMUNITY_DIGITS = 9, 12


def district_names(district) -> tuple[str, str]:
    """The district's name in Chinese and in English, from its stored row (English: the Chinese, if none is stored)."""
    if district is None or not len(district):
        return "本区", "District"
    row = district.iloc[0]
    zh = row["name"] if isinstance(row.get("name"), str) and row["name"] else "本区"
    en = row.get("name_en")
    return zh, en if isinstance(en, str) and en else zh


# Where nothing is drawn yet (an empty store), a map shows mainland China.
CHINA_EXTENT = (73.5, 18.0, 135.1, 53.6)


def district_extent(district) -> tuple[float, float, float, float]:
    """The district's outline's bounds (CGCS2000 lon/lat); China's before any district is loaded."""
    if district is None or not len(district) or district.geometry.isna().all():
        return CHINA_EXTENT
    minx, miny, maxx, maxy = (float(v) for v in district.total_bounds)
    return minx, miny, maxx, maxy


class AreaError(InvalidValue):
    """An area that cannot be read or does not exist."""


@dataclass(frozen=True)
class Area:
    """What a user or kiosk may see: the district, a street, a community, or some grid cells."""

    kind: str = "district"
    codes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> "Area":
        """``district``, ``street:330205003``, ``community:330205003001`` or ``cells:CODE,CODE,...``."""
        kind, _, rest = str(spec or "").strip().partition(":")
        codes = tuple(dict.fromkeys(c.strip() for c in rest.replace(";", ",").split(",") if c.strip()))
        if kind not in AREA_KINDS:
            raise AreaError(f"area {spec!r}: kind must be one of {', '.join(AREA_KINDS)}")
        if kind == "district" and codes:
            raise AreaError(f"area {spec!r}: the district takes no code")
        if kind in ("street", "community") and len(codes) != 1:
            raise AreaError(f"area {spec!r}: a {kind} area names exactly one code")
        if kind == "cells" and not codes:
            raise AreaError(f"area {spec!r}: name at least one grid cell")
        return cls(kind, codes)

    def spec(self) -> str:
        """The area as written in the store and on the command line: district, street:CODE, cells:A,B."""
        return self.kind if self.kind == "district" else f"{self.kind}:{','.join(self.codes)}"

    @property
    def is_district(self) -> bool:
        """Whether the area is the whole district."""
        return self.kind == "district"

    def conditions(self, layer: str) -> list[Condition]:
        """The filter terms that keep ``layer`` inside the area.

        A layer without a grid cell column (estates, setback areas) is kept to
        the cells' communities: an estate straddles cells, and its leader needs it whole.
        A layer with no area column at all (the district outline) is not narrowed.
        """
        if self.is_district:
            return []
        columns = LAYERS[layer].columns
        by_level = [("grid_cell", None), ("community_code", COMMUNITY_DIGITS), ("street_code", STREET_DIGITS)]
        if self.kind == "street":
            by_level = by_level[2:]
        elif self.kind == "community":
            by_level = [("community_code", None), ("street_code", STREET_DIGITS)]
        for column, digits in by_level:
            if column in columns:
                values = sorted({c[:digits] if digits else c for c in self.codes})
                return [Condition(column, "=", values[0]) if len(values) == 1 else Condition(column, "in", values)]
        return []

    def overlaps(self, code: str | None) -> bool:
        """Whether a street, community or cell code shares ground with the area (no code: the whole area)."""
        if not code or self.is_district:
            return True
        return any(a.startswith(code) or code.startswith(a) for a in self.codes)

    def contains(self, code: str | None) -> bool:
        """Whether the place with this code lies wholly inside the area."""
        if self.is_district:
            return True
        return code is not None and bool(code) and any(code.startswith(a) for a in self.codes)


DISTRICT = Area()


def area_places(area: Area, read_layer) -> list[str]:
    """The names of the streets or communities an area is made of (none for the district);
    ``read_layer(name)`` gives a geography layer."""
    if area.is_district:
        return []
    layer, column = {"street": ("streets", "street_code"), "community": ("communities", "community_code"),
                     "cells": ("communities", "community_code")}[area.kind]
    codes = [c[:COMMUNITY_DIGITS] for c in area.codes] if area.kind == "cells" else list(area.codes)
    places = read_layer(layer)
    return list(places.loc[places[column].isin(set(codes)).to_numpy(), "name"])
