"""Who is asking: login, logout, sessions, kiosk links, and the gate every request passes.

The gate runs before every request the server answers. A page or a callback
without a valid session gets the login page or a 401; a kiosk session may
open the wall and run the wall's callbacks, nothing else. Only an exact list
of paths is open without a login, matched after the path is normalised. Each
request re-reads its user or kiosk from the store, so disabling a user,
changing a password, logging out or revoking a kiosk link takes effect at
the next click or refresh on every server process. The area scoping itself
is in the data functions: every callback passes ``principal().area`` down.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from datetime import timedelta
from html import escape
from urllib.parse import quote

import ada_url
import flask
import pandas as pd
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboards import shared
from dashboards.cache import CACHE
from dashboards.limits import LoginLimiter
from dashboards.request import SESSION_HOURS, Principal, _as_principal, principal, store_from_request
from layers.areas import district_names
from layers.errors import InvalidValue, StoreError, StoreUnreachable
from layers.open311 import PREFIX as OPEN311_PREFIX
from layers.settings import SETTINGS
from layers.store import Store
from layers.users import (
    MIN_PASSWORD,
    end_session,
    find_user,
    kiosk_for_token,
    server_secret,
    set_password,
)

KIOSK_DAYS = SETTINGS.kiosk_days
# Reverse proxies in front of the server: their X-Forwarded-For names the client (0: the peer is the client).
PROXIES = SETTINGS.proxies
# What anybody may fetch: the login page and the static files every page needs, matched exactly.
_PUBLIC = frozenset({"/login", "/logout", "/_favicon.ico"})
_PUBLIC_FOLDERS = ("/assets/", "/_dash-component-suites/")
TOO_MANY = "尝试次数过多，请15分钟后再试 · Too many attempts, try again in 15 minutes"
UNCOUNTED = "登录服务暂时不可用，请稍后再试 · Logging in is not possible just now, try again in a minute"
# The live feed (dashboards.feed): GIS clients log in with HTTP Basic on each request, as QGIS and GDAL do.
FEED_PREFIX = "/ogcapi"
# A password checked once is trusted this long (scrypt on each of a client's page requests would be slow).
BASIC_TRUST_S = SETTINGS.basic_trust_s
# Cross-site request forgery: the session's token is also in a cookie the page's script may read, and Dash's
# renderer sends it back in this header with every callback (its defaults). A page on another site can make
# the browser post to a callback, with the session cookie on a top-level form post, but cannot read the token
# nor set a header without a CORS preflight this server never grants: the gate refuses a callback without it.
CSRF_COOKIE, CSRF_HEADER = "_csrf_token", "X-CSRFToken"
FORGED = "请求缺少有效的防伪令牌，请刷新页面 · The request lacks a valid CSRF token: reload the page"


def _kiosk_may_call(request) -> bool:
    """A kiosk may run the wall's callbacks, and the page router only to open the wall."""
    body = request.get_json(silent=True) or {}
    outputs = [o.rsplit(".", 1)[0] for o in str(body.get("output", "")).strip(".").split("...")]
    if all(o.startswith("wall-") for o in outputs):
        return True
    pathname = [i.get("value") for i in body.get("inputs", [])
                if isinstance(i, dict) and i.get("property") == "pathname"]
    return outputs[0] == "_pages_content" and pathname == ["/wall"]


def client_address() -> str:
    """The client's address: the peer's, or as the configured proxies forwarded it (``ONEMAP_PROXIES``)."""
    return flask.request.remote_addr or ""


def _basic_principal(limiter: LoginLimiter, trusted: dict) -> Principal | None:
    """The user of an HTTP Basic login (the feed's clients), with the same failed-login limit as the page."""
    given = flask.request.authorization
    if given is None or given.type != "basic" or not given.username:
        return None
    name, password, address = given.username, given.password or "", client_address()
    # Remembered by a digest of name, password and the server's secret: never the password itself.
    digest = hashlib.sha256(f"{flask.current_app.secret_key}\0{name}\0{password}".encode()).hexdigest()
    store = store_from_request()
    user = find_user(CACHE.layer(store, "users"), name)  # disabled since? then no longer found
    until, checked_at = trusted.get(digest, (0.0, None))
    # A password changed since it was checked is checked again (the old one then fails).
    stale = user is not None and user.sessions_after is not None and checked_at is not None and (
        checked_at < user.sessions_after)
    if until < time.monotonic() or stale:
        trusted.pop(digest, None)
        user, _ = limiter.attempt(name, password, address)
        if user is None:
            return None
        limiter.succeeded(name, address)
        if len(trusted) > 1000:
            trusted.clear()
        trusted[digest] = (time.monotonic() + BASIC_TRUST_S, pd.Timestamp.now())
    return _as_principal(user)


def _feed_gate(limiter: LoginLimiter, trusted: dict):
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


