"""The case filter every view shares: what a URL query says, and how the store answers it.

``/?from=2020-01-01&to=2020-12-31&street=330205003&category=邻里纠纷,物业纠纷&overdue=1``
is a bookmarkable view; the dashboard, the wall screen and exports read the
same filter. Dates are whole days, ``to`` inclusive; a preset (today, week,
month, year) stands for the days up to today.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from layers.areas import DISTRICT, Area
from layers.errors import InvalidValue
from layers.glossary import known_channels
from layers.schema import CASE_STATUSES, LAYERS, LEVELS
from layers.store import Condition, Store, matches, period_filter

PRESETS = {
    "today": ("今天", "Today"),
    "week": ("本周", "This week"),
    "month": ("本月", "This month"),
    "year": ("今年", "This year"),
}
# The list fields and the URL parameter each one is written as.
_QUERY = {"categories": "category", "channels": "channel", "statuses": "status", "levels": "level"}


def preset_period(preset: str, today: date) -> tuple[date, date]:
    """The days a preset covers, ending today (weeks start on Monday)."""
    if preset == "today":
        return today, today
    if preset == "week":
        return today - timedelta(days=today.weekday()), today
    if preset == "month":
        return today.replace(day=1), today
    if preset == "year":
        return today.replace(month=1, day=1), today
    raise InvalidValue(f"unknown period preset {preset!r}; presets: {', '.join(PRESETS)}")


# The days a period may start or end on: what the centre's records can hold (a link that says year 1 or 9999
# is a typo or a probe, and would overflow the store's timestamps).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
_TEXT_PARAMETERS = ("from", "to", "preset", "district", "street", "community", "cell", "category", "channel", "status",
                    "level")


def _date(text):
    try:
        day = date.fromisoformat(text) if text else None
    except (TypeError, ValueError):
        return None
    return day if day is None or FIRST_DAY <= day <= LAST_DAY else None


def check_query(query: dict) -> None:
    """Raise :class:`InvalidValue` naming the first parameter of a view's query that means nothing.

    :meth:`CaseFilter.from_query` drops such a value (a wall screen never stops on one); a page
    calls this first, to tell the person which value it did not take.
    """
    for name in _TEXT_PARAMETERS:
        value = query.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidValue(f"{name} must be text, not {type(value).__name__} {str(value)[:40]!r}",
                               zh=f"参数无效：{name} 应为文字，收到 {str(value)[:40]!r}")
    for name in ("from", "to"):
        text = query.get(name)
        if text and _date(text) is None:
            raise InvalidValue(f"{name}={text[:40]!r} is not a day from {FIRST_DAY} to {LAST_DAY} (YYYY-MM-DD)",
                               zh=f"参数无效：{name}={text[:40]!r} 不是 {FIRST_DAY} 至 {LAST_DAY} 之间的日期")
    district = query.get("district")
    if district and not re.fullmatch(r"\d{6}", district):
        raise InvalidValue(f"district={district[:40]!r} is not a district's 6-digit code",
                           zh=f"参数无效：district={district[:40]!r} 不是6位区县代码")
    start, end = _date(query.get("from")), _date(query.get("to"))
    if start and end and start > end:
        raise InvalidValue(f"from={start} is after to={end}", zh=f"参数无效：开始日期 {start} 晚于结束日期 {end}")
    if query.get("preset") and query["preset"] not in PRESETS:
        raise InvalidValue(f"preset={query['preset'][:40]!r}: presets are {', '.join(PRESETS)}",
                           zh=f"参数无效：时段 {query['preset'][:40]!r} 不存在")


def _words(text, allowed=None) -> tuple[str, ...]:
    words = [w.strip() for w in str(text or "").split(",") if w.strip()]
    if allowed is not None:
        words = [w for w in words if w in allowed]
    return tuple(dict.fromkeys(words))


@dataclass(frozen=True)
class CaseFilter:
    """What a view shows: a period, a place (district, street, community, cell), kinds of case, and the viewer's
    area. A district is chosen only in a store of several (a city's or a province's)."""

    start: date | None = None
    end: date | None = None
    street_code: str | None = None
    community_code: str | None = None
    grid_cell: str | None = None
    categories: tuple[str, ...] = field(default=())
    channels: tuple[str, ...] = field(default=())
    statuses: tuple[str, ...] = field(default=())
    levels: tuple[str, ...] = field(default=())
    overdue_only: bool = False
    # Whose view this is: never read from a URL, set by the server from the user's area.
    area: Area = DISTRICT
    district_code: str | None = None

    @classmethod
    def from_query(cls, query: dict, *, today: date | None = None) -> "CaseFilter":
        """Read a URL query; a value that means nothing is dropped, never an error on a wall screen."""
        today = today or date.today()
        query = {k: v if isinstance(v, str) or k not in _TEXT_PARAMETERS else None for k, v in query.items()}
        start, end = _date(query.get("from")), _date(query.get("to"))
        if start and end and start > end:
            start, end = None, None
        if query.get("preset") in PRESETS:
            start, end = preset_period(query["preset"], today)
        if start is None and end is None:
            start, end = preset_period("year", today)
        return cls(
            start=start, end=end,
            district_code=query.get("district") if re.fullmatch(r"\d{6}", query.get("district") or "") else None,
            street_code=query.get("street") or None, community_code=query.get("community") or None,
            grid_cell=query.get("cell") or None,
            categories=_words(query.get("category")), channels=_words(query.get("channel"), known_channels()),
            statuses=_words(query.get("status"), CASE_STATUSES), levels=_words(query.get("level"), LEVELS),
            overdue_only=str(query.get("overdue", "")).lower() in ("1", "true", "yes"),
        )

    def to_query(self) -> dict:
        """The URL query that gives this filter back (only what is set)."""
        query = {"from": self.start.isoformat() if self.start else None,
                 "to": self.end.isoformat() if self.end else None, "district": self.district_code,
                 "street": self.street_code, "community": self.community_code, "cell": self.grid_cell}
        for name, parameter in _QUERY.items():
            query[parameter] = ",".join(getattr(self, name)) or None
        query["overdue"] = "1" if self.overdue_only else None
        return {k: v for k, v in query.items() if v}

    def narrowed(self, **changes) -> "CaseFilter":
        """The filter with some fields changed; choosing a street clears a community of another street (and a
        district, a street of another district)."""
        out = replace(self, **changes)
        if out.street_code and out.district_code and not out.street_code.startswith(out.district_code):
            out = replace(out, street_code=None, community_code=None, grid_cell=None)
        if out.community_code and out.street_code and not out.community_code.startswith(out.street_code):
            out = replace(out, community_code=None, grid_cell=None)
        if out.grid_cell and out.community_code and not out.grid_cell.startswith(out.community_code):
            out = replace(out, grid_cell=None)
        return out

    def conditions(self) -> list[Condition]:
        """What the store can filter on itself."""
        terms = period_filter(self.start, self.end) + self._district("cases")
        for column, value in (("street_code", self.street_code), ("community_code", self.community_code),
                              ("grid_cell", self.grid_cell)):
            if value:
                terms.append(Condition(column, "=", value))
        for column, values in (("category", self.categories), ("status", self.statuses), ("level", self.levels)):
            if values:
                terms.append(Condition(column, "in", list(values)))
        return terms + self.area.conditions("cases")

    def place_conditions(self, layer: str) -> list[Condition]:
        """The terms that keep a geography layer within the filter's street, community, cell and area."""
        columns = LAYERS[layer].columns
        terms = [Condition(column, "=", value) for column, value in
                 (("street_code", self.street_code), ("community_code", self.community_code),
                  ("grid_cell", self.grid_cell)) if value and column in columns]
        return self._district(layer) + terms + self.area.conditions(layer)

    def _district(self, layer: str) -> list[Condition]:
        return Area("district", (self.district_code,)).conditions(layer) if self.district_code else []

    def period_end(self):
        """The last instant of the period (its ``end`` day is inclusive), or None."""
        return pd.Timestamp(self.end) + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1) if self.end else None

    def apply(self, cases: pd.DataFrame, *, as_of=None) -> pd.DataFrame:
        """What is left to filter in memory: any channel that reported a case, and overdue."""
        if not self.channels and not self.overdue_only:
            return cases
        return cases[self._rest(cases, as_of)]

    def _rest(self, cases: pd.DataFrame, as_of) -> np.ndarray:
        keep = np.ones(len(cases), dtype=bool)
        if self.channels:
            # Decided once per distinct channel list, not once per case.
            wanted = set(self.channels)
            lists = [c for c in _distinct(cases["channels"]) if wanted & set(c.split(";"))]
            alone = cases["channels"].isna().to_numpy(dtype=bool)
            keep &= matches(cases, [Condition("channels", "in", lists)]) | (
                alone & matches(cases, [Condition("channel", "in", sorted(wanted))]))
        if self.overdue_only:
            keep &= overdue(cases, as_of)
        return keep

    def read_cases(self, store: Store, *, as_of=None) -> pd.DataFrame:
        """The stored cases this filter keeps (read with the store's own filtering, then the rest in memory)."""
        return self.apply(store.read("cases", self.conditions()), as_of=as_of)

    def mask(self, cases: pd.DataFrame, *, as_of=None) -> np.ndarray:
        """Which of the cases already in memory (the dashboard's copy of the store) the filter keeps."""
        keep = matches(cases, self.conditions())
        if self.channels or self.overdue_only:
            keep &= self._rest(cases, as_of)
        return keep


