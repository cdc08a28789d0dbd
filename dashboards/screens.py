"""What makes a page fit the screen it is on, beyond CSS: the maps' zoom and type (``assets/fit.js``)."""

from __future__ import annotations

from dash import ClientsideFunction, Input, Output, State, clientside_callback, dcc


def fit_to_screen(graph_id: str) -> None:
    """Fit the map drawn in ``graph_id`` to the element it has, each time a new figure arrives.

    In the browser, not on the server: only the browser knows the screen, and the map is then
    drawn once more from the figure it holds, with nothing asked of the server. The page holds
    ``fitted(graph_id)`` beside the map: the size it was last fitted to (its first figure, which
    comes with the page, is fitted because that store is this callback's own output).
    """
    clientside_callback(ClientsideFunction("onemap", "fit_map"), Output(graph_id, "figure", allow_duplicate=True),
                        Output(f"{graph_id}-fitted", "data"), Input(graph_id, "figure"), State(graph_id, "id"),
                        prevent_initial_call="initial_duplicate")


def fitted(graph_id: str) -> dcc.Store:
    """Where the page keeps the size the map ``graph_id`` was fitted to: [map width, height, window width, height]."""
    return dcc.Store(id=f"{graph_id}-fitted")