def is_public(path: str) -> bool:
    """Whether anybody may fetch this path: one of an exact list, or a file in a static folder.

    A path with ``.`` or ``..`` segments or an empty one (``/login/../_dash-layout``, ``/assets//x``) is
    never public, whatever it would resolve to.
    """
    segments = path.split("/")[1:]
    if not path.startswith("/") or any(s in (".", "..") for s in segments) or "" in segments[:-1]:
        return False
    return path in _PUBLIC or (path.startswith(_PUBLIC_FOLDERS) and not path.endswith("/"))


def login_link(full_path: str) -> str:
    """The login page's address that comes back to ``full_path`` (its query and all) once logged in."""
    return "/login?next=" + quote(full_path, safe="")


def _gate(limiter: LoginLimiter, trusted: dict):
    request = flask.request
    if is_public(request.path):
        return None
    if request.path == FEED_PREFIX or request.path.startswith(FEED_PREFIX + "/"):
        return _feed_gate(limiter, trusted)
    if request.path.startswith(OPEN311_PREFIX + "/"):
        return None  # the push API checks its keys, and a user's session for reads, itself (dashboards.open311)
    token = request.args.get("kiosk")
    if token and request.path == "/wall":
        kiosk = kiosk_for_token(store_from_request(), token)
        if kiosk is None:
            return _login_page("这个大屏链接无效或已撤销 · This kiosk link is invalid or revoked", status=403)
        flask.session.clear()
        flask.session.permanent = True
        flask.session.update(kiosk=kiosk.kiosk_id, csrf=secrets.token_urlsafe(32))
        flask.g.pop("onemap_principal", None)
        # The link was checked against the store itself: a kiosk made a moment ago is not yet in what this
        # process holds, which is asked again now rather than after its usual wait.
        CACHE.written(store_from_request())
    who = principal()
    is_callback = request.path.startswith("/_dash-")
    if who is None:
        if is_callback:
            return flask.jsonify({"error": "not logged in"}), 401
        return flask.redirect(login_link(flask.request.full_path.rstrip("?")))
    if request.method == "POST" and is_callback and not _csrf_header_ok():
        return flask.jsonify({"error": FORGED}), 403
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


_HERE = "http://onemap.invalid/"


def safe_next(target: str | None) -> str:
    """Where to go after login: ``target`` if it is a path on this server, as a browser would parse it; else ``/``.

    Parsed by a WHATWG URL parser (ada, the one Node.js uses), which does what the browser will do with
    the ``Location``: drop tabs and newlines, read ``\\`` as ``/``, resolve ``..``. The answer is the
    parsed path and query, re-checked, so what is checked is what the browser follows.
    """
    try:
        url = ada_url.URL(target or "/", _HERE)
    except ValueError:
        return "/"
    if url.origin != ada_url.URL(_HERE).origin:
        return "/"
    path = url.pathname + url.search
    # "/.//evil" resolves to the path "//evil", which a browser reads as another host: never given back.
    return path if path.startswith("/") and not path.startswith(("//", "/\\")) else "/"


def _csrf_token() -> str:
    """The session's token for its forms: a form posted from another site cannot know it."""
    if "csrf" not in flask.session:
        flask.session["csrf"] = secrets.token_urlsafe(32)
    return flask.session["csrf"]


def _csrf_ok() -> bool:
    return _same_token(flask.request.form.get("csrf", ""))


def _csrf_header_ok() -> bool:
    """Whether a callback carries the session's token in its header, as only this server's pages can send it."""
    return _same_token(flask.request.headers.get(CSRF_HEADER, ""))


def _same_token(given: str) -> bool:
    kept = flask.session.get("csrf", "")
    return bool(kept) and hmac.compare_digest(given.encode(), kept.encode())


def _csrf_cookie(response):
    """Give the page the session's token in a cookie its script reads (and drop it when the session ends)."""
    # A session from before tokens gets one here, rather than every callback of it refused.
    token = _csrf_token() if ("user" in flask.session or "kiosk" in flask.session) else None
    if token and flask.request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=False, samesite="Strict", path="/",
                            secure=bool(SETTINGS.secure_cookies))
    elif not token and CSRF_COOKIE in flask.request.cookies:
        response.delete_cookie(CSRF_COOKIE, path="/")
    return response


def _start_session(name: str, session_id: str) -> None:
    flask.session.clear()
    flask.session.permanent = True
    flask.session.update(user=name, sid=session_id, since=time.time(), csrf=secrets.token_urlsafe(32))


