"""The ingest run: read → normalise → locate → merge → store, with a report.

rows in = rows stored + rows merged + rows quarantined, for every run, where a stored row is
new (never seen), updated (seen, and something in it changed) or unchanged (seen, the same again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from etl.components import locate_components, normalise_components
from etl.datum_check import datum_warnings
from etl.locate import address_names, locate
from etl.merge import WINDOW, merge_duplicates
from etl.normalise import REASONS, Reach, normalise, unlisted_seen
from etl.profiles import Profile, read_profile
from etl.quarantine import cleared, placed
from etl.read import read_export
from gis.datums import METRIC_CRS, STORAGE_CRS
from gis.geocode import AddressMatcher
from layers.errors import InvalidValue
from layers.glossary import CHANNELS
from layers.responsibilities import responsible_units
from layers.schema import LAYERS, conform
from layers.store import Condition, Store

# Days a case has before it counts as overdue, by kind (信访: 60 days by regulation).
DEADLINE_DAYS = {"dispute": 30, "petition": 60, "event": 7}
# A case just over the line is the district's blind spot; one kilometres away is someone else's.
AREA_MARGIN_METRES = 1000.0
# Up to this many records, an ingest looks up the stored intake records by their ids, not by their channel.
KNOWN_LOOKUP_MAX = 20_000
SPANS_PER_READ = 200
# Rows of each layer a dry run shows as they would be stored.
PREVIEW_ROWS = 5
GEOGRAPHY = ("district", "streets", "communities", "grid_cells", "estates", "setback_areas", "addresses", "responsibilities")


class IngestError(InvalidValue):
    """An ingest that cannot start (no geography, unreadable file...)."""


@dataclass
class FileReport:
    file: str
    source: str
    encoding: str | None
    rows_in: int
    stored: int
    merged: int
    quarantined: int
    target: str = "cases"
    # Per field, the words its profile's map did not list and let through (or replaced by its default): count.
    unlisted: dict = field(default_factory=dict)
    # stored = new + updated + unchanged: a re-run of the same file is all unchanged.
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    # A declared datum the rows do not fit (etl.datum_check), as dicts: check, declared, likely, message.
    warnings: list = field(default_factory=list)


@dataclass(frozen=True)
class Pushed:
    """Rows a channel system sent (the push API), as a file's reader would have given them (``etl.read``)."""

    name: str
    rows: pd.DataFrame


@dataclass
class IngestReport:
    files: list[FileReport] = field(default_factory=list)
    by_reason: dict = field(default_factory=dict)
    # Per incoming record: file, row, case_id, merged, seen (stored by an earlier run); and the quarantined rows.
    outcomes: pd.DataFrame | None = field(default=None, repr=False)
    quarantine: pd.DataFrame | None = field(default=None, repr=False)
    # A dry run's: the first rows as they would be stored, per layer; nothing was written.
    dry_run: bool = False
    preview: dict = field(default_factory=dict, repr=False)
    # Quarantine entries of earlier runs whose rows this run ingested.
    cleared: int = 0

    @property
    def warnings(self) -> list[dict]:
        return [w for f in self.files for w in f.warnings]

    @property
    def rows_in(self):
        return sum(f.rows_in for f in self.files)

    @property
    def stored(self):
        return sum(f.stored for f in self.files)

    @property
    def new(self):
        return sum(f.new for f in self.files)

    @property
    def updated(self):
        return sum(f.updated for f in self.files)

    @property
    def unchanged(self):
        return sum(f.unchanged for f in self.files)

    @property
    def merged(self):
        return sum(f.merged for f in self.files)

    @property
    def quarantined(self):
        return sum(f.quarantined for f in self.files)

    def to_dict(self):
        return {"dry_run": self.dry_run, "rows_in": self.rows_in, "stored": self.stored, "new": self.new,
                "updated": self.updated,
                "unchanged": self.unchanged, "merged": self.merged,
                "quarantined": self.quarantined, "by_reason": dict(self.by_reason), "warnings": self.warnings,
                "cleared_from_quarantine": self.cleared,
                "files": [vars(f) for f in self.files]}


def ingest(paths, source: str | Profile, store: Store, *, dry_run: bool = False) -> IngestReport:
    """Ingest one or more exports of one source into ``store``."""
    profile = source if isinstance(source, Profile) else read_profile(source)
    return ingest_many([(p, profile) for p in paths], store, dry_run=dry_run)


