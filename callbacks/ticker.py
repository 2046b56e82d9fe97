"""The live strip: the most severe open alert pinned first, then the newest alerts and events of the
selected area scrolling; refreshed with the data version, sent only when it changed."""

from __future__ import annotations

from datetime import datetime

import dash
from dash import Input, Output, State, html, no_update

from callbacks import access
from callbacks.delta import parts_delta
from callbacks.services import Services
from callbacks.state import is_past_period, parse_search
from datasources.access.roles import VIEW
from datasources.repository import ScopeError
from datasources.rules import SEVERE
from layouts import ids
from layouts.alert_text import alert_area, alert_text
from layouts.i18n import t

ALERTS_SHOWN = 6


def pinned_alert(alerts: list[dict]) -> dict | None:
    """The alert that takes the ticker's first place: the most severe open one of severity I–II, the
    newest among equals; None when no severe alert is open."""
    severe = [a for a in alerts if a["severity"] <= SEVERE]
    return min(severe, key=lambda a: (a["severity"], -a["started_at"].timestamp(), -a["id"])) if severe else None


def ticker_items(services: Services, search: str | None, limit: int = 12) -> dict[str, list]:
    """The pinned alert (``pinned``: zero or one item) and the scrolling items (``items``): the other open
    alerts by severity then time, then the newest events, each with time, area and status."""
    state = parse_search(search)
    lang = state.lang
    area = state.area or services.repo.root_code()
    try:
        alerts = services.cached("open_alerts", area, ALERTS_SHOWN)  # most severe first, then newest
        events = services.cached("recent_events", area, limit)
    except ScopeError:
        return {"pinned": [], "items": [html.Span(t("unknown_area", lang), className="tick tick-error")]}
    top = pinned_alert(alerts)
    rest = [a for a in alerts if a is not top]  # open_alerts is already most severe first, then newest
    pinned = [_alert(top, lang, "tick-pinned")] if top else []
    if is_past_period(state.period_date(), services.cached("periods")):  # the strip shows the present, not the selected period: say so first
        pinned.insert(0, html.Span(t("ticker.now", lang), className="tick tick-now"))
    items = [_alert(a, lang) for a in rest]
    items += [
        html.Span(className=f"tick sev-{e['severity']}", children=[
            html.B(t(f"source.{e['source']}", lang)),
            f" {e['reported_at']:%m-%d %H:%M} ",
            html.Span(e["title"], className="data-text"),  # data (the event's own title), in its own language
            f" · {t('status.' + e['status'], lang)}",
        ])
        for e in events
    ]
    return {"pinned": pinned, "items": items}


def _alert(a: dict, lang: str, extra: str = "") -> html.Span:
    when: datetime = a["started_at"]
    return html.Span(className=f"tick tick-alert sev-{a['severity']} {extra}".strip(), **{"data-alert": str(a["id"])}, children=[
        html.B(f"{t('alert', lang)} {t('severity.' + str(a['severity']), lang)}"),
        f" {when:%m-%d %H:%M} {alert_area(a, lang)} · {alert_text(a, lang)}",
    ])


def register(app: dash.Dash, services: Services) -> None:
    """Wire the ticker to the URL and the data version."""

    def refresh(search, _version, sent):  # noqa: ANN001, ANN202
        parts, hashes = parts_delta(ticker_items(services, search), sent if isinstance(sent, dict) else None)
        if all(v is no_update for v in parts.values()):
            return no_update, no_update, no_update
        return parts["pinned"], parts["items"], hashes

    access.callback(
        app, VIEW,
        Output(ids.TICKER_PINNED, "children"), Output(ids.TICKER, "children"), Output(ids.TICKER_SENT, "data"),
        Input(ids.URL, "search"), Input(ids.DATA_VERSION, "data"), State(ids.TICKER_SENT, "data"),
    )(refresh)
