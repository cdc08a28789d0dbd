"""Geocode Chinese address strings against the district's standard address table.

"宁波市江北区孔浦街道怡江社区槐树路77号3幢" is read level by level: street,
community, road, doorplate, building. Each level is matched against the
names the district knows, tolerating what clerks and callers write: a
missing level, 街 for 街道 and 社 for 社区, full-width digits, one wrong
character. The result says how far down the match went (its precision):
building, road, community, street or none. Pure: tables in, codes and a
point out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import pandas as pd
import shapely
from rapidfuzz import fuzz, process

# The ending of an administrative name that an address may leave out: 浙江(省), 宁波(市).
_LEVEL_ENDINGS = "省市"  # not 区 or 县: a road may start with the district's short name (江北大道)


def prefix_pattern(names) -> re.Pattern:
    """What an address may begin with before the street: each name in turn, each optional, its ending too."""
    parts = []
    for name in names:
        base, ending = (name[:-1], name[-1]) if len(name) > 2 and name[-1] in _LEVEL_ENDINGS else (name, "")
        parts.append(f"(?:{re.escape(base)}{re.escape(ending) + '?' if ending else ''})?")
    return re.compile("^" + "".join(parts))
_ROAD = re.compile(r"(?P<road>[\u4e00-\u9fff]{1,10}?(?:大道|路|街|巷|弄))"
                   r"(?:(?P<doorplate>\d+)号)?(?:(?P<building>\d+)(?:幢|栋|号楼|座))?")
_ABBREVIATIONS = {"街道": "街", "社区": "社"}
# What follows a bare short name when it is really the start of a road or another level's name.
_ROAD_OR_LEVEL = re.compile(r"[东西南北中]?(?:路|街|巷|弄|道|大道)|社|村|镇")
# One wrong character in a three-character name still scores 66.7; two in it do not.
_FUZZY_NEAR = 66
# Across the whole district, with no street or community to narrow it, ask for more.
_FUZZY_FAR = 80


@dataclass(frozen=True)
class Match:
    """Where an address lies: its community and street (None where unknown) and how precisely."""

    community_code: str | None
    street_code: str | None
    precision: str  # building | road | community | street | none
    address_id: str | None = None
    lon: float | None = None
    lat: float | None = None


NO_MATCH = Match(None, None, "none")


@dataclass(frozen=True)
class ParsedAddress:
    """The levels read from one address, as matched (codes) and as written (road, numbers)."""

    street_code: str | None = None
    community_code: str | None = None
    road: str | None = None
    doorplate: str | None = None
    building: str | None = None


def normalise_address(address: str) -> str:
    """Full-width to half-width, no spaces, no punctuation noise."""
    text = unicodedata.normalize("NFKC", address or "")
    return re.sub(r"[\s,，。、·\-—()（）]+", "", text)


def _short(name: str) -> str:
    for suffix in ("社区", "村", "街道", "镇"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def _closest(query: str, choices: dict, cutoff: float) -> set:
    """The choices (values) closest to ``query`` at or above ``cutoff``; several when they tie."""
    if not query or not choices:
        return set()
    found = process.extract(query, list(choices), scorer=fuzz.ratio, limit=None, score_cutoff=cutoff)
    if not found:
        return set()
    top = found[0][1]
    return {choices[name] for name, score, _ in found if score == top}


def _one(codes: set):
    return next(iter(codes)) if len(codes) == 1 else None


class AddressMatcher:
    """Match addresses against the district's streets, communities and standard address table.

    Parameters
    ----------
    communities : DataFrame with community_code, name, street_code
    streets : DataFrame with street_code, name
    addresses : GeoDataFrame of the standard address table (address_id,
        community_code, street_code, road, doorplate, building, point
        geometry), or None to match down to community level only
    prefix : the names an address may begin with before the street, in order
        (country, province, city, district: 中国 浙江省 宁波市 江北区)
    elsewhere : names that mark an address as another place (the other 江北区
        is in Chongqing): such an address matches nothing
    """

    def __init__(self, communities: pd.DataFrame, streets: pd.DataFrame, addresses=None, *,
                 prefix=(), elsewhere=()):
        self._prefix = prefix_pattern(prefix)
        self._elsewhere = tuple(elsewhere)
        self._community_street = dict(zip(communities["community_code"], communities["street_code"]))
        self._street_forms = self._forms(zip(streets["name"], streets["street_code"]))
        self._community_forms = self._forms(zip(communities["name"], communities["community_code"]))
        self._street_names = dict(zip(streets["name"], streets["street_code"]))
        self._community_names = dict(zip(communities["name"], communities["community_code"]))
        self._addresses: dict = {}
        self._roads: dict[str, list] = {}  # road → [(community_code, street_code)]
        self._roads_in: dict[str, set] = {}  # community or street code → its roads
        self._road_points: dict[tuple, tuple] = {}  # (road, community_code) → (lon, lat) of the road's middle address
        if addresses is not None and len(addresses):
            self._index_addresses(addresses)

    @staticmethod
    def _forms(pairs):
        """Every way a name is written, longest first: (form, codes, how), how being full, abbreviated or bare.

        街道 may be written 街 and 社区 社; the bare short name ("怡江") too.
        A form two places share keeps both codes: the street or road decides.
        """
        forms = {}
        for name, code in pairs:
            forms.setdefault(name, (set(), "full"))[0].add(code)
            short = _short(name)
            if short == name:
                continue
            for suffix, abbreviation in _ABBREVIATIONS.items():
                if name.endswith(suffix):
                    forms.setdefault(short + abbreviation, (set(), "abbreviated"))[0].add(code)
            forms.setdefault(short, (set(), "bare"))[0].add(code)
        return sorted(((f, codes, how) for f, (codes, how) in forms.items()), key=lambda item: -len(item[0]))

    def _index_addresses(self, addresses):
        xs = shapely.get_x(addresses.geometry.values)
        ys = shapely.get_y(addresses.geometry.values)
        table = addresses.assign(lon=xs, lat=ys)
        for row in table[["address_id", "road", "doorplate", "building", "community_code",
                          "street_code", "lon", "lat"]].itertuples(index=False):
            building = row.building if isinstance(row.building, str) and row.building else None
            self._addresses[(row.road, str(row.doorplate), building)] = (
                row.address_id, row.community_code, row.street_code, row.lon, row.lat)
        for (road, community, street), group in table.groupby(["road", "community_code", "street_code"]):
            self._roads.setdefault(road, []).append((community, street))
            self._roads_in.setdefault(community, set()).add(road)
            self._roads_in.setdefault(street, set()).add(road)
            middle = group.iloc[len(group) // 2]
            self._road_points[(road, community)] = (middle["lon"], middle["lat"])

    def community_named(self, name: str) -> Match:
        """A community given by name alone (a register's 所属社区 column)."""
        text = normalise_address(name)
        code = self._community_names.get(text) or next((_one(c) for f, c, _ in self._community_forms if f == text), None)
        if code is None:
            code = _one(_closest(text, self._community_names, _FUZZY_NEAR + 9))
        if code is None:
            return NO_MATCH
        return Match(code, self._community_street[code], "community")

    def parse(self, address: str) -> ParsedAddress | None:
        """Read an address into its levels; None for an address of another city."""
        levels = self._levels(address)
        if levels is None:
            return None
        streets, communities, road = levels
        return ParsedAddress(_one(streets), _one(communities), *(road or (None, None, None)))

    def _levels(self, address):
        """(street candidates, community candidates, (road, doorplate, building) or None)."""
        text = normalise_address(address)
        if any(place in text for place in self._elsewhere):
            return None
        text = self._prefix.sub("", text)
        streets, text = self._take(text, self._street_forms, r"^(.{2,3}?)(?:街道|镇)", self._street_names, set())
        communities, text = self._take(text, self._community_forms, r"^(.{2,5}?)(?:社区|村)",
                                       self._community_names, streets)
        road = _ROAD.search(text)
        return streets, communities, (road["road"], road["doorplate"], road["building"]) if road else None

    def _take(self, text, forms, pattern, names, streets):
        """Consume one level from the front of ``text``: the codes it may be (several if a typo is ambiguous)."""
        def fits(code):
            return not streets or self._community_street.get(code, code) in streets

        for form, codes, how in forms:
            if not text.startswith(form):
                continue
            rest = text[len(form):]
            # A short name followed by a number, another level's suffix or 路 starts a road ("孔浦路12号").
            if rest[:1].isdigit() or (how == "bare" and (not rest or _ROAD_OR_LEVEL.match(rest))):
                continue
            return {c for c in codes if fits(c)}, rest
        written = re.match(pattern, text)
        if written:
            codes = _closest(written.group(0), {n: c for n, c in names.items() if fits(c)}, _FUZZY_NEAR)
            if codes:
                return codes, text[written.end():]
        return set(), text

    def match(self, address: str) -> Match:
        """The address's community, street and building or road point, as precisely as it says; NO_MATCH otherwise."""
        levels = self._levels(address) if isinstance(address, str) else None
        if levels is None:
            return NO_MATCH
        streets, communities, road = levels
        if road is not None:
            found = self._match_road(road, streets, communities)
            if found is not None:
                return found
        community = _one(communities)
        if community is not None:
            return Match(community, self._community_street[community], "community")
        street = _one(streets) or _one({self._community_street[c] for c in communities})
        if street is not None:
            return Match(None, street, "street")
        return NO_MATCH

    def _closest_road(self, written, doorplate, scoped, *, near):
        """A mistyped road: the one close name that has the doorplate written, else the one closest name."""
        names = {r: r for r in scoped}
        if doorplate:
            close = process.extract(written, list(names), scorer=fuzz.ratio, limit=None, score_cutoff=_FUZZY_NEAR)
            having = {r for r, _, _ in close if (r, doorplate, None) in self._addresses}
            if len(having) == 1:
                return next(iter(having))
        return _one(_closest(written, names, _FUZZY_NEAR if near else _FUZZY_FAR))

    def _match_road(self, written, streets, communities):
        road, doorplate, building = written

        def fits(place):
            c, s = place
            return (not communities or c in communities) and (not streets or s in streets)

        # Only the roads of the communities (or streets) written are candidates; all, if neither is.
        if communities:
            candidates = {r for c in communities for r in self._roads_in.get(c, ())}
        elif streets:
            candidates = {r for s in streets for r in self._roads_in.get(s, ())}
        else:
            candidates = self._roads
        scoped = {r: [p for p in self._roads[r] if fits(p)] for r in candidates}
        scoped = {r: places for r, places in scoped.items() if places}
        if road not in scoped:
            road = self._closest_road(road, doorplate, scoped, near=bool(communities or streets))
        if road is None:
            return None
        if doorplate:
            for b in (building, None):
                hit = self._addresses.get((road, doorplate, b))
                if hit is not None and fits(hit[1:3]):
                    address_id, c, s, x, y = hit
                    return Match(c, s, "building", address_id, x, y)
        # The road is known but not the number: its middle address, if the road lies in one community.
        if len(scoped[road]) != 1:
            return None
        c, s = scoped[road][0]
        x, y = self._road_points[(road, c)]
        return Match(c, s, "road", None, x, y)
