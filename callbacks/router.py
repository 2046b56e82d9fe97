"""Pages by path: the shell (header, URL, timers) stays, the body below it follows ``pathname``.

The first render already holds the right page: the layout request comes from the page itself, so its
``Referer`` names the path (same-origin referrers are sent in full). The router callback then acts only
when the path and the page differ (a Referer stripped on the way, a path changed in place), so a first
load renders each page once."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import dash
import flask
from dash import Input, Output, State, html, no_update

from callbacks import access, degrade, inputs, kiosk
from callbacks.outages import DATABASE, DATABASE_OUTAGE
from callbacks.services import Services
from callbacks.state import parse_search
from datasources.access.roles import VIEW
from layouts import ids, shell
from layouts import kiosk as kiosk_layout
from layouts.i18n import t

Layout = Callable[[dict, str], list]


@dataclass(frozen=True)
class PageSpec:
    """A screen: its path, the pure layout function of its body and the permission it needs."""

    key: str
    path: str
    layout: Layout
    permission: str = VIEW


def page_key(pages: dict[str, PageSpec], path: str | None) -> str | None:
    """The page served at ``path`` (a trailing slash is ignored), or None."""
    clean = "/" + (path or "/").strip("/")
    return next((p.key for p in pages.values() if p.path == clean), None)


def page_body(
    services: Services, pages: dict[str, PageSpec], path: str | None, lang: str, ctx: dict | None = None
) -> tuple[str, list]:
    """The key and body of the page at ``path``: the page itself, 'not found' or 'not permitted'. ``ctx`` is
    the layout context when the caller already has it."""
    key = page_key(pages, path)
    if key is None:
        return "missing", [_notice(t("page.not_found", lang, path=(path or "")[:80]), lang)]
    spec = pages[key]
    principal = flask.g.get("ioc_principal") if flask.has_request_context() else None
    if principal is not None and not principal.can(spec.permission):
        return key, [_notice(t("page.denied", lang), lang)]
    return key, spec.layout(ctx or services.layout_context(), lang)


def _notice(text: str, lang: str) -> html.Main:
    return html.Main(className="ioc-main page-notice", children=[
        html.Div(className="panel notice-panel", children=[
            html.P(text), html.A(t("page.home", lang), href="/" + ("?lang=en" if lang == "en" else "")),
        ]),
    ])


def initial_layout(services: Services, pages: dict[str, PageSpec]) -> html.Div:
    """The whole screen for the page that asked for the layout (its path from the Referer)."""
    ref = urlsplit(flask.request.referrer or "") if flask.has_request_context() else urlsplit("")
    lang = "en" if parse_qs(ref.query).get("lang", [""])[-1] == "en" else "zh"
    try:
        ctx = services.layout_context()
        key, body = page_body(services, pages, ref.path or "/", lang, ctx)
    except DATABASE_OUTAGE as exc:  # not Dash's "Error loading layout": a shell that loads itself when data is back
        DATABASE.down(exc)
        return degrade.degraded_layout(services, lang)
    screen = shell.page(ctx, key, body, lang)
    if kiosk.kiosk_requested(ref.query):  # the video wall: the same page, wrapped (layouts/kiosk.py)
        return kiosk_layout.wall(screen, lang, shell.refresh_ms(ctx), services.config.kiosk_health_seconds * 1000)
    return screen


def register(app: dash.Dash, services: Services, pages: dict[str, PageSpec]) -> None:
    """Route by path, and keep the header's page links carrying the current query."""
    degrade.register(app, services)  # database outages: degraded answers and the banner, never a 500

    def route(pathname, search, current):  # noqa: ANN001, ANN202
        pathname = inputs.text(pathname, 256)
        key = page_key(pages, pathname) or "missing"
        if key == current:
            return no_update, no_update, no_update
        key, body = page_body(services, pages, pathname, parse_search(search).lang)
        return body, key, f"ioc-root page-{key}"

    access.callback(
        app, VIEW,
        Output(ids.PAGE, "children"), Output(ids.PAGE_KEY, "data"), Output(ids.ROOT, "className"),
        Input(ids.URL, "pathname"), State(ids.URL, "search"), State(ids.PAGE_KEY, "data"),
    )(route)  # also at load: a layout request without a Referer (stripped by a proxy) got the cockpit

    # The header's page links carry the current query (in the browser: no post per click).
    app.clientside_callback(
        """
        function(search, key) {
            const pages = PAGES;
            const query = search || '';
            return [...pages.map(p => p[1] + query), ...pages.map(p => 'nav-link' + (p[0] === key ? ' current' : ''))];
        }
        """.replace("PAGES", json.dumps([[page, path] for page, path, _label, _perm in shell.NAV])),
        *[Output(ids.nav(page), "href") for page, *_ in shell.NAV],
        *[Output(ids.nav(page), "className") for page, *_ in shell.NAV],
        Input(ids.URL, "search"), Input(ids.PAGE_KEY, "data"),
    )
