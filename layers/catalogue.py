"""The catalogue: every layer the product knows, and the one way each is made from the store.

A layer has its name (the glossary's plural), a Chinese and an English title, a
geometry type, its fields with their meaning and unit, a map style, and a query
that produces it from the store under a filter (area, period, category...). The
exports read this catalogue; a layer added here is exported without more code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import geopandas as gpd
import pandas as pd

from gis.datums import STORAGE_CRS
from layers.filters import CaseFilter
from layers.store import Store


@dataclass(frozen=True)
class Field:
    """One field of a catalogue layer and its name in each language."""

    name: str
    zh: str
    en: str
    unit: str = ""


@dataclass(frozen=True)
class CatalogueLayer:
    """A layer planners take out: its title, geometry, fields, style and the query that makes it under a filter."""

    name: str
    title: tuple[str, str]
    geometry: str
    fields: tuple[Field, ...]
    query: Callable[[Store, CaseFilter], gpd.GeoDataFrame]
    style: dict = field(default_factory=dict)
    # Fields that name or reach a person: masked unless the role may see them (see ``mask_personal``).
    personal: tuple[str, ...] = ()
    # The fields that name one feature (its id in the live feed), and the time a feature happened at, if any.
    key: tuple[str, ...] = ()
    time: str | None = None
    # For a layer that can be large: the same rows as ``query``, as frames read a batch at a time.
    batches: Callable[[Store, CaseFilter, int], Iterator[gpd.GeoDataFrame]] | None = None

    def filterable(self, *, personal_allowed: bool) -> tuple[str, ...]:
        """The fields a role may filter, sort or search on: never one it sees masked (a filter on a masked
        phone, tried digit by digit, would give the number back)."""
        return tuple(f.name for f in self.fields if personal_allowed or f.name not in self.personal)


def places(layer: str) -> Callable[[Store, CaseFilter], gpd.GeoDataFrame]:
    """The query of a geography layer: its rows within the filter's street, community, cell and area."""

    def query(store: Store, f: CaseFilter) -> gpd.GeoDataFrame:
        return store.read(layer, f.place_conditions(layer)).reset_index(drop=True)

    return query


def _cases(store: Store, f: CaseFilter) -> gpd.GeoDataFrame:
    return f.read_cases(store).reset_index(drop=True)


def _case_batches(store: Store, f: CaseFilter, size: int) -> Iterator[gpd.GeoDataFrame]:
    for batch in store.read_batches("cases", f.conditions(), size):
        yield f.apply(batch).reset_index(drop=True)


def _analysis(name: str) -> Callable[[Store, CaseFilter], gpd.GeoDataFrame]:
    def query(store: Store, f: CaseFilter) -> gpd.GeoDataFrame:
        from layers import analysis

        if name == "blind_spots":
            spots = analysis.blind_spot_layer(store, f)
            return gpd.GeoDataFrame(spots.drop(columns=["lon", "lat"]),
                                    geometry=gpd.points_from_xy(spots["lon"], spots["lat"]), crs=STORAGE_CRS)
        makers: dict[str, Callable[..., gpd.GeoDataFrame]] = {
            "hotspots": analysis.hotspot_layer, "emerging_hotspots": analysis.emerging_layer,
            "priorities": analysis.priority_layer, "change": analysis.change_layer}
        if name == "remediations":
            from layers.remediation_orders import order_layer

            return order_layer(store, f)
        made = makers[name](store, f)
        return made.reset_index(drop=True)

    return query


def _fields(*rows) -> tuple[Field, ...]:
    return tuple(Field(*row) for row in rows)


