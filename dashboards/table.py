"""The case table: its columns, its pages sorted on the server, its rows in the page's language."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboards.cache import CACHE, moved_rows
from dashboards.i18n import only
from dashboards.selection import kept
from layers import counted
from layers.errors import InvalidValue
from layers.filters import CaseFilter
from layers.glossary import LEVEL_LABELS, channel_names, step_label

# The case table's columns: (field, 中文, English).
TABLE_COLUMNS = [("case_id", "编号", "Case"), ("reported_at", "受理时间", "Reported"), ("category", "类别", "Category"),
                 ("channels", "渠道", "Channels"), ("status", "状态", "Status"), ("level", "层级", "Level"),
                 ("responsible_unit", "责任单位", "Responsible unit"), ("due_at", "期限", "Due"),
                 ("address", "地址", "Address")]


DEFAULT_SORT = [{"column_id": "reported_at", "direction": "desc"}]


def case_table(cases: pd.DataFrame, *, sort_by=None, page: int = 0, page_size: int = 15,
               lang: str = "zh") -> tuple[list, int]:
    """One page of the cases as table rows, sorted on the server; and the number of pages."""
    sort_by = DEFAULT_SORT if sort_by is None else sort_by
    columns = [c for c, _, _ in TABLE_COLUMNS]
    picked = cases.iloc[sort_order(cases, sort_by)[page * page_size:(page + 1) * page_size]]
    pages = max(1, -(-len(cases) // page_size))
    rows = pd.DataFrame({c: plain_values(picked[c]) for c in columns}, index=picked.index)
    for column in ("reported_at", "due_at"):
        rows[column] = pd.to_datetime(rows[column]).dt.strftime("%Y-%m-%d %H:%M")
    rows["status"] = rows["status"].map(lambda s: only(step_label(s), lang) if s else s)
    rows["level"] = rows["level"].map(lambda v: only(LEVEL_LABELS[v], lang) if v in LEVEL_LABELS else v)
    rows["channels"] = rows["channels"].fillna("").map(
        lambda cs: ("、" if lang != "en" else ", ").join(only(channel_names(c), lang) for c in cs.split(";") if c))
    return rows.astype(object).where(rows.notna(), "").to_dict("records"), pages


def plain_values(column: pd.Series) -> np.ndarray:
    """A column's values as Python objects (None where missing).

    A categorical of the held copy may have a million categories (case ids, addresses): pandas'
    ``astype(object)`` turns all of them into Python strings first, ~10 ms a column even for a
    table page of 15 rows; here only the rows' own categories are taken.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.array.codes  # a view; `.cat.codes` copies them
        out = np.full(len(codes), None, dtype=object)
        present = codes >= 0
        out[present] = column.cat.categories.take(codes[present]).to_numpy(dtype=object)
        return out
    return column.astype(object).where(column.notna(), None).to_numpy()