def ingest_many(items, store: Store, *, progress=None, audit=None, dry_run: bool = False,
                preview_rows: int = PREVIEW_ROWS) -> IngestReport:
    """Ingest (path, profile) pairs in one run, so duplicates across them merge.

    A path may be :class:`Pushed` rows instead of a file. Every file is read
    and checked before anything is written: a file that cannot be read stops
    the run with nothing stored. Then cases, their intake records, components
    and quarantine land in one transaction. ``progress``, if given, is called
    with (step, files done, files) as the run goes; ``audit``, if given, with
    (cases before, cases after) and returns the audit rows that land in the
    same transaction. With ``dry_run``, all of that is decided and reported, with the first
    ``preview_rows`` rows of each layer as they would be stored, and nothing is written.
    """
    report = IngestReport(dry_run=dry_run)
    geography = read_geography(store)
    if geography["grid_cells"].empty:
        raise IngestError(f"store {store.url} has no grid cells: load the district's geography first")
    area = district_area(geography)
    cases, components, quarantines = [], [], []
    for n, (path, profile) in enumerate(items):
        if progress:
            progress("read", n, len(items))
        if isinstance(path, Pushed):
            raw, encoding, name = path.rows, None, path.name
        else:
            (raw, encoding), name = read_export(path, profile), Path(path).name
        check = normalise_components if profile.target == "components" else normalise
        records, quarantine = check(raw, profile, name, area=area)
        quarantine = placed(quarantine, raw, profile, geography)
        (components if profile.target == "components" else cases).append(records.assign(_item=n))
        quarantines.append(quarantine)
        warnings = datum_warnings(raw, records, profile, name, area=area, matcher_for=lambda: matcher(geography))
        report.files.append(FileReport(name, profile.source, encoding, len(raw), 0, 0, len(quarantine),
                                       profile.target, unlisted=unlisted_seen(raw, profile),
                                       warnings=[w.to_dict() for w in warnings]))
    quarantine = pd.concat(quarantines, ignore_index=True)
    for reason in REASONS:
        count = int(quarantine["reasons"].str.split(";").map(lambda rs: reason in rs).sum()) if len(quarantine) else 0
        if count:
            report.by_reason[reason] = count

    if progress:
        progress("locate", len(items), len(items))
    writes = {}
    records = pd.concat(cases, ignore_index=True) if cases else pd.DataFrame()
    if len(records):
        located = locate(records, geography)
        located["responsible_unit"] = responsible_units(located, geography["responsibilities"])
        known = store.read("case_sources", _known_terms(records))
        if progress:
            progress("merge", len(items), len(items))
        decided = merge_duplicates(located, known, _cases_near(store, records))
        writes["cases"], prior = _cases(decided, store)
        writes["case_sources"] = _case_sources(decided)
        seen = pd.MultiIndex.from_frame(decided[["source", "source_id"]]).isin(
            pd.MultiIndex.from_frame(known[["source", "source_id"]]))
        changed = changed_keys("cases", writes["cases"], prior)
        _count(report, decided["_item"], decided["merged"],
               outcome(seen, decided["case_id"].isin(changed).to_numpy()))
        report.outcomes = decided[["file", "row", "case_id", "merged"]].assign(seen=seen).reset_index(drop=True)
        if audit is not None:
            writes["audit"] = audit(prior, writes["cases"])
    inventory = pd.concat(components, ignore_index=True) if components else pd.DataFrame()
    if len(inventory):
        writes["components"] = located = locate_components(inventory, geography["grid_cells"]).drop(columns="_item")
        ids = sorted(set(located["component_id"]))
        prior_components = store.read("components", [Condition("component_id", "in", ids)])
        changed = changed_keys("components", located, prior_components)
        seen = located["component_id"].isin(set(prior_components["component_id"])).to_numpy()
        _count(report, inventory["_item"], pd.Series(False, index=inventory.index),
               outcome(seen, located["component_id"].isin(changed).to_numpy()))
    brought = _brought_channels([profile for _path, profile in items])
    if len(brought):
        writes["channels"] = brought
    report.quarantine = quarantine
    kept = quarantine.drop(columns="_problems", errors="ignore")
    clear = cleared(store.read("quarantine", [Condition("source", "in", sorted({p.source for _, p in items}))]),
                    _ingested(records, inventory), kept, pd.Timestamp.now())
    report.cleared = len(clear)
    writes["quarantine"] = pd.concat([kept, clear], ignore_index=True) if len(clear) else kept
    if dry_run:
        report.preview = {name: frame.head(preview_rows) for name, frame in writes.items()
                          if name in ("cases", "components", "quarantine")}
        return report
    if progress:
        progress("write", len(items), len(items))
    store.upsert_many(writes)
    return report