_AREA = (("street_code", "街道代码", "street code"), ("community_code", "社区代码", "community code"))
CATALOGUE: dict[str, CatalogueLayer] = {layer.name: layer for layer in [
    CatalogueLayer("streets", ("街道", "Streets"), "MultiPolygon",
                   _fields(("street_code", "街道代码", "street code"), ("name", "名称", "name"),
                           ("kind", "类型", "street or town")),
                   places("streets"), {"line": "#1f3b73", "width": 2}, key=("street_code",)),
    CatalogueLayer("communities", ("村社区", "Communities"), "MultiPolygon",
                   _fields(("community_code", "社区代码", "community code"), ("name", "名称", "name"),
                           ("street_code", "街道代码", "street code"),
                           ("population", "常住人口", "residents", "persons")),
                   places("communities"), {"line": "#4a5568", "width": 1.2}, key=("community_code",)),
    CatalogueLayer("grid_cells", ("网格", "Grid cells"), "MultiPolygon",
                   _fields(("grid_cell", "网格编码", "grid cell code"), ("name", "名称", "name"),
                           ("kind", "类型", "ordinary or dedicated"), *_AREA,
                           ("population", "常住人口", "residents", "persons")),
                   places("grid_cells"), {"line": "#999999", "width": 0.5}, key=("grid_cell",)),
    CatalogueLayer("estates", ("老旧小区", "Old estates"), "MultiPolygon",
                   _fields(("estate_id", "小区编号", "estate id"), ("name", "名称", "name"),
                           ("community_code", "社区代码", "community code"), ("built_year", "建成年份", "built", "year"),
                           ("households", "户数", "households", "households")),
                   places("estates"), {"fill": "#805ad5"}, key=("estate_id",)),
    CatalogueLayer("setback_areas", ("退红空间", "Setback areas"), "MultiPolygon",
                   _fields(("setback_area", "编号", "setback area id"), ("estate_id", "小区编号", "estate id"),
                           ("status", "状态", "unmanaged, in_renovation or handed_over"),
                           ("managing_unit", "管理单位", "managing unit"),
                           ("handed_over_at", "移交时间", "handed over at"), ("handed_over_to", "移交对象", "handed over to")),
                   places("setback_areas"), {"fill": "#d53e4f"}, key=("setback_area",)),
    CatalogueLayer("components", ("城市部件", "Components"), "Point",
                   _fields(("component_id", "部件编码", "16-digit component code (GB/T 30428.2)"),
                           ("class_name", "部件类别", "component class"), ("state", "状态", "intact, damaged, missing, occupied"),
                           ("managing_unit", "管理单位", "managing unit"), ("grid_cell", "网格编码", "grid cell code")),
                   places("components"), {"marker": "#2b6cb0"}, key=("component_id",)),
    CatalogueLayer("cases", ("案件", "Cases"), "Point",
                   _fields(("case_id", "案件编号", "case id"), ("kind", "类型", "dispute, event or petition"),
                           ("category", "类别", "category"), ("channel", "首报渠道", "first channel"),
                           ("channels", "全部渠道", "every channel that reported it"),
                           ("reported_at", "受理时间", "reported at"), ("closed_at", "办结时间", "closed at"),
                           ("due_at", "办理期限", "due at"), ("status", "状态", "reported, dispatched, coordinated, closed"),
                           ("level", "办理层级", "community, street or district"),
                           ("responsible_unit", "责任单位", "responsible unit"), ("grid_cell", "网格编码", "grid cell code"),
                           *_AREA, ("address", "地址", "address"), ("reporter_phone", "联系电话", "reporter's phone"),
                           ("description", "内容", "what was reported")),
                   _cases, {"marker": "status"}, personal=("reporter_phone", "description"),
                   key=("case_id",), time="reported_at", batches=_case_batches),
    CatalogueLayer("hotspots", ("热点分析 Gi*", "Hotspots (Gi*)"), "MultiPolygon",
                   _fields(("grid_cell", "网格编码", "grid cell code"), ("value", "值", "cases or cases per 1,000"),
                           ("z", "Gi* z", "Gi* z-score", "σ"), ("p", "p值", "two-sided p"),
                           ("bin", "置信度", "-3…3: cold/hot at 99/95/90 %, FDR-corrected")),
                   _analysis("hotspots"), {"fill": "bin"}, key=("grid_cell",)),
    CatalogueLayer("emerging_hotspots", ("新兴热点", "Emerging hotspots"), "MultiPolygon",
                   _fields(("grid_cell", "网格编码", "grid cell code"), ("pattern", "模式", "emerging hotspot pattern"),
                           ("trend_tau", "趋势 τ", "Mann-Kendall tau of z"), ("trend_p", "趋势 p", "its p")),
                   _analysis("emerging_hotspots"), {"fill": "pattern"}, key=("grid_cell",)),
    CatalogueLayer("change", ("同比变化", "Change"), "MultiPolygon",
                   _fields(("grid_cell", "网格编码", "grid cell code"), ("now", "本期", "cases in the period", "cases"),
                           ("before", "基期", "cases per baseline period", "cases"), ("p", "p值", "exact binomial p"),
                           ("direction", "方向", "+1 up, -1 down, 0 no significant change")),
                   _analysis("change"), {"fill": "direction"}, key=("grid_cell",)),
    CatalogueLayer("blind_spots", ("盲点", "Blind spots"), "Point",
                   _fields(("rule", "规则", "blind-spot rule"), ("place_kind", "地点类型", "kind of place"),
                           ("place", "地点", "place id"), ("category", "类别", "category"),
                           ("cases", "案件数", "cases behind it", "cases")),
                   _analysis("blind_spots"), {"marker": "rule"}, key=("rule", "place", "category")),
    CatalogueLayer("priorities", ("优先治理", "Priorities"), "MultiPolygon",
                   _fields(("place_kind", "地点类型", "kind of place"), ("place", "地点", "place id"),
                           ("score", "得分", "priority score", "of 100"), ("density", "密度", "density part, 0-1"),
                           ("hotspot", "热点", "hotspot part, 0-1"), ("recurrence", "反复", "recurrence part, 0-1"),
                           ("overdue", "超期", "overdue part, 0-1"), ("blind_spot", "盲点", "blind-spot part, 0 or 1")),
                   _analysis("priorities"), {"fill": "score"}, key=("place_kind", "place")),
    CatalogueLayer("remediations", ("治理工单", "Remediation orders"), "MultiPolygon",
                   _fields(("stage", "进展", "state, or overdue past the planned finish"), ("place", "地点", "place id"),
                           ("remediation_id", "工单编号", "order id"),
                           ("state", "状态", "proposed, approved, in_progress, accepted, handed_over, cancelled"),
                           ("place_kind", "地点类型", "grid_cell, estate or setback_area"),
                           ("category", "问题类别", "category"), ("what", "整治措施", "measures"),
                           ("unit", "责任单位", "responsible unit"), ("planned_finish", "计划完成", "planned finish")),
                   _analysis("remediations"), {"fill": "stage"}, key=("remediation_id",)),
]}


def mask_personal(frame: pd.DataFrame, layer: CatalogueLayer, *, allowed: bool = False) -> pd.DataFrame:
    """The layer with its personal fields masked: a phone keeps its first 3 and last 4 digits, free text goes."""
    if allowed or not layer.personal:
        return frame
    out = frame.copy()
    for column in layer.personal:
        if column not in out:
            continue
        if column == "reporter_phone":
            text = out[column].astype("string")
            out[column] = text.str.slice(0, 3) + "****" + text.str.slice(-4)
        else:
            out[column] = None
    return out