_PASSWORD_HTML = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>修改密码 · 社会治理一张图</title><link rel="stylesheet" href="/assets/style.css"></head>
<body class="login"><form method="post" class="login-box">
<h1>修改密码</h1><div class="sub">Change password · {user}</div>{message}
<label>当前密码 Current password<input name="current" type="password" autocomplete="current-password" autofocus></label>
<label>新密码 New password<input name="new" type="password" autocomplete="new-password" minlength="{least}"></label>
<label>再输一次 New password again<input name="again" type="password" autocomplete="new-password"></label>
<input type="hidden" name="csrf" value="{csrf}"><button type="submit">修改 Change</button>
<a class="link" href="/">返回 Back</a></form></body></html>"""


def _password_page(message="", *, status=200, ok=False):
    who = principal()
    note = f'<div class="{"login-ok" if ok else "login-error"}" id="password-message">{escape(message)}</div>' \
        if message else ""
    return flask.Response(_PASSWORD_HTML.format(user=escape(who.name), message=note, csrf=_csrf_token(),
                                                least=MIN_PASSWORD), status=status, mimetype="text/html")


def install(app, store: Store):
    """Sessions, the login, logout and password routes and the gate, on the Dash app's Flask server."""
    server = app.server
    server.secret_key = server_secret(store)
    if PROXIES:  # behind a reverse proxy the peer is the proxy: the client is in X-Forwarded-For
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=PROXIES, x_proto=PROXIES)  # type: ignore[method-assign]
    # The cookie may live as long as a kiosk link; a person's session ends SESSION_HOURS after login (_lookup).
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                         SESSION_COOKIE_SECURE=bool(SETTINGS.secure_cookies),
                         PERMANENT_SESSION_LIFETIME=timedelta(days=KIOSK_DAYS))
    # Several servers of the store (ONEMAP_REDIS) count failed logins and end sessions together, in Redis.
    together = shared.install(app, store, session_s=int(SESSION_HOURS * 3600))
    limiter, trusted = (together.limiter if together else LoginLimiter(store)), {}

    @server.route("/login", methods=["GET", "POST"])
    def login():
        request = flask.request
        next_ = safe_next(request.values.get("next"))
        if request.method == "GET":
            return _login_page(next_=next_)
        name, password = request.form.get("user", "").strip(), request.form.get("password", "")
        address = client_address()
        try:
            user, locked = limiter.attempt(name, password, address)
        except StoreUnreachable:  # the count of failed logins cannot be kept: no login is checked uncounted
            return _login_page(UNCOUNTED, user=name, next_=next_, status=503)
        if locked:
            return _login_page(TOO_MANY, user=name, next_=next_, status=429)
        if user is None:
            return _login_page("用户名或密码不正确 · Wrong user name or password", user=name, next_=next_,
                               status=401)
        _start_session(user.name, limiter.succeeded(name, address))
        return flask.redirect(next_)

    @server.route("/logout", methods=["GET", "POST"])
    def logout():
        session_id, name = flask.session.get("sid"), flask.session.get("user")
        flask.session.clear()
        if session_id and name:
            # Ended in the store and, with several servers, in Redis (which the gate asks first): a copy of the
            # cookie is refused by every server process. Each is tried whatever the other did.
            ended = []
            for where, end in (("store", lambda: end_session(store, session_id, name)),
                               ("redis", lambda: together and together.sessions.end(session_id))):
                try:
                    end()
                    ended.append(where)
                except StoreError as exc:
                    logging.getLogger(__name__).warning("a logout was not recorded in the %s: %s", where,
                                                        type(exc).__name__)
            if "store" not in ended and not (together and "redis" in ended):
                return _login_page("已退出本浏览器，但数据存储暂时无法访问：其他设备上复制的会话可能仍然有效 · "
                                   "Logged out here, but the store did not answer: a copy of this session "
                                   "elsewhere may still work", status=503)
        return flask.redirect("/login")

    @server.route("/password", methods=["GET", "POST"])
    def password():
        who = principal()
        if who is None or who.kind != "user":
            return flask.redirect(login_link("/password"))
        if flask.request.method == "GET":
            return _password_page()
        form = flask.request.form
        if not _csrf_ok():
            return _password_page("表单已过期，请重试 · The form expired, try again", status=403)
        address = client_address()
        user, locked = limiter.attempt(who.name, form.get("current", ""), address)
        if locked:
            return _password_page(TOO_MANY, status=429)
        if user is None:
            return _password_page("当前密码不正确 · The current password is wrong", status=401)
        if form.get("new", "") != form.get("again", ""):
            return _password_page("两次输入的新密码不一致 · The new passwords differ", status=400)
        changed_at = pd.Timestamp.now().floor("ms")
        try:
            set_password(store, who.name, form.get("new", ""), now=changed_at)
        except InvalidValue as exc:
            return _password_page(f"{exc.message('zh')} · {exc.message('en')}", status=400)
        # Every other session of this user has ended; this browser goes on in a new one.
        _start_session(who.name, limiter.succeeded(who.name, address))
        return _password_page("密码已修改，其他设备上的登录已退出 · Password changed; other sessions have ended",
                              ok=True)

    @server.before_request
    def gate():
        return _gate(limiter, trusted)

    @server.after_request
    def not_kept(response):
        # What a person sees (pages, callbacks, the feed) is theirs at that moment: no browser or proxy keeps
        # a copy to show after logout, or to the next person. The static files may be kept.
        if not is_public(flask.request.path) or flask.request.path in _PUBLIC:
            response.headers["Cache-Control"] = "no-store"
        return _csrf_cookie(response)

    return limiter