def channel_counts(cases: pd.DataFrame, within: np.ndarray | None = None) -> Counter:
    """Cases per channel that reported them (of the rows ``within``, by number or as a mask; or all): a case two
    channels reported counts for both.

    ``channels`` lists a merged case's channels (``e_ningbo;hotline_12345``); a case from one
    channel has only its ``channel``. Counted per distinct list, not per case.
    """
    counts: Counter[str] = Counter()
    for names, n in tally(cases["channels"], within).items():
        for name in str(names).split(";"):
            counts[name] += int(n)
    alone = cases["channels"].isna().to_numpy(dtype=bool)
    if within is not None:
        rows = np.flatnonzero(within) if within.dtype == bool else within
        alone = rows[alone[rows]]
    for name, n in tally(cases["channel"], alone).items():
        counts[str(name)] += int(n)
    return Counter({name: n for name, n in counts.items() if n})


def tally(column: pd.Series, within: np.ndarray | None = None) -> pd.Series:
    """How many rows (of ``within``, by number or as a mask; or all) hold each value (missing left out), largest
    first; a categorical counts its codes at once."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.array.codes  # a view; `.cat.codes` copies them into a new Series
        if within is not None:
            codes = codes[within]
        # Missing (-1) counted in a bin of its own and left out: no pass to pick the present codes first.
        n = np.bincount(np.add(codes, 1, dtype=np.intp), minlength=len(column.cat.categories) + 1)[1:]
        counts = pd.Series(n, index=column.cat.categories.astype(object))
        return counts[counts > 0].sort_values(ascending=False, kind="stable")
    return (column if within is None else column.iloc[within]).value_counts()


def _distinct(column: pd.Series) -> list:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return list(column.cat.categories)
    return list(column.dropna().unique())


def overdue(cases: pd.DataFrame, as_of=None) -> np.ndarray:
    """Open past its deadline (超期未办结)."""
    as_of = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp.now()
    is_open = ~matches(cases, [Condition("status", "=", "closed")])
    return is_open & (cases["due_at"].to_numpy("datetime64[ms]") < np.datetime64(as_of.to_datetime64(), "ms"))