def _brought_channels(profiles) -> pd.DataFrame:
    """The channels the profiles bring that the glossary does not ship, with their titles (the channels layer)."""
    rows = {p.channel: p.channel_title for p in profiles
            if p.target == "cases" and p.channel_title and p.channel not in CHANNELS}
    return pd.DataFrame([{"channel": c, "title_zh": t[0], "title_en": t[1]} for c, t in rows.items()],
                        columns=["channel", "title_zh", "title_en"])


# store url -> (the geography layers' version stamps, the layers as read): a server that takes a push every
# few seconds reads the district's geography again only when it changed.
_HELD_GEOGRAPHY: dict[str, tuple[tuple, dict]] = {}


def read_geography(store: Store) -> dict:
    """The geography layers an ingest needs, read again only when a write changed one of them."""
    versions = store.data_versions()
    stamps = tuple(versions.get(name) for name in GEOGRAPHY)
    held = _HELD_GEOGRAPHY.get(store.url)
    if held is None or held[0] != stamps or None in stamps:  # a layer with no stamp is never trusted
        held = (stamps, {name: store.read(name) for name in GEOGRAPHY})
        _HELD_GEOGRAPHY[store.url] = held
    # Shallow copies: what a caller sets on its frames stays out of the held ones.
    return {name: frame.copy(deep=False) for name, frame in held[1].items()}


def _ingested(records: pd.DataFrame, inventory: pd.DataFrame) -> pd.DataFrame:
    """Source, file, row and id of every row this run ingests: what clears their quarantine entries."""
    key = ["source", "file", "row", "source_id"]
    frames = [records[key]] if len(records) else []
    if len(inventory):
        frames.append(inventory.rename(columns={"component_id": "source_id"})[key])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=key)


def matcher(geography: dict) -> AddressMatcher:
    """The district's address matcher (standard addresses, communities, streets)."""
    return AddressMatcher(geography["communities"], geography["streets"], geography.get("addresses"),
                          **address_names(geography))


