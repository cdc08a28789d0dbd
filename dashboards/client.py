"""Callbacks posted the way the browser posts them: for tests, benchmarks and load runs.

``DashClient`` wraps any client with ``get`` and ``post(json=...)`` (Flask's
test client, or ``ServerHttp`` against a running server) and fills a
callback's inputs and states by ``"component-id.property"``. Like the
browser's Dash renderer, it sends the session's CSRF cookie back in the
``X-CSRFToken`` header, without which the server refuses a callback.
"""

from __future__ import annotations

import requests

from dashboards.auth import CSRF_COOKIE, CSRF_HEADER


class ServerHttp:
    """``get``/``post`` on a running server's paths, with one session (its cookies kept)."""

    def __init__(self, url: str, timeout: float | None = None):
        self.url, self.session, self.timeout = url, requests.Session(), timeout

    @property
    def cookies(self):
        return self.session.cookies

    def get(self, path, **kwargs):
        return self.session.get(self.url + path, timeout=self.timeout, **kwargs)

    def post(self, path, **kwargs):
        return self.session.post(self.url + path, timeout=self.timeout, **kwargs)


class DashClient:
    def __init__(self, http, callback_map: dict):
        self.http = http
        self.callback_map = callback_map

    def log_in(self, name: str, password: str):
        return self.http.post("/login", data={"user": name, "password": password, "next": "/"})

    def key(self, output_id: str) -> str:
        """The callback whose first output is ``output_id``."""
        return next(k for k in self.callback_map if k.strip(".").split("...")[0].rsplit(".", 1)[0] == output_id)

    def body(self, output_id: str, values: dict | None = None, state: dict | None = None) -> dict:
        key = self.key(output_id)
        spec = self.callback_map[key]
        values, state = values or {}, state or {}

        def fill(items, given):
            return [{"id": i["id"], "property": i["property"], "value": given.get(f"{i['id']}.{i['property']}")}
                    for i in items]

        outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in key.strip(".").split("...")]
        return {"output": key, "outputs": outputs if len(outputs) > 1 else outputs[0],
                "inputs": fill(spec["inputs"], values), "state": fill(spec["state"], state),
                "changedPropIds": [f"{i['id']}.{i['property']}" for i in spec["inputs"]]}

    def csrf_token(self) -> str | None:
        """The session's CSRF cookie, as the browser's page would read it."""
        jar = getattr(self.http, "cookies", None)  # requests, or ServerHttp
        if jar is not None:
            return jar.get(CSRF_COOKIE)
        cookie = self.http.get_cookie(CSRF_COOKIE)  # Flask's test client
        return cookie.value if cookie is not None else None

    def call(self, output_id: str, values: dict | None = None, state: dict | None = None, *, csrf: bool = True):
        """Post the callback; ``csrf=False`` posts it as a page on another site could, without the token."""
        token = self.csrf_token() if csrf else None
        return self.http.post("/_dash-update-component", json=self.body(output_id, values, state),
                              headers={CSRF_HEADER: token} if token else {})


def for_app(app, http=None) -> DashClient:
    """A client of a Dash app in this process (its Flask test client unless another is given)."""
    http = http or app.server.test_client()
    http.get("/login")  # the first request registers the pages' callbacks
    return DashClient(http, app.callback_map)
