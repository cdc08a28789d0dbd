"""Users, roles and kiosk links, kept in the store beside the data they open.

A user logs in with a password (stored as a scrypt hash, slow on purpose)
and sees one area. A wall screen has no one to type a password: it opens
with a kiosk link, a long random token bound to an area and to the wall
view, of which the store keeps only a hash; revoking it ends the link at the
wall's next refresh.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import cache
from urllib.parse import parse_qsl

import pandas as pd
from werkzeug.security import check_password_hash, generate_password_hash

from layers.areas import Area, AreaError
from layers.errors import InvalidValue
from layers.settings import SETTINGS
from layers.store import Condition, Store

ROLES = {
    "commander": ("指挥长", "Commander"),
    "street_staff": ("街道工作人员", "Street staff"),
    "grid_leader": ("网格长", "Grid leader"),
    "planner": ("规划人员", "Planner"),
    "admin": ("系统管理员", "Administrator"),
}
MIN_PASSWORD = SETTINGS.min_password
# Who may take personal data (phone numbers, free text) out in an export; everyone else gets it masked.
PERSONAL_DATA_ROLES = ("commander", "admin")


@cache
def _nobody() -> str:
    # A hash to check against when the user does not exist, so a wrong name costs as long as a wrong
    # password; made at the first such login, not at every import.
    return generate_password_hash("nobody-has-this-password")


@dataclass(frozen=True)
class User:
    """A person who may log in: role and area (never the password hash)."""

    name: str
    role: str
    area: Area
    display_name: str
    # Sessions begun before this (a password change) are over; None: none ended so.
    sessions_after: pd.Timestamp | None = None


@dataclass(frozen=True)
class Kiosk:
    """A wall screen's link: its area and its view's query (never the token)."""

    kiosk_id: str
    area: Area
    view: dict
    label: str


def check_area(store: Store, area: Area) -> Area:
    """The area if every code in it exists in the store's geography; else an error naming the missing ones."""
    where = {"street": ("streets", "street_code"), "community": ("communities", "community_code"),
             "cells": ("grid_cells", "grid_cell")}.get(area.kind)
    if area.kind == "district" and area.codes:
        where = ("district", "district_code")
    if where:
        layer, column = where
        found = set(store.read(layer, [Condition(column, "in", list(area.codes))])[column])
        missing = [c for c in area.codes if c not in found]
        if missing:
            raise AreaError(f"area {area.spec()}: no {column} {', '.join(missing)} in the store")
    return area


def add_user(store: Store, name: str, *, role: str, area: Area, password: str, display_name: str = "",
             now=None) -> User:
    """Create or replace a user (a replaced user gets the new password, role and area, and its sessions end)."""
    if role not in ROLES:
        raise InvalidValue(f"role {role!r}: roles are {', '.join(ROLES)}")
    _check_password(name, password)
    check_area(store, area)
    now = pd.Timestamp(now or pd.Timestamp.now())
    store.upsert("users", pd.DataFrame([{
        "user_name": name, "display_name": display_name or name, "role": role, "area": area.spec(),
        "password_hash": generate_password_hash(password), "created_at": now, "disabled": False,
        "sessions_after": now}]))
    return User(name, role, area, display_name or name, now)


def _check_password(name: str, password: str):
    if len(password) < MIN_PASSWORD:
        raise InvalidValue(f"the password for {name!r} is shorter than {MIN_PASSWORD} characters",
                           zh=f"密码不能少于{MIN_PASSWORD}个字符")


def set_password(store: Store, name: str, password: str, *, now=None) -> bool:
    """Give a user a new password; every session begun before now ends, on every server. False: no such user."""
    _check_password(name, password)
    rows = store.read("users", [Condition("user_name", "=", name)])
    if rows.empty:
        return False
    rows["password_hash"] = generate_password_hash(password)
    rows["sessions_after"] = pd.Timestamp(now or pd.Timestamp.now())
    store.upsert("users", rows)
    return True


def end_session(store: Store, session_id: str, user_name: str, *, now=None) -> None:
    """End one session (a logout) before its time: every server process refuses its cookie from now on."""
    store.upsert("ended_sessions", pd.DataFrame([{
        "session_id": session_id, "user_name": user_name, "ended_at": pd.Timestamp(now or pd.Timestamp.now())}]))


def ended_sessions(store: Store, since) -> frozenset[str]:
    """The ids of sessions ended since ``since``; one ended earlier has expired by then anyway."""
    rows = store.read("ended_sessions", [Condition("ended_at", ">=", pd.Timestamp(since))])
    return frozenset(rows["session_id"])


def _user(row) -> User:
    after = row.get("sessions_after")
    return User(row["user_name"], row["role"], Area.parse(row["area"]), row["display_name"] or row["user_name"],
                pd.Timestamp(after) if pd.notna(after) else None)


