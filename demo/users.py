"""The demo's people: one user per role, and a kiosk link for the command hall's wall."""

from __future__ import annotations

from layers.areas import Area
from layers.users import add_kiosk, add_user

# name, role, area, display name; the password is the name followed by "-demo".
DEMO_USERS = [
    ("commander", "commander", "district", "区矛调中心指挥长"),
    ("kongpu", "street_staff", "street:330205003", "孔浦街道工作人员"),
    ("hongmei", "grid_leader", "cells:33020500300201,33020500300202", "红梅社区网格长"),
    ("planner", "planner", "district", "规划人员"),
    ("admin", "admin", "district", "系统管理员"),
]
DEMO_KIOSK_VIEW = "rotate=1&interval=60"


def demo_password(name: str) -> str:
    return f"{name}-demo"


def create_demo_users(store) -> dict:
    """Add the demo users and one kiosk link; what to print: users with passwords, the kiosk token."""
    users = []
    for name, role, area, display_name in DEMO_USERS:
        add_user(store, name, role=role, area=Area.parse(area), password=demo_password(name),
                 display_name=display_name)
        users.append({"user": name, "password": demo_password(name), "role": role, "area": area,
                      "display_name": display_name})
    kiosk_id, token = add_kiosk(store, area=Area.parse("district"), label="指挥大厅大屏", view=DEMO_KIOSK_VIEW)
    return {"users": users, "kiosk_id": kiosk_id, "kiosk_token": token}
