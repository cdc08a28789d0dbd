"""The store's schema, versioned: numbered migrations, applied by ``onemap migrate``.

Opening a store runs no DDL. A store records in its ``schema_version`` layer
the migrations it has had; one behind this list is refused with a message
saying to run ``onemap migrate`` (``Store.check_schema``). The commands that
build a store (``onemap demo``, ``onemap migrate``, the first write into a
store that holds nothing yet) apply them.

A migration is a list of steps that each backend knows how to apply:
``CreateLayer`` makes a layer as ``layers.schema`` defines it now (and gives
a layer that is there the columns and indexes it lacks), ``AddColumn`` adds
one column, ``AddIndex`` one index, ``TrackChanges`` a layer's change numbers,
``Partition`` moves a layer into monthly partitions (PostGIS), ``FillDistrict``
gives rows the store's one district code, ``Rollup`` the triggers
that keep a rollup layer (``Layer.counts``) and its rows counted again from its source.
Every step is safe to apply to a store that already has what it makes, so a
migration interrupted half way is simply run again. To change the schema:
change ``layers.schema.LAYERS`` and append a migration here that brings an
existing store to it (a new layer: ``CreateLayer``; a new column: ``AddColumn``; a new index: ``AddIndex``).
"""

from __future__ import annotations

from dataclasses import dataclass

from layers.schema import LAYERS


@dataclass(frozen=True)
class CreateLayer:
    """Make the layer, with its natural key (and spatial index); a layer already there gains missing columns."""

    layer: str


@dataclass(frozen=True)
class AddColumn:
    """Add a column that ``layers.schema`` gained, empty in every row already stored."""

    layer: str
    column: str


@dataclass(frozen=True)
class AddIndex:
    """Make an index ``layers.schema`` gained (``Layer.indexes``), for a lookup that must not scan the layer."""

    layer: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class TrackChanges:
    """Give a layer whose rows carry change numbers (``Layer.changes``) the column and its index."""

    layer: str


@dataclass(frozen=True)
class Partition:
    """Keep a layer in monthly partitions (``Layer.partitioned_by``) where the backend has them (PostGIS);
    an existing layer's rows are moved into them. Nothing where the backend has none (the GeoPackage)."""

    layer: str


@dataclass(frozen=True)
class FillDistrict:
    """Give the rows of ``layer`` without a district code the code of the store's district, where the store
    holds exactly one (a store from before records carried their district held one)."""

    layer: str


@dataclass(frozen=True)
class Rollup:
    """Keep a rollup layer (``Layer.counts``) by triggers on its source, in the transaction of every write to the
    source, and count it again from the source's rows as they are now (a store with cases is brought up to date)."""

    layer: str


@dataclass(frozen=True)
class Migration:
    """One numbered change of the schema: what it does, in steps each backend applies."""

    version: int
    about: str
    steps: tuple


