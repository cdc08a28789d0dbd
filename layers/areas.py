"""A user's area: the whole store, one district of it, a street, a community or a set of grid cells.

Codes nest (a street's 9-digit code starts with its district's 6 digits, a
community's 12-digit code with its street's, a grid cell's code with its
community's), so an area turns into plain filter terms for any layer: the
terms are ANDed onto whatever else a request asks for, and a request for a
place outside the area comes back empty. A store of one district knows only
``district`` (the whole of it); a city's or a province's store holds several,
and ``district:CODE`` is one of them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from layers.errors import InvalidValue
from layers.schema import LAYERS
from layers.store import Condition

AREA_KINDS = {"district": ("全区", "District"), "street": ("街道", "Street"),
              "community": ("社区", "Community"), "cells": ("网格", "Grid cells")}
# How long each level's code is; a grid cell's code is longer than its community's.
DISTRICT_DIGITS, STREET_DIGITS, COMMUNITY_DIGITS = 6, 9, 12


def district_names(district, code: str | None = None) -> tuple[str, str]:
    """The name in Chinese and in English of the district ``code`` names, from its stored row (English: the
    Chinese, if none is stored); without a code, of the whole store: its district, or, where it holds
    several, the place they share (宁波市 for Ningbo's districts, from the start their addresses share)."""
    if district is not None and code:
        district = district[district["district_code"] == code]
    if district is None or not len(district):
        return "本区", "District"
    if len(district) > 1:
        return _region_names(district)
    row = district.iloc[0]
    zh = row["name"] if isinstance(row.get("name"), str) and row["name"] else "本区"
    en = row.get("name_en")
    return zh, en if isinstance(en, str) and en else zh


def _region_names(districts) -> tuple[str, str]:
    prefixes = [p for p in districts["address_prefix"] if isinstance(p, str) and p]
    shared = os.path.commonprefix(prefixes) if len(prefixes) == len(districts) else ""
    # The last whole unit of the shared start: 浙江省宁波市江北区 and 浙江省宁波市海曙区 share 宁波市.
    units = re.findall(r".+?(?:省|自治区|市|州|盟|地区)", shared)
    zh = units[-1] if units else "全部区县"
    return zh, f"{zh} ({len(districts)} districts)" if units else f"{len(districts)} districts"


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
    """What a user or kiosk may see: the whole store (``district`` without a code), one district of a store
    that holds several, a street, a community, or some grid cells."""

    kind: str = "district"
    codes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> "Area":
        """``district``, ``district:330205``, ``street:330205003``, ``community:330205003001`` or
        ``cells:CODE,CODE,...``."""
        kind, _, rest = str(spec or "").strip().partition(":")
        codes = tuple(dict.fromkeys(c.strip() for c in rest.replace(";", ",").split(",") if c.strip()))
        if kind not in AREA_KINDS:
            raise AreaError(f"area {spec!r}: kind must be one of {', '.join(AREA_KINDS)}")
        if kind == "district" and codes and (len(codes) != 1 or not re.fullmatch(r"\d{6}", codes[0])):
            raise AreaError(f"area {spec!r}: a district is named by one 6-digit code (or none: the whole store)")
        if kind in ("street", "community") and len(codes) != 1:
            raise AreaError(f"area {spec!r}: a {kind} area names exactly one code")
        if kind == "cells" and not codes:
            raise AreaError(f"area {spec!r}: name at least one grid cell")
        return cls(kind, codes)

    def spec(self) -> str:
        """The area as written in the store and on the command line: district, street:CODE, cells:A,B."""
        return self.kind if self.is_district else f"{self.kind}:{','.join(self.codes)}"

    @property
    def is_district(self) -> bool:
        """Whether the area is the whole store: its one district, or every district of a city's store."""
        return self.kind == "district" and not self.codes

    def conditions(self, layer: str) -> list[Condition]:
        """The filter terms that keep ``layer`` inside the area.

        A layer without a grid cell column (estates, setback areas) is kept to
        the cells' communities: an estate straddles cells, and its leader needs it whole.
        A layer with no area column at all (the district outline) is not narrowed.
        """
        if self.is_district:
            return []
        columns = LAYERS[layer].columns
        if self.kind == "district":  # one district of several: by its code, or the codes that begin with it
            if "district_code" in columns:
                return [Condition("district_code", "=", self.codes[0])]
            coded = next((c for c in ("street_code", "community_code", "grid_cell") if c in columns), None)
            return [Condition(coded, "within", [code_span(self.codes[0])])] if coded else []
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


def code_span(prefix: str) -> tuple[str, str]:
    """The codes that begin with ``prefix`` as a range, ``prefix <= code < next``: one term any store answers
    through its index (codes are digits, so the next prefix is the last digit's successor)."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def area_places(area: Area, read_layer) -> list[str]:
    """The names of the streets or communities an area is made of (none for the district);
    ``read_layer(name)`` gives a geography layer."""
    if area.is_district:
        return []
    layer, column = {"district": ("streets", "street_code"), "street": ("streets", "street_code"),
                     "community": ("communities", "community_code"),
                     "cells": ("communities", "community_code")}[area.kind]
    places = read_layer(layer)
    if area.kind == "district":
        return list(places.loc[places[column].astype(str).str.startswith(area.codes[0]).to_numpy(), "name"])
    codes = [c[:COMMUNITY_DIGITS] for c in area.codes] if area.kind == "cells" else list(area.codes)
    return list(places.loc[places[column].isin(set(codes)).to_numpy(), "name"])
