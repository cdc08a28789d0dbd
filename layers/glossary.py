"""The glossary's words for people, in one place: each code of the data with its (中文, English) label.

Codes are what the store holds (``layers.schema``); these are what a page, a
brief or an export shows for them. The lifecycle is 呼·分·联·销 (reported,
dispatched, coordinated, closed); levels are 村社 / 街镇 / 区.
"""

from __future__ import annotations

# Each channel's code and its name (the codes are what a case's channel holds).
CHANNELS = {
    "hotline_12345": ("12345热线", "12345 hotline"),
    "e_ningbo": ("E宁波", "E-Ningbo app"),
    "minsheng_edian": ("民生E点通", "Minsheng E-Diantong"),
    "provincial_mediation": ("省矛盾纠纷调解系统", "Provincial mediation system"),
    "grid_platform": ("基层治理四平台", "Grid platform"),
    "smart_city": ("智慧城管", "Smart city management"),
    "walk_in": ("来访登记", "Walk-in visits"),
    "video_mediation": ("在线视频调解", "Online video mediation"),
}


# Channels a profile brought (``channel_title``), as the store's ``channels`` layer holds them: remembered by
# whoever reads that layer (the dashboards' cache), so every page shows their titles too.
_BROUGHT: dict[str, tuple[str, str]] = {}


def channel_names(code: str) -> tuple[str, str]:
    """A channel's (中文, English) title: shipped, else brought by a profile, else its code."""
    return CHANNELS.get(code) or _BROUGHT.get(code) or (code, code)


def known_channels() -> dict[str, tuple[str, str]]:
    """Every channel with its title: the shipped ones first, then those profiles brought."""
    return {**CHANNELS, **_BROUGHT}


def remember_channels(frame) -> None:
    """Remember the titles of the channels in a ``channels`` frame (channel, title_zh, title_en)."""
    for row in frame[["channel", "title_zh", "title_en"]].itertuples(index=False):
        if row.channel not in CHANNELS:
            _BROUGHT[row.channel] = (row.title_zh, row.title_en)


STATUS_LABELS = {"reported": ("已受理", "reported"), "dispatched": ("已派单", "dispatched"),
                 "coordinated": ("协调中", "coordinated"), "closed": ("已办结", "closed")}
# The lifecycle's step of each status, as the centre says it (呼应·分流·联动·销号).
STATUS_STEPS = {"reported": "呼", "dispatched": "分", "coordinated": "联", "closed": "销"}
LEVEL_LABELS = {"community": ("村社", "community"), "street": ("街镇", "street"), "district": ("区", "district")}
# A setback area's management status (退红空间管理状态), in the order it moves.
SETBACK_STATUS_LABELS = {"unmanaged": ("失管", "Unmanaged"), "in_renovation": ("整治中", "In renovation"),
                         "handed_over": ("已移交", "Handed over")}
# A place that remediation or the priority list is about, and the case column that says a case is there.
PLACE_COLUMNS = {"grid_cell": "grid_cell", "estate": "estate_id", "setback_area": "setback_area"}
PLACE_KIND_LABELS = {"grid_cell": ("网格", "grid cell"), "estate": ("老旧小区", "old estate"),
                     "setback_area": ("退红空间", "setback area")}
# Every kind of place a blind spot is found at (gis.blind_spots): the places above, and these.
BLIND_SPOT_PLACE_LABELS = {**PLACE_KIND_LABELS, "community": ("社区", "community"), "component": ("部件", "component"),
                           "case": ("案件", "case")}


def step_label(status: str) -> tuple[str, str]:
    """A status with its lifecycle step, as the case table shows it: ("分 已派单", "dispatched")."""
    zh, en = STATUS_LABELS.get(status, (status, status))
    step = STATUS_STEPS.get(status)
    return (f"{step} {zh}" if step else zh, en)
