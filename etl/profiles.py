"""Source profiles: one small TOML file describes one channel's export.

A new source is a new profile, not new code. Profiles ship in
``etl/profiles/``; a path to any other TOML file works the same way. Every key: docs/profiles.md.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date, datetime
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
FORMATS = ("csv", "xlsx", "json", "jsonl", "geojson")
# A datetime format that reads ISO 8601 / RFC 3339 times, with or without an offset (etl.normalise).
ISO8601 = "iso8601"
LOCATION_KEYS = ("x", "y", "datum", "address", "community", "datum_column")
# What a GeoJSON reader makes of each Point feature's coordinates (etl.read); a geojson profile's
# location takes them as x and y unless it names other columns.
GEOJSON_X, GEOJSON_Y = "@x", "@y"
# Fields whose values must be one of a closed set: an unlisted value cannot pass through.
CLOSED = {"status": CASE_STATUSES, "level": LEVELS, "kind": CASE_KINDS, "state": tuple(COMPONENT_STATES),
          "resolved_in_place": (True, False)}
# Fields a [vocab.FIELD] map may translate (level: both level_received and level).
VOCAB_FIELDS = ("status", "level", "kind", "state", "resolved_in_place", "category")
UNLISTED = ("keep", "default", "refuse")
# The keys of a [vocab.FIELD] table that are its policy, not source words.
POLICY_KEYS = ("unlisted", "default")
TOP_KEYS = ("source", "target", "channel", "channel_title", "description", "format", "encoding", "delimiter", "sheet",
            "records", "kind", "datetime_formats", "columns", "fixed", "location", "vocab")


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
class Unlisted:
    """What becomes of a value a [vocab.FIELD] map does not list: kept as it is, a default, or refused."""

    policy: str = "keep"
    default: object = None


@dataclass(frozen=True)
class Profile:
    source: str
    channel: str | None
    format: str
    columns: dict
    location: Location
    datetime_formats: tuple[str, ...]
    encoding: str | None = None
    delimiter: str = ","  # a CSV's cell separator
    sheet: str | None = None
    records: str | None = None
    kind: str | None = None
    vocab: dict = field(default_factory=dict)
    path: str = ""
    target: str = "cases"
    # The channel's (中文, English) title, for a channel the glossary does not ship.
    channel_title: tuple[str, str] | None = None
    # Fields every row of the export has, with their canonical value (``[fixed] status = "reported"``).
    fixed: dict = field(default_factory=dict)
    # Per vocab field, what an unlisted value becomes; a field not here: keep (open) or refuse (closed).
    unlisted: dict = field(default_factory=dict)

    def unlisted_rule(self, vocab_field: str) -> Unlisted:
        if vocab_field in self.unlisted:
            return self.unlisted[vocab_field]
        return Unlisted("refuse") if vocab_field in CLOSED else Unlisted("keep")


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
    problems: list[str] = []
    target = raw.get("target", "cases")
    unknown = set(raw) - set(TOP_KEYS)
    if unknown:
        problems.append(f"unknown keys {sorted(unknown)}; allowed: {', '.join(TOP_KEYS)}")
    if target not in TARGETS:
        problems.append(f"target {target!r} is not one of {TARGETS}")
        target = "cases"
    for key in ("source", "format", "datetime_formats") + (("channel",) if target == "cases" else ()):
        if key not in raw:
            problems.append(f"missing key {key!r}")
    fmt = raw.get("format")
    if fmt not in FORMATS:
        problems.append(f"format {fmt!r} is not one of {FORMATS}")
    channel_title = _channel_title(raw, target, problems)
    columns = raw.get("columns", {})
    fixed = _fixed(raw.get("fixed", {}), columns, target, problems)
    bad = set(columns) - set(FIELDS[target])
    if bad:
        problems.append(f"columns maps unknown fields {sorted(bad)}; allowed for {target}: {FIELDS[target]}")
    for req in REQUIRED[target]:
        if req not in columns and req not in fixed:
            problems.append(f"columns lacks required field {req!r} (or give it in [fixed])")
    if "kind" in raw and "kind" in fixed:
        problems.append("kind is given both at the top and in [fixed]; give it once")
    kind = raw.get("kind", fixed.pop("kind", None))
    if target == "cases" and kind is None and "kind" not in columns:
        problems.append("give either kind = \"dispute|event|petition\" or a kind column")
    if kind is not None and kind not in CASE_KINDS:
        problems.append(f"kind {kind!r} is not one of {CASE_KINDS}")
    location = _location(raw.get("location", {}), fmt, target, problems)
    vocab, unlisted = _vocab(raw.get("vocab", {}), problems)
    delimiter = raw.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"\r\n":
        problems.append(f"delimiter {delimiter!r} is not one character (\",\", \";\", \"\\t\", \"|\")")
    records = raw.get("records")
    if records is not None and (not isinstance(records, str) or not records.strip(".")):
        problems.append(f"records {records!r} is not a key or a dotted path (data.items)")
    if problems:
        raise ProfileError(f"profile {where}: " + "; ".join(problems))
    return Profile(
        source=raw["source"], channel=raw.get("channel"), format=raw["format"], columns=dict(columns),
        location=location, datetime_formats=tuple(raw["datetime_formats"]),
        encoding=raw.get("encoding"), delimiter=delimiter, sheet=raw.get("sheet"), records=records,
        kind=kind, vocab=vocab, path=where, target=target, channel_title=channel_title, fixed=fixed,
        unlisted=unlisted,
    )


def _channel_title(raw, target, problems) -> tuple[str, str] | None:
    """A new channel brings its title; a shipped one has it in the glossary."""
    channel, title = raw.get("channel"), raw.get("channel_title")
    if target != "cases" or channel is None:
        return None
    if not isinstance(channel, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", channel):
        problems.append(f"channel {channel!r} is not a code of lower-case letters, digits and _ (xin_app)")
        return None
    if isinstance(title, str):
        title = [title, title]
    if title is not None and not (isinstance(title, list) and len(title) == 2
                                  and all(isinstance(t, str) and t.strip() for t in title)):
        problems.append(f"channel_title {title!r} is not [\"中文名\", \"English name\"]")
        return None
    if channel in CHANNELS:
        if title is not None and tuple(title) != CHANNELS[channel]:
            problems.append(f"channel {channel!r} ships with the title {list(CHANNELS[channel])}; "
                            "leave channel_title out, or name a new channel")
        return CHANNELS[channel]
    if title is None:
        problems.append(f"channel {channel!r} is new (shipped: {', '.join(sorted(CHANNELS))}): "
                        "give its title, channel_title = [\"中文名\", \"English name\"]")
        return None
    return (title[0].strip(), title[1].strip())


def _fixed(fixed, columns, target, problems) -> dict:
    """[fixed]: a field the export lacks but the profile knows, as its canonical value."""
    out = {}
    for name, value in fixed.items():
        if name not in FIELDS[target] or name == "source_id" or name == "component_id":
            problems.append(f"fixed: {name!r} cannot be fixed; fields: "
                            f"{[f for f in FIELDS[target] if f not in ('source_id', 'component_id')]}")
        elif name in columns:
            problems.append(f"fixed: {name!r} is also a column; give it one way")
        elif name.endswith("_at"):
            if isinstance(value, str):
                try:
                    value = datetime.fromisoformat(value)
                except ValueError:
                    problems.append(f"fixed.{name}: {value!r} is not a date or time (2020-11-18T09:30:00)")
                    continue
            if isinstance(value, date) and not isinstance(value, datetime):
                value = datetime(value.year, value.month, value.day)
            if not isinstance(value, datetime):
                problems.append(f"fixed.{name}: {value!r} is not a date or time (2020-11-18T09:30:00)")
                continue
            out[name] = value.replace(tzinfo=None)
        elif name == "people":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"fixed.people: {value!r} is not a whole number of 1 or more")
            else:
                out[name] = value
        elif name in CLOSED or name.startswith("level"):
            allowed = CLOSED["level" if name.startswith("level") else name]
            if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
                problems.append(f"fixed.{name}: {value!r} is not one of {allowed}")
            else:
                out[name] = value
        elif not isinstance(value, str) or not value.strip():
            problems.append(f"fixed.{name}: {value!r} is not text")
        else:
            out[name] = value.strip()
    return out


def _location(given, fmt, target, problems) -> Location:
    unknown = set(given) - set(LOCATION_KEYS)
    if unknown:
        problems.append(f"location: unknown keys {sorted(unknown)}; allowed: {', '.join(LOCATION_KEYS)}")
    location = Location(**{k: v for k, v in given.items() if k in LOCATION_KEYS})
    if fmt == "geojson" and location.x is None and location.y is None:
        if location.datum is not None:  # each feature's own point
            location = replace(location, x=GEOJSON_X, y=GEOJSON_Y)
        elif location.address is None and location.community is None:
            problems.append("location: a geojson profile reads each feature's point in the datum it gives "
                            "([location] datum = \"wgs84|gcj02|bd09|cgcs2000|EPSG:N\"): nothing is guessed")
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
    return location


def _vocab(given, problems) -> tuple[dict, dict]:
    """The [vocab.FIELD] maps (source word → canonical value) and each one's policy for unlisted words."""
    unknown_vocab = set(given) - set(VOCAB_FIELDS)
    if unknown_vocab:
        problems.append(f"vocab: unknown fields {sorted(unknown_vocab)}; allowed: {', '.join(VOCAB_FIELDS)}")
    vocab, unlisted = {}, {}
    for name, table in given.items():
        if not isinstance(table, dict):
            problems.append(f"vocab.{name}: not a table of source word = value")
            continue
        words = {w: v for w, v in table.items() if w not in POLICY_KEYS}
        vocab[name] = words
        allowed = CLOSED.get(name)
        for word, value in words.items():
            if allowed is None and (not isinstance(value, str) or not value.strip()):
                problems.append(f"vocab.{name}: {word!r} maps to {value!r}, not a {name} name")
            elif allowed is not None and value not in allowed:
                problems.append(f"vocab.{name}: {word!r} maps to {value!r}, not one of {allowed}")
        policy, default = table.get("unlisted"), table.get("default")
        if policy is None and default is not None:
            policy = "default"
        if policy is None:
            continue
        if policy not in UNLISTED:
            problems.append(f"vocab.{name}: unlisted = {policy!r} is not one of {UNLISTED}")
        elif policy == "keep" and allowed is not None:
            problems.append(f"vocab.{name}: unlisted = \"keep\" cannot be: {name} must be one of {allowed} "
                            "(refuse, or a default)")
        elif policy == "default" and (default is None or (allowed is not None and default not in allowed)):
            problems.append(f"vocab.{name}: unlisted = \"default\" needs default = one of "
                            f"{allowed if allowed is not None else 'the ' + name + ' names'}, not {default!r}")
        elif policy != "default" and default is not None:
            problems.append(f"vocab.{name}: default is given but unlisted = {policy!r}")
        else:
            unlisted[name] = Unlisted(policy, default)
    return vocab, unlisted