def get_user(store: Store, name: str) -> User | None:
    """The user if it exists and is not disabled."""
    return find_user(store.read("users", [Condition("user_name", "=", name)]), name)


def find_user(users: pd.DataFrame, name: str) -> User | None:
    """The user of that name in a frame of users (all of them, say, held by a server), unless disabled."""
    rows = users[users["user_name"] == name]
    if rows.empty or bool(rows["disabled"].iat[0]):
        return None
    return _user(rows.iloc[0])


def authenticate(store: Store, name: str, password: str) -> User | None:
    """The user whose password this is, or None (the same time taken whether or not the name exists)."""
    rows = store.read("users", [Condition("user_name", "=", name)])
    if rows.empty:
        check_password_hash(_nobody(), password)
        return None
    row = rows.iloc[0]
    if not check_password_hash(row["password_hash"], password) or bool(row["disabled"]):
        return None
    return _user(row)


def list_users(store: Store) -> pd.DataFrame:
    """The users, without their password hashes, by name."""
    return store.read("users").drop(columns="password_hash").sort_values("user_name")


def disable_user(store: Store, name: str, *, now=None) -> bool:
    """Disable a user (kept, for the record of who did what); False if there is no such user."""
    rows = store.read("users", [Condition("user_name", "=", name)])
    if rows.empty:
        return False
    rows["disabled"] = True
    rows["sessions_after"] = pd.Timestamp(now or pd.Timestamp.now())
    store.upsert("users", rows)
    return True


def _token_hash(token: str) -> str:
    # The token is 256 random bits, so a plain digest is enough: nothing to guess, only to look up.
    return hashlib.sha256(token.encode()).hexdigest()


def add_kiosk(store: Store, *, area: Area, label: str = "", view: str = "rotate=1", now=None) -> tuple[str, str]:
    """A new kiosk link's id and token; the token is shown once and only its hash is kept."""
    check_area(store, area)
    token = secrets.token_urlsafe(32)
    digest = _token_hash(token)
    store.upsert("kiosks", pd.DataFrame([{
        "kiosk_id": digest[:12], "token_hash": digest, "label": label, "area": area.spec(), "view": view,
        "created_at": pd.Timestamp(now or pd.Timestamp.now()), "revoked_at": pd.NaT}]))
    return digest[:12], token


def _kiosk(rows) -> Kiosk | None:
    if rows.empty or pd.notna(rows["revoked_at"].iat[0]):
        return None
    row = rows.iloc[0]
    return Kiosk(row["kiosk_id"], Area.parse(row["area"]), dict(parse_qsl(row["view"] or "")), row["label"] or "")


def kiosk_for_token(store: Store, token: str) -> Kiosk | None:
    """The kiosk a token opens, if it exists and is not revoked."""
    return _kiosk(store.read("kiosks", [Condition("token_hash", "=", _token_hash(token or ""))]))


def find_kiosk(kiosks: pd.DataFrame, kiosk_id: str) -> Kiosk | None:
    """The kiosk of that id in a frame of kiosks, unless revoked."""
    return _kiosk(kiosks[kiosks["kiosk_id"] == kiosk_id])


def list_kiosks(store: Store) -> pd.DataFrame:
    """The kiosk links, without their token hashes, oldest first."""
    return store.read("kiosks").drop(columns="token_hash").sort_values("created_at")


def revoke_kiosk(store: Store, kiosk_id: str, *, now=None) -> bool:
    """End a kiosk link now; False if there is no such link."""
    rows = store.read("kiosks", [Condition("kiosk_id", "=", kiosk_id)])
    if rows.empty:
        return False
    rows["revoked_at"] = pd.Timestamp(now or pd.Timestamp.now())
    store.upsert("kiosks", rows)
    return True


def server_secret(store: Store) -> str:
    """The key that signs session cookies: made once per store, so every server process agrees on it."""
    rows = store.read("settings", [Condition("name", "=", "session_secret")])
    if not rows.empty:
        return rows["value"].iat[0]
    secret = secrets.token_hex(32)
    store.upsert("settings", pd.DataFrame([{"name": "session_secret", "value": secret}]))
    return secret


def record_look(store: Store, name: str, page: str, *, now=None) -> pd.Timestamp | None:
    """Note that ``name`` opened ``page`` now; when they opened it before (None the first time)."""
    rows = store.read("looks", [Condition("user_name", "=", name), Condition("page", "=", page)])
    before = None if rows.empty or pd.isna(rows["at"].iat[0]) else pd.Timestamp(rows["at"].iat[0])
    store.upsert("looks", pd.DataFrame([{"user_name": name, "page": page, "at": pd.Timestamp(now or pd.Timestamp.now())}]))
    return before
