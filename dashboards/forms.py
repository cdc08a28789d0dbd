"""What the register pages' forms and tables share (/remediation, /blindspots): a labelled field, the line
that says how a write went, the tables' look, and the row a person chose."""

from __future__ import annotations

from dash import html

TABLE_CELL = {"textAlign": "left", "maxWidth": "240px", "overflow": "hidden", "textOverflow": "ellipsis",
              "fontFamily": "inherit"}
TABLE_HEADER = {"fontWeight": "600", "background": "#edf2f7"}


def field(label: str, control) -> html.Label:
    """A form's control with its label above it."""
    return html.Label([html.Span(label, className="form-label"), control], className="form-field")


def message(result: dict) -> html.Span:
    """What a write's ``{"ok", "text"}`` says, as done or as refused."""
    return html.Span(result["text"], className="form-ok" if result["ok"] else "form-error")


def chosen_row(selected, rows) -> dict | None:
    """The row of a table's ``selected_rows``, as the browser sent both; None for anything that is not one."""
    rows = rows if isinstance(rows, list) else []
    index = selected[0] if isinstance(selected, list) and selected and isinstance(selected[0], int) else None
    return rows[index] if index is not None and 0 <= index < len(rows) and isinstance(rows[index], dict) else None
