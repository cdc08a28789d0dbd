"""The header every person's page shows, built once: the page's title, who is looking, and a link to each other page.

The links come from Dash's page registry: a page registered with ``label=(中文, English)``
is linked from every other page's header, in the page's language; a page registered with
``header=False`` (the wall, which a kiosk opens) is not.
"""

from __future__ import annotations

from urllib.parse import urlencode

import dash
from dash import MATCH, Input, Output, State, clientside_callback, html

from dashboards.i18n import say


def language_switch(path: str, query: dict, lang: str) -> str:
    """The page at ``path`` with what its link carried (``query``), in the other language."""
    kept = {k: v for k, v in query.items() if k != "lang" and isinstance(v, str)}
    return path + "?" + urlencode({**kept, **({} if lang == "en" else {"lang": "en"})})


def header(title: str, sub: str, lang: str, *, here: str, who: str = "", who_id: str | None = None,
           switch: str | None = None, switch_id: str | None = None) -> html.Div:
    """The header of the page at ``here``; ``switch``: the same view's link in the other language."""
    back = "?lang=en" if lang == "en" else ""
    links = [html.A(say(*page["label"], lang), href=page["path"] + back, className="link")
             for page in dash.page_registry.values()
             if page.get("label") and page.get("header", True) and page["path"] != here]
    if switch is not None:
        links.insert(0, html.A("中文" if lang == "en" else "English", href=switch, className="link",
                               **({"id": switch_id} if switch_id else {})))
    who_span = [html.Span(who, **({"id": who_id} if who_id else {}))] if who else []
    return html.Div(className="header", children=[
        html.H1(title), html.Span(sub, className="sub"),
        # On a phone the links fold behind ☰.
        drawer_button("header-menu", "☰", say("菜单", "Menu", lang)),
        html.Span(className="who drawer", id=drawer_id("header-menu"), children=who_span + links + [
            html.A(say("修改密码", "Password", lang), href="/password", className="link"),
            html.A(say("退出", "Log out", lang), href="/logout", className="link")])])



def drawer_id(name: str) -> dict:
    return {"type": "drawer", "name": name}


def drawer_button(name: str, text: str, label: str) -> html.Button:
    """What opens and closes the drawer ``drawer_id(name)`` on a phone; on a wider screen the button is
    hidden and the drawer always open (assets/style.css)."""
    return html.Button(text, id={"type": "drawer-open", "name": name}, className="drawer-open", title=label,
                       **{"aria-label": label})


# One callback for every drawer of every page, in the browser: a class switched, nothing asked of the server.
clientside_callback(
    """function(clicks, className) {
        const words = (className || "").split(" ").filter(w => w && w !== "open");
        return clicks % 2 ? words.concat("open").join(" ") : words.join(" ");
    }""",
    Output(drawer_id(MATCH), "className"), Input({"type": "drawer-open", "name": MATCH}, "n_clicks"),
    State(drawer_id(MATCH), "className"), prevent_initial_call=True)
