"""Geocode Chinese address strings to a community or street of the district.

Pure: takes the address and a table of places, returns codes and a
precision. Building- and road-level matching against the district's
standard address table comes on top of this (the intake issue).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import pandas as pd

# Another 江北区 exists (Chongqing): an address naming it must not land here.
_OTHER_CITIES = ("重庆", "渝北", "渝中")


@dataclass(frozen=True)
class Match:
    community_code: str | None
    street_code: str | None
    precision: str  # community | street | none


NO_MATCH = Match(None, None, "none")


def normalise_address(address: str) -> str:
    """Full-width to half-width, no spaces, no punctuation noise."""
    text = unicodedata.normalize("NFKC", address or "")
    return re.sub(r"[\s,，。、·]+", "", text)


def _short(name: str) -> str:
    for suffix in ("社区", "村", "街道", "镇"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


class AddressMatcher:
    """Match addresses against the district's communities and streets.

    Parameters
    ----------
    communities : DataFrame with community_code, name, street_code
    streets : DataFrame with street_code, name
    """

    def __init__(self, communities: pd.DataFrame, streets: pd.DataFrame):
        self._community_street = dict(zip(communities["community_code"], communities["street_code"]))
        full = list(zip(communities["name"], communities["community_code"]))
        self._full = sorted(full, key=lambda t: -len(t[0]))
        shorts = {}
        for name, code in full:
            shorts.setdefault(_short(name), []).append(code)
        # A short name shared by two communities says nothing: drop it.
        self._short = sorted(((s, c[0]) for s, c in shorts.items() if len(c) == 1), key=lambda t: -len(t[0]))
        self._streets = sorted(zip(streets["name"], streets["street_code"]), key=lambda t: -len(t[0]))
        self._by_name = {name: code for name, code in full}

    def community_named(self, name: str) -> Match:
        code = self._by_name.get(normalise_address(name))
        if code is None:
            return NO_MATCH
        return Match(code, self._community_street[code], "community")

    def match(self, address: str) -> Match:
        text = normalise_address(address)
        if not text or any(city in text for city in _OTHER_CITIES):
            return NO_MATCH
        street = next((code for name, code in self._streets
                       if name in text or (len(_short(name)) >= 2 and _short(name) + "街" in text)), None)
        for table in (self._full, self._short):
            for name, code in table:
                if name in text:
                    # A community under another street than the one named is a mismatch, not a hit.
                    if street is None or self._community_street[code] == street:
                        return Match(code, self._community_street[code], "community")
        if street is not None:
            return Match(None, street, "street")
        return NO_MATCH
