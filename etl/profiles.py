"""Source profiles: one small TOML file describes one channel's export.

A new source is a new profile, not new code. Profiles ship in
``etl/profiles/``; a path to any other TOML file works the same way.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from gis.datums import DatumError, to_cgcs2000
from layers.components import COMPONENT_STATES
from layers.errors import BadProfile
from layers.glossary import CHANNELS
from layers.schema import CASE_KINDS, CASE_STATUSES, LEVELS

# What a profile describes: case records of a channel, or a component inventory.
TARGETS = ("cases", "components")
# Canonical fields a profile may map a source column to, per target, and those it must map.
FIELDS = {
    "cases": ("source_id", "reported_at", "dispatched_at", "closed_at", "category", "description",
              "reporter_phone", "status", "level_received", "level", "resolved_in_place", "people",
              "kind", "address", "component_id"),
    "components": ("component_id", "class_name", "state", "managing_unit", "owning_unit",
                   "maintaining_unit", "surveyed_at"),
}
REQUIRED = {"cases": ("source_id", "reported_at", "category", "status"), "components": ("component_id",)}
FORMATS = ("csv", "xlsx", "json", "geojson")
# A datetime format that reads ISO 8601 / RFC 3339 times, with or without an offset (etl.normalise).
ISO8601 = "iso8601"


class ProfileError(BadProfile):
    """A profile that cannot describe an export."""


@dataclass(frozen=True)
class Location:
    x: str | None = None
    y: str | None = None
    datum: str | None = None
    address: str | None = None
    community: str | None = None
    datum_column: str | None = None  # a column that gives each row's datum (``datum`` where it is empty)


@dataclass(frozen=True)
class Profile:
    source: str
    channel: str | None
    format: str
    columns: dict
    location: Location
    datetime_formats: tuple[str, ...]
    encoding: str | None = None
    sheet: str | None = None
    records: str | None = None
    kind: str | None = None
    vocab: dict = field(default_factory=dict)
    path: str = ""
    target: str = "cases"


def available_profiles() -> list[str]:
    folder = resources.files("etl").joinpath("profiles")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def read_profile(name_or_path: str) -> Profile:
    """Load a shipped profile by name (``hotline_12345``) or any profile file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        text, where = path.read_text(encoding="utf-8"), str(path)
    else:
        res = resources.files("etl").joinpath("profiles", f"{name_or_path}.toml")
        if not res.is_file():
            raise ProfileError(f"no source profile {name_or_path!r}; shipped profiles: "
                               f"{', '.join(available_profiles())}, or give a .toml path")
        text, where = res.read_text(encoding="utf-8"), f"etl/profiles/{name_or_path}.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {where}: not valid TOML: {exc}") from exc
    return _validate(raw, where)


def _validate(raw: dict, where: str) -> Profile:
    problems = []
    target = raw.get("target", "cases")
    unknown = set(raw) - {"source", "target", "channel", "description", "format", "encoding", "sheet", "records",
                          "kind", "datetime_formats", "columns", "location", "vocab"}
    if unknown:
        problems.append(f"unknown keys {sorted(unknown)}")
    if target not in TARGETS:
        problems.append(f"target {target!r} is not one of {TARGETS}")
        target = "cases"
    for key in ("source", "format", "columns", "datetime_formats") + (("channel",) if target == "cases" else ()):
        if key not in raw:
            problems.append(f"missing key {key!r}")
    if target == "cases" and raw.get("channel") not in CHANNELS:
        problems.append(f"channel {raw.get('channel')!r} is not one of {sorted(CHANNELS)}")
    if raw.get("format") not in FORMATS:
        problems.append(f"format {raw.get('format')!r} is not one of {FORMATS}")
    columns = raw.get("columns", {})
    bad = set(columns) - set(FIELDS[target])
    if bad:
        problems.append(f"columns maps unknown fields {sorted(bad)}; allowed for {target}: {FIELDS[target]}")
    for req in REQUIRED[target]:
        if req not in columns:
            problems.append(f"columns lacks required field {req!r}")
    kind = raw.get("kind")
    if target == "cases" and kind is None and "kind" not in columns:
        problems.append("give either kind = \"dispute|event|petition\" or a kind column")
    if kind is not None and kind not in CASE_KINDS:
        problems.append(f"kind {kind!r} is not one of {CASE_KINDS}")
    try:
        location = Location(**raw.get("location", {}))
    except TypeError as exc:
        problems.append(f"location: {exc}")
        location = Location()
    if (location.x is None) != (location.y is None):
        problems.append("location needs both x and y, or neither")
    if location.x is not None and location.datum is None:
        problems.append("location has coordinates but no datum: nothing is guessed")
    if location.datum is not None:
        try:
            to_cgcs2000([], [], location.datum)
        except DatumError as exc:
            problems.append(f"location: {exc}")
    if target == "components" and location.x is None:
        problems.append("a component inventory needs coordinates (location x, y, datum)")
    vocab = raw.get("vocab", {})
    allowed_words = (("status", CASE_STATUSES), ("level", LEVELS), ("kind", CASE_KINDS),
                     ("state", tuple(COMPONENT_STATES)))
    unknown_vocab = set(vocab) - {"status", "level", "kind", "state", "resolved_in_place", "category"}
    if unknown_vocab:
        problems.append(f"vocab: unknown fields {sorted(unknown_vocab)}")
    for word, value in vocab.get("category", {}).items():
        if not isinstance(value, str) or not value.strip():
            problems.append(f"vocab.category: {word!r} maps to {value!r}, not a category name")
    for fieldname, allowed in allowed_words:
        for word, value in vocab.get(fieldname, {}).items():
            if value not in allowed:
                problems.append(f"vocab.{fieldname}: {word!r} maps to {value!r}, not one of {allowed}")
    if problems:
        raise ProfileError(f"profile {where}: " + "; ".join(problems))
    return Profile(
        source=raw["source"], channel=raw.get("channel"), format=raw["format"], columns=dict(columns),
        location=location, datetime_formats=tuple(raw["datetime_formats"]),
        encoding=raw.get("encoding"), sheet=raw.get("sheet"), records=raw.get("records"),
        kind=kind, vocab=vocab, path=where, target=target,
    )