def table_page(store, f: CaseFilter, *, sort_by=None, page: int = 0, page_size: int = 15,
               lang: str = "zh") -> tuple[list, int]:
    """The case table's page for a filter: the server's held sort order of all cases, masked by the filter."""
    if isinstance(page, bool) or not isinstance(page, int) or page < 0:
        raise InvalidValue(f"table page {str(page)[:20]!r}: a whole number from 0", zh=f"参数无效：表格页码 {str(page)[:20]!r}")
    sort_by = sort_terms(sort_by)
    if not CACHE.holds_cases(store):
        return _read_page(store, f, sort_by, page, page_size, lang)
    every, _ = CACHE.cases(store)
    key = ("sorted", tuple((t["column_id"], t["direction"]) for t in sort_by))
    order, _ = CACHE.derived(store, key, lambda cases: ordered(cases, sort_by),
                             lambda held, before, cases: resorted(held, before, cases, sort_by))
    keep = kept(store, f)
    in_order = order[keep[order]]
    rows = case_table(every.iloc[in_order[page * page_size:(page + 1) * page_size]], sort_by=[], page_size=page_size,
                      lang=lang)
    return rows[0], max(1, -(-int(keep.sum()) // page_size))


def _read_page(store, f: CaseFilter, sort_by, page: int, page_size: int, lang: str) -> tuple[list, int]:
    """The page read from the store in its order (a store the server does not hold): only the page's rows."""
    order = tuple((t["column_id"], t["direction"] == "desc") for t in sort_by)
    where = counted.terms(store, f, "cases")
    total = counted.count(store, f)
    rows = store.read_page("cases", where, order=order, limit=page_size, offset=page * page_size)
    return case_table(rows, sort_by=[], page_size=page_size, lang=lang)[0], max(1, -(-total // page_size))


def sort_terms(sort_by) -> list[dict]:
    """The table's sort as the DataTable sends it, checked: a list of {column_id, direction} of its columns."""
    if not sort_by:
        return DEFAULT_SORT
    columns = {c for c, _, _ in TABLE_COLUMNS}
    if not isinstance(sort_by, list) or not all(
            isinstance(t, dict) and t.get("column_id") in columns and t.get("direction") in ("asc", "desc")
            for t in sort_by):
        raise InvalidValue(f"sort_by {str(sort_by)[:60]!r}: a list of {{column_id, direction asc|desc}} of the "
                           f"table's columns", zh="参数无效：表格排序")
    return [{"column_id": t["column_id"], "direction": t["direction"]} for t in sort_by]


def sort_order(cases: pd.DataFrame, sort_by) -> np.ndarray:
    """Row numbers of ``cases`` in the table's order; ties keep the frame's order (the cache's: case id, then
    cases that arrived since it was read whole)."""
    columns = {c for c, _, _ in TABLE_COLUMNS}
    order = np.arange(len(cases))
    for term in reversed([t for t in sort_by if t["column_id"] in columns]):
        key = _sort_key(cases[term["column_id"]])[order]
        order = order[np.argsort(key if term["direction"] == "asc" else -key, kind="stable")]
    return order


def ordered(cases: pd.DataFrame, sort_by) -> tuple[np.ndarray, np.ndarray | None]:
    """``sort_order(cases, sort_by)``, and for a sort on one column its keys in that order (what
    :func:`resorted` puts new rows among); None for a sort on several."""
    order = sort_order(cases, sort_by)
    sort_by = [t for t in sort_by if t["column_id"] in {c for c, _, _ in TABLE_COLUMNS}]
    if len(sort_by) != 1:
        return order, None
    return order, _directed(_sort_key(cases[sort_by[0]["column_id"]]), sort_by[0])[order]


def resorted(held: tuple[np.ndarray, np.ndarray | None], before: pd.DataFrame, cases: pd.DataFrame, sort_by
             ) -> tuple[np.ndarray, np.ndarray | None]:
    """``ordered(cases, sort_by)``, from ``held``, what it gave for ``before``: an earlier copy of the same rows
    under the same numbers (``cases`` has some of them changed and more at the end, as the server's copy
    after a write). The rows whose sort column changed, and the new ones, are taken out and put back where
    they now sort; the others keep their places. A write of a few cases then costs a few searches and two
    passes over the order, not a sort of a million (100-150 ms, at every write, on the first table asked for);
    a write that only adds cases (the usual one), no pass over the keys of the order either (20 -> 7 ms).
    """
    order, in_order = held
    columns = {c for c, _, _ in TABLE_COLUMNS}
    sort_by = [t for t in sort_by if t["column_id"] in columns]
    if len(sort_by) != 1 or len(cases) < len(before) or in_order is None:
        return ordered(cases, sort_by)
    column = sort_by[0]["column_id"]
    changed = moved_rows(before, cases, [column])
    moved = np.concatenate([changed, np.arange(len(before), len(cases))])
    if len(moved) > len(cases) // 64 + 64:  # a large write: sorting again is as quick
        return ordered(cases, sort_by)
    if _same_keys(before[column], cases[column]):  # the keys held stand: only the moved rows' are needed
        key = _directed(_sort_key(cases[column].iloc[moved]), sort_by[0])
    else:  # a text column with a new value: every value's rank among them may have moved
        every = _directed(_sort_key(cases[column]), sort_by[0])
        in_order, key = every[order], every[moved]
    if len(changed):
        out = np.zeros(len(cases), dtype=bool)
        out[changed] = True
        kept_at = ~out[order]
        stays, stays_key = order[kept_at], in_order[kept_at]
    else:
        stays, stays_key = order, in_order
    # In the order, rows of equal keys stand by row number (a stable sort from row order): so do the moved.
    by = np.lexsort((moved, key))
    moved, key = moved[by], key[by]
    lo = np.searchsorted(stays_key, key, side="left")
    hi = np.searchsorted(stays_key, key, side="right")
    at = np.array([a + np.searchsorted(stays[a:b], row) for a, b, row in zip(lo, hi, moved)], dtype=np.int64)
    return np.insert(stays, at, moved), np.insert(stays_key, at, key)


def _same_keys(before: pd.Series, now: pd.Series) -> bool:
    """Whether a value sorts under the same key (``_sort_key``) in both: a time always; a text column's value
    (its rank among the column's values) while no value was added."""
    if pd.api.types.is_datetime64_any_dtype(now):
        return True
    return (isinstance(before.dtype, pd.CategoricalDtype) and isinstance(now.dtype, pd.CategoricalDtype)
            and len(before.cat.categories) == len(now.cat.categories))


def _directed(key: np.ndarray, term: dict) -> np.ndarray:
    return key if term["direction"] == "asc" else -key  # as sort_order has it


def _sort_key(column: pd.Series) -> np.ndarray:
    """Integers that sort as the column does, missing values first."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        # Each category's place in sorted order (the held copy adds new ones at the end); missing is -1.
        categories = column.cat.categories
        rank = np.empty(len(categories) + 1, dtype=np.int64)
        rank[:-1] = np.arange(len(categories)) if categories.is_monotonic_increasing else (
            np.argsort(np.argsort(categories.to_numpy(dtype=object), kind="stable"), kind="stable"))
        rank[-1] = -1
        return rank[column.array.codes]
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.to_numpy("datetime64[ms]").astype(np.int64)  # NaT is the smallest
    return pd.factorize(column, sort=True)[0].astype(np.int64)