def spans_near(times: pd.Series, window: pd.Timedelta = WINDOW) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The periods within ``window`` of any of ``times``, overlapping ones joined, in order.

    Ten cases of ten different years need ten short periods of stored cases, not the years between.
    """
    spans: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    for t in sorted(times.dropna()):
        if spans and t - window <= spans[-1][1]:
            spans[-1] = (spans[-1][0], t + window)
        else:
            spans.append((t - window, t + window))
    return spans


def _cases_near(store: Store, records: pd.DataFrame):
    """The stored cases a merge may join the incoming records to: of their categories, within its window of them.

    Read through the index on the time reported: a write of ten cases reads the days around them, not the store.
    """
    same = Condition("category", "in", sorted(set(records["category"].dropna())))
    spans = [(a.to_pydatetime(), b.to_pydatetime()) for a, b in spans_near(records["reported_at"])]
    # Spans in reads of at most SPANS_PER_READ: SQLite nests each OR a level deeper (its limit is 1000).
    found = [store.read("cases", [Condition("reported_at", "within", spans[i:i + SPANS_PER_READ]), same])
             for i in range(0, len(spans), SPANS_PER_READ)]
    if not found:
        return store.read("cases", [Condition("case_id", "in", [])])
    return pd.concat(found, ignore_index=True).drop_duplicates("case_id", ignore_index=True)


def _known_terms(records: pd.DataFrame) -> list[Condition]:
    """What to read of the stored intake records to know which incoming ones were seen before.

    A few new records look up their own ids (through the natural key's index), so a write of ten
    cases costs the same in a store of a million; a large batch reads its sources' records whole.
    """
    terms = [Condition("source", "in", sorted(set(records["source"])))]
    ids = records["source_id"].dropna().unique()
    if len(ids) <= KNOWN_LOOKUP_MAX:
        terms.append(Condition("source_id", "in", sorted(ids)))
    return terms


# What a stored record's write changes besides what its row said: not a change of the record.
_NOT_COMPARED = {"channels"}


def changed_keys(name: str, written: pd.DataFrame, prior: pd.DataFrame) -> set:
    """The keys of ``written`` rows whose stored row (in ``prior``) holds something else; new keys are not in it."""
    key = list(LAYERS[name].key)
    if not len(written) or not len(prior):
        return set()
    columns = [c for c in LAYERS[name].columns if c not in key and c not in _NOT_COMPARED]

    def as_text(frame):
        frame = conform(name, frame)
        text = frame[columns].astype(str).mask(frame[columns].isna(), "")
        if "geometry" in frame:  # to the stores' precision: a point read back is the point written
            text["geometry"] = [g.wkt if g is not None and not g.is_empty else "" for g in
                                shapely.set_precision(frame.geometry.to_numpy(), 1e-9)]
        return text.set_index(pd.MultiIndex.from_frame(frame[key]) if len(key) > 1 else frame[key[0]])

    after, before = as_text(written), as_text(prior)
    both = after.index.intersection(before.index)
    differs = (after.loc[both] != before.loc[both, after.columns]).any(axis=1)
    return set(differs.index[differs.to_numpy()])


def outcome(seen: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """Per stored record: new (never seen), updated (seen, changed) or unchanged."""
    return np.where(~seen, "new", np.where(changed, "updated", "unchanged"))


def _count(report, item, merged, outcomes):
    frame = pd.DataFrame({"item": item.to_numpy(), "merged": merged.to_numpy(dtype=bool), "outcome": outcomes})
    for n, rows in frame.groupby("item"):
        kept = rows.loc[~rows["merged"], "outcome"].value_counts()
        f = report.files[n]
        f.merged = int(rows["merged"].sum())
        f.new, f.updated, f.unchanged = (int(kept.get(k, 0)) for k in ("new", "updated", "unchanged"))
        f.stored = f.new + f.updated + f.unchanged


def district_area(geography, margin=AREA_MARGIN_METRES) -> Reach | None:
    """The store's district outlines grown by ``margin``: coordinates beyond them are not this store's."""
    district = geography["district"]
    if district.empty:
        return None
    grown = district.to_crs(METRIC_CRS).buffer(margin).to_crs(STORAGE_CRS).union_all()
    # A city's store holds several districts: a coordinate in any of them is in reach.
    return Reach(grown, "、".join(str(name) for name in district["name"]))


def _cases(decided, store):
    """Canonical cases (each primary record, with every channel that reported its matter), and those stored before."""
    primary = decided[~decided["merged"]].copy()
    touched = sorted(set(decided["case_id"]))
    prior = store.read("cases", [Condition("case_id", "in", touched)])
    # Merge targets stored by an earlier run keep their fields and gain the new channel.
    earlier = prior[~prior["case_id"].isin(primary["case_id"])].copy()
    primary["due_at"] = primary["reported_at"] + pd.to_timedelta(primary["kind"].map(DEADLINE_DAYS), unit="D")
    cases = pd.concat([f for f in (primary, earlier) if len(f)], ignore_index=True)
    cases["channels"] = cases["case_id"].map(_all_channels(cases, decided, prior))
    keep = [c for c in cases.columns if c in LAYERS["cases"].columns]
    return cases[keep + ["geometry"]].set_geometry("geometry"), prior


def _all_channels(cases, decided, prior):
    """case_id → every channel that reported it, sorted and joined by ';'."""
    pairs = pd.concat([
        cases[["case_id", "channel"]], decided[["case_id", "channel"]],
        prior[["case_id", "channels"]].assign(channel=prior["channels"].str.split(";"))
        .explode("channel")[["case_id", "channel"]],
    ], ignore_index=True).dropna().drop_duplicates().sort_values(["case_id", "channel"])
    multi = pairs["case_id"].duplicated(keep=False)
    # Most cases came by one channel: only the few merged ones need a join.
    joined = pairs[multi].groupby("case_id")["channel"].agg(";".join)
    return pd.concat([pairs[~multi].set_index("case_id")["channel"], joined])


# What every intake record keeps; a merged record keeps all it said as well (see layers.schema).
_ALWAYS = ("source", "source_id", "case_id", "channel", "reported_at", "people", "file", "row", "merged",
           "merge_reason", "original")


def _case_sources(decided):
    keep = [c for c in LAYERS["case_sources"].columns if c in decided.columns]
    records = decided[keep + ["geometry"]].set_geometry("geometry").copy()
    opened = ~records["merged"].to_numpy(dtype=bool)
    for column in keep:
        if column not in _ALWAYS:
            records[column] = records[column].astype(object).where(~opened, None)
    records.loc[opened, "geometry"] = None
    return records
