"""Graceful degradation: when the database cannot answer, nothing answers 500 with a traceback.

- A callback post answers "no new data": every output unchanged (the screen keeps its last data) and the
  data status store (``ids.DATA_STATUS``) set to degraded with the time of the last good update; the
  banner shows "数据更新中断（自 HH:MM:SS 起）" / "Data updates interrupted since HH:MM:SS".
- The layout request answers a degraded shell (header, banner, refresh timer) instead of Dash's "Error
  loading layout"; the page loads itself whole (same URL) once the data can be read again.
- The API answers 503 with a JSON problem (RFC 9457) and ``Retry-After``.
- Recovery needs nobody: the data-version poll (``callbacks.header``) sets the status back to ok and
  re-sends the version, so every panel redraws what its URL says.

The start and end of an outage are logged once per process (``callbacks.outages``).
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import parse_qs, urlsplit

import dash
import flask
from dash import Input, Output
from dash._utils import to_json

from callbacks import access
from callbacks.outages import DATABASE, DATABASE_OUTAGE
from callbacks.services import Services
from datasources.access.roles import VIEW
from layouts import ids, shell
from layouts.i18n import t

log = logging.getLogger(__name__)

DASH_POST = "/_dash-update-component"
LAYOUT = "/_dash-layout"
RETRY_AFTER_SECONDS = 5


def ok_status() -> dict:
    """The data status of a screen whose last update worked."""
    return {"ok": True, "since": None}


def degraded_status() -> dict:
    """The data status while the database cannot be read: since the last good update this process saw
    (the browser keeps the earliest one it was told)."""
    since = DATABASE.last_ok or DATABASE.since or time.time()
    return {"ok": False, "since": int(since * 1000)}


def is_degraded(status: object) -> bool:
    """True when a screen's status store says its data is not current."""
    return isinstance(status, dict) and status.get("ok") is False


def degraded_layout(services: Services, lang: str) -> dash.html.Div:
    """The shell without data: what the layout request gets while the database is down."""
    cfg = services.config
    return shell.degraded_page(cfg.title, cfg.refresh_seconds, degraded_status(), lang)


def referrer_lang() -> str:
    """The language of the page that sent this request (its URL's ``lang``)."""
    ref = urlsplit(flask.request.referrer or "")
    return "en" if parse_qs(ref.query).get("lang", [""])[-1] == "en" else "zh"


def callback_answer() -> flask.Response:
    """A callback answer that changes no output and sets the data status to degraded (Dash applies a
    ``sideUpdate`` like ``set_props``)."""
    body = {"multi": True, "response": {}, "sideUpdate": {ids.DATA_STATUS: {"data": degraded_status()}}}
    return flask.Response(to_json(body), mimetype="application/json")


def problem(status: int, title: str, detail: str) -> flask.Response:
    """An RFC 9457 problem document."""
    resp = flask.Response(json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}),
                          status=status, mimetype="application/problem+json")
    resp.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return resp


def register(app: dash.Dash, services: Services) -> None:
    """The outage answers (Flask error handlers) and the banner (a client-side callback)."""
    server = app.server
    # Dash's own views that read no data: a signed-in page that reloads during an outage still boots
    # (the session cookie is signed; which account it is cannot be checked without the database, and
    # these views show nothing of any account's data).
    shell_views = {"/", "/<path:path>", "/_dash-dependencies"}

    def on_outage(exc: Exception) -> flask.Response | tuple:
        DATABASE.down(exc)
        path = flask.request.path
        log.info("database unavailable for %s %s: %s", flask.request.method, path[:200], exc.__class__.__name__)
        if path.startswith("/api/"):
            return problem(503, "Service Unavailable", "the database is unavailable; retry later")
        if path == DASH_POST:
            return callback_answer()
        if not flask.session.get("_user_id"):
            return problem(503, "Service Unavailable", "the database is unavailable; retry later")
        if path == LAYOUT:
            return flask.Response(to_json(degraded_layout(services, referrer_lang())), mimetype="application/json")
        if flask.request.method == "GET" and flask.request.url_rule is not None and flask.request.url_rule.rule in shell_views:
            app._setup_server()  # Dash's first-request set-up (its scripts), normally a before-request hook
            return server.view_functions[flask.request.endpoint](**(flask.request.view_args or {}))
        return problem(503, "Service Unavailable", "the database is unavailable; retry later")

    for exc_class in DATABASE_OUTAGE:
        server.register_error_handler(exc_class, on_outage)

    templates = {lang: t("degraded.banner", lang) for lang in ("zh", "en")}
    templates |= {f"shell_{lang}": t("degraded.banner_shell", lang) for lang in ("zh", "en")}  # no data to keep there
    app.clientside_callback(
        """
        function(status, search) {
            const T = TEMPLATES;
            const KEY = 'iocDegradedSince';
            if (!status || status.ok !== false) {
                sessionStorage.removeItem(KEY);
                if (document.getElementById('DEGRADED_ROOT')) {
                    // The shell served during the outage: load the real page, same URL, now that data is back.
                    window.location.reload();
                }
                return [true, ''];
            }
            // The earliest "since" this tab was told, kept across a reload during the outage.
            const kept = Number(sessionStorage.getItem(KEY)) || Infinity;
            const since = Math.min(kept, status.since || Date.now());
            sessionStorage.setItem(KEY, String(since));
            const d = new Date(since);
            const p = (x) => String(x).padStart(2, '0');
            const hms = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
            const en = /(^|[?&])lang=en(&|$)/.test(search || '');
            const key = (document.getElementById('DEGRADED_ROOT') ? 'shell_' : '') + (en ? 'en' : 'zh');
            return [false, T[key].replace('{since}', hms)];
        }
        """.replace("TEMPLATES", json.dumps(templates, ensure_ascii=False)).replace("DEGRADED_ROOT", ids.DEGRADED_ROOT),
        Output(ids.DEGRADED_BANNER, "hidden"), Output(ids.DEGRADED_BANNER, "children"),
        Input(ids.DATA_STATUS, "data"), Input(ids.URL, "search"),
    )

    def retry(_n):  # noqa: ANN001, ANN202
        """The degraded shell's question: can data be read again? (An outage answers degraded, as ever.)"""
        services.data_version()
        return ok_status()

    access.callback(app, VIEW, Output(ids.DATA_STATUS, "data", allow_duplicate=True), Input(ids.DEGRADED_RETRY, "n_intervals"),
                    prevent_initial_call=True)(retry)
