"""What a request is answered with: this process's store, the basemap, and who is asking.

The app (``dashboards.app``) makes one store per process and puts it, with the
basemap, on the Flask app; every route and callback takes them from here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import flask
import pandas as pd

from dashboards.basemap import NO_BASEMAP, Basemap
from dashboards.cache import CACHE
from dashboards.i18n import only
from layers.areas import Area
from layers.settings import SETTINGS
from layers.store import Store
from layers.users import ROLES, ended_sessions, find_kiosk, find_user

# A person's session ends this long after login; a kiosk's lives as long as its link.
SESSION_HOURS = SETTINGS.session_hours


def store_from_request() -> Store:
    """This process's store (one per process, with its connection pool; made by ``create_app``)."""
    return flask.current_app.extensions["onemap_store"]


def basemap_from_request() -> Basemap:
    return flask.current_app.extensions.get("onemap_basemap", NO_BASEMAP)


@dataclass(frozen=True)
class Principal:
    """The user or the kiosk a request comes from."""

    kind: str  # "user" or "kiosk"
    name: str
    role: str
    area: Area
    view: dict
    display_name: str = ""

    def label(self, lang: str = "zh") -> str:
        """Who is looking, in the page's language: 红梅社区网格长 · 网格长, or … · Grid leader."""
        if self.kind == "kiosk":
            return f"{only(('大屏', 'Wall'), lang)} {self.name}"
        return f"{self.display_name or self.name} · {only(ROLES.get(self.role, (self.role,) * 2), lang)}"


def person() -> Principal:
    """The person (a logged-in user, not a kiosk) a page or callback answers; the login check, written once.

    The gate lets no request without a principal this far, and a kiosk only to the wall: this is the second lock.
    """
    who = principal()
    if who is None or who.kind != "user":
        raise PermissionError("no user for this request")
    return who


def principal() -> Principal | None:
    """The principal of the current request (looked up once per request)."""
    if "onemap_principal" not in flask.g:
        flask.g.onemap_principal = _lookup()
    return flask.g.onemap_principal


def _lookup() -> Principal | None:
    session = flask.session
    if not session.get("user") and not session.get("kiosk"):
        return None
    # Users and kiosks as the server holds them, re-read whenever the store's copy changes.
    store = store_from_request()
    if session.get("user"):
        since, session_id = session.get("since", 0), session.get("sid")
        if not session_id or time.time() - since > SESSION_HOURS * 3600:
            return None
        user = find_user(CACHE.layer(store, "users"), session["user"])
        if user is None or (user.sessions_after is not None and pd.Timestamp.fromtimestamp(since) < user.sessions_after):
            return None  # disabled, or its password changed after this session began
        together = flask.current_app.extensions.get("onemap_shared")  # dashboards.shared, with ONEMAP_REDIS
        if session_id in _ended(store) or (together is not None and together.sessions.ended(session_id)):
            return None  # logged out (on this server or another)
        return _as_principal(user)
    kiosk = find_kiosk(CACHE.layer(store, "kiosks"), session["kiosk"])
    return kiosk and Principal("kiosk", kiosk.label or kiosk.kiosk_id, "kiosk", kiosk.area, kiosk.view)


def _ended(store: Store) -> frozenset[str]:
    # Re-read only when a logout anywhere changes the layer; a session ended earlier than a session lasts
    # has expired by itself, so only the last SESSION_HOURS are read.
    return CACHE.derived_layer(store, "ended_sessions", ("ids",), lambda: ended_sessions(
        store, pd.Timestamp.now() - pd.Timedelta(hours=SESSION_HOURS)))


def _as_principal(user) -> Principal | None:
    return user and Principal("user", user.name, user.role, user.area, {}, user.display_name)


