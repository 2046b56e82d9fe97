"""Kiosk mode (``?kiosk=1``): the shell of any page wrapped for the video wall -- no controls (the wrapper's
class hides them, ``assets/kiosk.css``), plus the parts that rotate the playlist, hold on a severe alert and
reconnect after the server was gone (``callbacks/kiosk.py``, ``assets/kiosk.js``)."""

from __future__ import annotations

from dash import dcc, html

from layouts import ids
from layouts.shell import label

#: How often the rotation looks at the clock (ms); a step lasts at least this long.
TICK_MS = 1000


def wall(shell_page: html.Div, lang: str, poll_ms: int, health_ms: int) -> html.Div:
    """``shell_page`` (see ``layouts.shell.page``) with the wall's parts around it. ``poll_ms``: how often the
    playlist and the newest severe alert are asked for; ``health_ms``: how often the server's presence."""
    return html.Div(id=ids.KIOSK_WALL, className="kiosk-wall", children=[
        shell_page,
        dcc.Location(id=ids.KIOSK_URL, refresh="callback-nav"),
        dcc.Interval(id=ids.KIOSK_TICK, interval=TICK_MS),
        dcc.Interval(id=ids.KIOSK_POLL, interval=poll_ms),
        dcc.Store(id=ids.KIOSK_FEED),
        dcc.Store(id=ids.KIOSK_STATE, storage_type="session"),
        dcc.Interval(id=ids.KIOSK_HEALTH_TICK, interval=health_ms),
        dcc.Store(id=ids.KIOSK_LINK, data={"lost": False}),
        html.Div(label("kiosk.reconnecting", lang), id=ids.KIOSK_BADGE, className="kiosk-badge", role="status", hidden=True),
        html.Div(id=ids.KIOSK_STATUS, className="kiosk-status"),
        html.Div(id=ids.KIOSK_ALERT, className="kiosk-alert", role="alert", hidden=True),
    ])