NARROW_ROLLUPS = ("counts_month_cell", "counts_month_street", "counts_month_category", "counts_month_channels",
                  "counts_month_closed", "counts_day_street")

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "every layer of layers.schema with its natural key and spatial index; a store made before "
                 "the schema was versioned gains the columns it lacked",
              tuple(CreateLayer(name) for name in LAYERS)),
    Migration(2, "the district's English name, the names its addresses begin with, and names of other places "
                 "with the same district name (the product no longer assumes Jiangbei)",
              (AddColumn("district", "name_en"), AddColumn("district", "address_prefix"),
               AddColumn("district", "elsewhere"))),
    Migration(3, "sessions that end on logout and on a password change, and the failed-login limit per client "
                 "address: ended_sessions, users.sessions_after, logins.address and the logins' lookup indexes",
              (CreateLayer("ended_sessions"), AddColumn("users", "sessions_after"), AddColumn("logins", "address"),
               AddIndex("logins", ("user_name", "at")), AddIndex("logins", ("address", "at")))),
    Migration(4, "channel systems push cases (Open311): their keys (api_keys) and the audit of every write "
                 "made through the server (audit)",
              (CreateLayer("api_keys"), CreateLayer("audit"))),
    Migration(5, "each write of cases and intake records stamps its rows with a change number, so a server "
                 "reads only what changed since it last looked; when each person last opened the overview (looks)",
              tuple(TrackChanges(name) for name, layer in LAYERS.items() if layer.changes) + (CreateLayer("looks"),)),
    Migration(6, "cases are found by when they were reported through an index, so a write of a few cases reads "
                 "only the days around them to merge (not a scan of every case)",
              (AddIndex("cases", ("reported_at",)),)),
    Migration(7, "remediation orders worked in the product: the register keeps each order's state, problem, "
                 "evidence, plan and place codes, and remediation_steps each step (who, when, a note)",
              tuple(AddColumn("remediations", c) for c in ("state", "category", "evidence", "planned_start",
                                                           "planned_finish", "grid_cell", "community_code",
                                                           "street_code", "updated_at"))
              + (CreateLayer("remediation_steps"),)),
    Migration(8, "the blind-spot register (盲点数据库): each finding of the rules with its state, unit, deadline "
                 "and resolution (blind_spot_entries), and each change of state (blind_spot_steps)",
              (CreateLayer("blind_spot_entries"), CreateLayer("blind_spot_steps"))),
    Migration(9, "a channel is data: channels a profile brings with their titles (channels); each intake record "
                 "keeps the text its export wrote where Unicode NFKC changed it (case_sources.original)",
              (CreateLayer("channels"), AddColumn("case_sources", "original"))),
    Migration(10, "quarantine a clerk can work: each kept-back row's id and place (grid cell, community, street) "
                 "for the clerk's area, and when it was cleared by a later ingest of the row",
              tuple(AddColumn("quarantine", c) for c in ("source_id", "grid_cell", "community_code", "street_code",
                                                         "cleared_at"))),
    Migration(11, "cases in PostGIS kept in one partition per month of when they were reported: a period's "
                  "reads and a month's upkeep touch that month only, as a city's or a province's store needs",
              (Partition("cases"),)),
    Migration(12, "each case and intake record carries its district's code, so one store holds a city's or a "
                  "province's districts and a user's area may be one of them; stored rows get their district's",
              (AddColumn("cases", "district_code"), AddColumn("case_sources", "district_code"),
               FillDistrict("cases"), FillDistrict("case_sources"))),
    Migration(13, "counts of cases per day, district, street, community, grid cell, kind, category, channels, "
                  "status and level, and how many of them were resolved in place (case_counts), kept by the "
                  "database in the transaction of every write to cases and counted from the cases already stored, "
                  "for the pages of a city or province store to read",
              (CreateLayer("case_counts"), Rollup("case_counts"))),
    Migration(14, "what is overdue is found through an index of cases by status and deadline (a few open cases "
                  "among millions closed), not by reading every case of the period",
              (AddIndex("cases", ("status", "due_at")),)),
    Migration(15, "a district's or a street's cases found through an index in time order (the newest first for "
                  "a table's page), and the walk-in visits of a period through one (a city's store)",
              (AddIndex("cases", ("district_code", "reported_at")), AddIndex("cases", ("street_code", "reported_at")),
               AddIndex("case_sources", ("channel", "reported_at")))),
    Migration(16, "narrower counts of cases for a city's or a province's wide views, kept like case_counts: per "
                  "month and grid cell (the map), month and street by kind, channels, status and level (the tiles), "
                  "month and street by kind and category, the lists of channels per month, cases closed per day by the "
                  "month they were reported in, and day and street (the trend); a community's and a grid "
                  "leader's cells' cases found through an index in time order, and a district's or a street's "
                  "case ids read from an index alone (the walk-in visits of a view are those of its cases)",
              tuple(step for name in NARROW_ROLLUPS for step in (CreateLayer(name), Rollup(name)))
              + tuple(AddIndex("cases", columns) for columns in (
                  ("community_code", "reported_at"), ("grid_cell", "reported_at"), ("district_code", "case_id"),
                  ("street_code", "case_id")))),
)

SCHEMA_VERSION = MIGRATIONS[-1].version
# The first version whose layers keep change numbers: a layer rewritten whole in a store at it gets them again.
TRACKED_SINCE = next(m.version for m in MIGRATIONS if any(isinstance(step, TrackChanges) for step in m.steps))
# Rollup layer → the version that made its triggers: a store at it whose source is rewritten whole (where that
# drops the source's triggers, as GDAL's rewrite of a GeoPackage layer does) has them made again.
ROLLED_UP_SINCE = {step.layer: m.version for m in MIGRATIONS for step in m.steps if isinstance(step, Rollup)}


def pending(version: int) -> list[Migration]:
    """The migrations a store at ``version`` still needs, in order."""
    return [m for m in MIGRATIONS if m.version > version]
