"""City components (城市部件) as the digital city-management standard classes them.

GB/T 30428.2 (from CJ/T 214) gives each component a 16-digit code: the
6-digit county code, a 2-digit major class, a 2-digit minor class and a
6-digit serial. Major class 01 is 公用设施; the numbering of the others
below follows the standard's order and is the usual one, but it is not
verified against the standard's text (which is not freely published).
"""

from __future__ import annotations

import re

MAJOR_CLASSES = {
    "01": ("公用设施", "Public utilities"),
    "02": ("道路交通", "Roads and traffic"),
    "03": ("市容环境", "City appearance"),
    "04": ("园林绿化", "Parks and greenery"),
    "05": ("房屋土地", "Buildings and land"),
    "06": ("其他设施", "Other facilities"),
    "07": ("扩展部件", "Extension classes"),
}
COMPONENT_STATES = {
    "intact": ("完好", "intact"),
    "damaged": ("破损", "damaged"),
    "missing": ("丢失", "missing"),
    "occupied": ("占用", "occupied"),
}
_CODE = re.compile(r"\d{16}")


def split_code(code: str) -> tuple[str, str, str, str] | None:
    """(county, major class, minor class, serial) of a valid code, else None."""
    if not isinstance(code, str) or not _CODE.fullmatch(code) or code[6:8] not in MAJOR_CLASSES:
        return None
    return code[:6], code[6:8], code[8:10], code[10:]
