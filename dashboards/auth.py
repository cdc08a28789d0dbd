"""Who is asking: login, sessions, kiosk links, and the gate every request passes.

The gate runs before every request the server answers. A page or a callback
without a valid session gets the login page or a 401; a kiosk session may
open the wall and run the wall's callbacks, nothing else. Each request
re-reads its user or kiosk from the store, so disabling a user or revoking a
kiosk link takes effect at the next click or refresh. The area scoping itself
is in the data functions: every callback passes ``principal().area`` down.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from datetime import timedelta
from html import escape

import flask
import pandas as pd

from dashboards.cache import CACHE
from dashboards.request import Principal, _as_principal, principal, store_from_request
from layers.areas import district_names
from layers.errors import StoreError
from layers.settings import SETTINGS
from layers.store import Condition, Store
from layers.users import authenticate, find_user, kiosk_for_token, server_secret

KIOSK_DAYS = SETTINGS.kiosk_days
FAILED_LOGINS, LOCKOUT_S = SETTINGS.failed_logins, SETTINGS.lockout_s
# What anybody may fetch: the login page and the static files every page needs.
_PUBLIC = ("/login", "/logout", "/assets/", "/_dash-component-suites/", "/_favicon.ico")
# The live feed (dashboards.feed): GIS clients log in with HTTP Basic on each request, as QGIS and GDAL do.
FEED_PREFIX = "/ogcapi"
# A password checked once is trusted this long (scrypt on each of a client's page requests would be slow).
BASIC_TRUST_S = SETTINGS.basic_trust_s


class LoginLimiter:
    """At most ``FAILED_LOGINS`` failures in a row per user name within ``LOCKOUT_S``; then the name is
    locked that long. Kept in the store's ``logins`` layer, whatever the backend: every process and
    server of a store (``onemap serve --workers``) counts the same attempts, so a guesser gets five in all."""

    def __init__(self, store: Store, limit=FAILED_LOGINS, window_s=LOCKOUT_S):
        self.store, self.limit, self.window_s = store, limit, window_s

    def locked(self, name: str) -> bool:
        since = pd.Timestamp.now() - pd.Timedelta(seconds=self.window_s)
        tries = self.store.read("logins", [Condition("user_name", "=", name), Condition("at", ">=", since)])
        outcomes = tries.sort_values("at")["ok"].astype(bool).tolist()
        failures_in_a_row = len(outcomes) - (max(i for i, ok in enumerate(outcomes) if ok) + 1 if any(outcomes) else 0)
        return failures_in_a_row >= self.limit

    def failed(self, name: str):
        self._record(name, False)

    def succeeded(self, name: str):
        self._record(name, True)

    def _record(self, name, ok):
        try:
            self.store.upsert("logins", pd.DataFrame([{"login_id": uuid.uuid4().hex, "user_name": name[:200],
                                                       "at": pd.Timestamp.now(), "ok": ok}]))
        except StoreError as exc:  # the count may miss one attempt; the login itself is not refused for it
            logging.getLogger(__name__).warning("a login attempt was not recorded: %s", type(exc).__name__)


def _kiosk_may_call(request) -> bool:
    """A kiosk may run the wall's callbacks, and the page router only to open the wall."""
    body = request.get_json(silent=True) or {}
    outputs = [o.rsplit(".", 1)[0] for o in str(body.get("output", "")).strip(".").split("...")]
    if all(o.startswith("wall-") for o in outputs):
        return True
    pathname = [i.get("value") for i in body.get("inputs", [])
                if isinstance(i, dict) and i.get("property") == "pathname"]
    return outputs[0] == "_pages_content" and pathname == ["/wall"]


def _basic_principal(limiter: "LoginLimiter", trusted: dict) -> Principal | None:
    """The user of an HTTP Basic login (the feed's clients), with the same failed-login limit as the page."""
    given = flask.request.authorization
    if given is None or given.type != "basic" or not given.username:
        return None
    name, password = given.username, given.password or ""
    # Remembered by a digest of name, password and the server's secret: never the password itself.
    digest = hashlib.sha256(f"{flask.current_app.secret_key}\0{name}\0{password}".encode()).hexdigest()
    store = store_from_request()
    if trusted.get(digest, 0) < time.monotonic():
        if limiter.locked(name):
            return None
        if authenticate(store, name, password) is None:
            limiter.failed(name)
            return None
        limiter.succeeded(name)
        if len(trusted) > 1000:
            trusted.clear()
        trusted[digest] = time.monotonic() + BASIC_TRUST_S
    user = find_user(CACHE.layer(store, "users"), name)  # disabled since? then no longer found
    return _as_principal(user)


