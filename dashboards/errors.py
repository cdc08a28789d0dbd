"""Errors as the dashboard's front door shows them: in the page, never a blank page or a bare 500.

One translation per door: a callback's error goes to the page's error box
(Dash's ``on_error``), a route's to an HTML page or, for the feed and Dash's
own endpoints, to JSON with the error's status. An :class:`OnemapError` says
what was wrong; anything else is a bug, logged with its traceback under an
id that the person sees, so they can quote it.
"""

from __future__ import annotations

import logging
import uuid
from html import escape

import dash
import flask
from dash import html
from werkzeug.exceptions import HTTPException

from layers.errors import OnemapError

log = logging.getLogger(__name__)
BOX_ID = "app-error"


def error_box():
    """The page's error box, hidden until a callback fails; its × hides it again."""
    return html.Div(id=BOX_ID, className="app-error", role="alert", style={"display": "none"}, children=[
        html.Span(id=f"{BOX_ID}-text"), html.Button("×", id=f"{BOX_ID}-close", className="app-error-close",
                                                     title="关闭 Close")])


def message(exc: BaseException) -> tuple[str, str, int]:
    """(Chinese, English, HTTP status) for a person: the error's own message, or an id to quote for a bug."""
    if isinstance(exc, OnemapError):
        return exc.message("zh"), exc.message("en"), exc.status
    ref = uuid.uuid4().hex[:8]
    log.error("internal error %s", ref, exc_info=exc)
    return f"内部错误（编号 {ref}），已记录", f"Internal error (ref {ref}), logged", 500


def on_callback_error(exc: Exception):
    """Dash's ``on_error``: the message in the page's error box; the callback's outputs stay as they were."""
    zh, en, _ = message(exc)
    dash.set_props(f"{BOX_ID}-text", {"children": f"{zh} · {en}"})
    dash.set_props(BOX_ID, {"style": {"display": "flex"}})


def install(app):
    """The routes' error handler and the error box's close button."""
    app.clientside_callback("function(n) { return {display: 'none'}; }",
                            dash.Output(BOX_ID, "style", allow_duplicate=True),
                            dash.Input(f"{BOX_ID}-close", "n_clicks"), prevent_initial_call=True)

    @app.server.errorhandler(Exception)
    def handle(exc):
        if isinstance(exc, HTTPException):
            if flask.request.path.startswith(("/ogcapi", "/open311")):  # a client reads JSON, whatever went wrong
                response = exc.get_response()  # its headers (a 405's Allow) with a JSON body
                body = {"code": exc.name.replace(" ", ""), "description": exc.description or ""}
                if flask.request.path.startswith("/open311"):  # Open311's errors are a list of {code, description}
                    body = [{"code": exc.code, "description": exc.description or exc.name}]
                response.set_data(flask.json.dumps(body))
                response.mimetype = "application/json"
                return response
            return exc
        zh, en, status = message(exc)
        path = flask.request.path
        if path.startswith(("/ogcapi", "/open311", "/_dash-", "/geo/")):
            body = exc.to_dict() if isinstance(exc, OnemapError) else {
                "code": "ServerError", "description": en, "description_zh": zh}
            if path.startswith("/open311"):
                body = [{"code": status, "description": body["description"]}]
            response = flask.jsonify(body)
            response.status_code = status
            if getattr(exc, "retry_after", None):
                response.headers["Retry-After"] = str(exc.retry_after)
            return response
        page = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>出错了 · Error</title>'
                f'<link rel="stylesheet" href="/assets/style.css"></head><body class="error-page">'
                f'<div class="app-error" role="alert">{escape(zh)} · {escape(en)}</div>'
                f'<p><a href="/">返回一张图 · Back to the map</a></p></body></html>')
        return flask.Response(page, status=status, mimetype="text/html")
