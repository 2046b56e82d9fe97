"""The live strip: newest events and open alerts of the selected area, refreshed with the data version."""

from __future__ import annotations

import dash
from dash import Input, Output, html

from callbacks import access
from callbacks.services import Services
from callbacks.state import parse_search
from datasources.access.roles import VIEW
from datasources.repository import ScopeError
from layouts import ids
from layouts.i18n import t


def ticker_items(services: Services, search: str | None, limit: int = 12) -> list:
    """Ticker entries, newest first: alerts (marked) then events, each with time, area and status."""
    state = parse_search(search)
    lang = state.lang
    area = state.area or services.repo.root_code()
    try:
        alerts = services.cached("recent_alerts", area, 4)
        events = services.cached("recent_events", area, limit)
    except ScopeError:
        return [html.Span(t("unknown_area", lang), className="tick tick-error")]
    items = [
        html.Span(className=f"tick tick-alert sev-{a['severity']}", children=[
            html.B(t("alert", lang)), f" {a['started_at']:%m-%d %H:%M} {a['region_name']} · {a['message']}",
        ])
        for a in alerts
    ]
    items += [
        html.Span(className=f"tick sev-{e['severity']}", children=[
            html.B(t(f"source.{e['source']}", lang)),
            f" {e['reported_at']:%m-%d %H:%M} {e['title']} · {t('status.' + e['status'], lang)}",
        ])
        for e in events
    ]
    return items


def register(app: dash.Dash, services: Services) -> None:
    """Wire the ticker to the URL and the data version."""
    access.callback(
        app, VIEW, Output(ids.TICKER, "children"), Input(ids.URL, "search"), Input(ids.DATA_VERSION, "data"),
    )(lambda search, _v: ticker_items(services, search))