def _feed_gate(limiter: "LoginLimiter", trusted: dict):
    who = principal()
    if who is None:
        who = flask.g.onemap_principal = _basic_principal(limiter, trusted)
    if who is None:
        response = flask.jsonify({"code": "Unauthorized", "description": "log in: HTTP Basic, user and password"})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Basic realm="onemap", charset="UTF-8"'
        return response
    if who.kind == "kiosk":
        return flask.jsonify({"code": "Forbidden", "description": "a kiosk link opens the wall view only"}), 403
    return None


def _gate(limiter: "LoginLimiter", trusted: dict):
    request = flask.request
    if request.path.startswith(_PUBLIC):
        return None
    if request.path == FEED_PREFIX or request.path.startswith(FEED_PREFIX + "/"):
        return _feed_gate(limiter, trusted)
    token = request.args.get("kiosk")
    if token and request.path == "/wall":
        kiosk = kiosk_for_token(store_from_request(), token)
        if kiosk is None:
            return _login_page("这个大屏链接无效或已撤销 · This kiosk link is invalid or revoked", status=403)
        flask.session.clear()
        flask.session.permanent = True
        flask.session["kiosk"] = kiosk.kiosk_id
        flask.g.pop("onemap_principal", None)
    who = principal()
    is_callback = request.path.startswith("/_dash-")
    if who is None:
        if is_callback:
            return flask.jsonify({"error": "not logged in"}), 401
        return flask.redirect("/login?next=" + flask.request.full_path.rstrip("?"))
    if who.kind == "kiosk":
        allowed = request.path in ("/wall", "/_dash-layout", "/_dash-dependencies") or (
            request.path.startswith("/geo/")) or (  # outlines, scoped to the kiosk's area like the rest
            request.path == "/_dash-update-component" and _kiosk_may_call(request))
        if not allowed:
            return flask.jsonify({"error": "a kiosk link opens the wall view only"}), 403
    return None


_LOGIN_HTML = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>登录 · 社会治理一张图</title><link rel="stylesheet" href="/assets/style.css"></head>
<body class="login"><form method="post" class="login-box">
<h1>{title}</h1><div class="sub">登录 · Log in</div>{message}
<label>用户名 User name<input name="user" autocomplete="username" value="{user}" autofocus></label>
<label>密码 Password<input name="password" type="password" autocomplete="current-password"></label>
<input type="hidden" name="next" value="{next}"><button type="submit">登录 Log in</button>
</form></body></html>"""


def _login_page(message="", *, user="", next_="/", status=200):
    note = f'<div class="login-error" id="login-error">{escape(message)}</div>' if message else ""
    try:
        zh, _ = district_names(CACHE.layer(store_from_request(), "district"))
    except StoreError:  # the login page shows even while the store does not answer
        zh = ""
    title = escape(f"{zh}社会治理一张图")
    return flask.Response(_LOGIN_HTML.format(message=note, user=escape(user), next=escape(next_), title=title),
                          status=status,
                          mimetype="text/html")


def _safe_next(target: str | None) -> str:
    # Only a path on this server: never a redirect to another site.
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


def install(app, store: Store):
    """Sessions, the login and logout routes and the gate, on the Dash app's Flask server."""
    server = app.server
    server.secret_key = server_secret(store)
    # The cookie may live as long as a kiosk link; a person's session ends SESSION_HOURS after login (_lookup).
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                         PERMANENT_SESSION_LIFETIME=timedelta(days=KIOSK_DAYS))
    limiter, trusted = LoginLimiter(store), {}

    @server.route("/login", methods=["GET", "POST"])
    def login():
        request = flask.request
        next_ = _safe_next(request.values.get("next"))
        if request.method == "GET":
            return _login_page(next_=next_)
        name, password = request.form.get("user", "").strip(), request.form.get("password", "")
        if limiter.locked(name):
            return _login_page("尝试次数过多，请15分钟后再试 · Too many attempts, try again in 15 minutes",
                               user=name, next_=next_, status=429)
        user = authenticate(store, name, password)
        if user is None:
            limiter.failed(name)
            return _login_page("用户名或密码不正确 · Wrong user name or password", user=name, next_=next_,
                               status=401)
        limiter.succeeded(name)
        flask.session.clear()
        flask.session.permanent = True
        flask.session["user"] = user.name
        flask.session["since"] = time.time()
        return flask.redirect(next_)

    @server.route("/logout")
    def logout():
        flask.session.clear()
        return flask.redirect("/login")

    @server.before_request
    def gate():
        return _gate(limiter, trusted)

    return limiter
