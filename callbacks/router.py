"""Pages by path: the shell (header, URL, timers) stays, the body below it follows ``pathname``.

The first render already holds the right page: the layout request comes from the page itself, so its
``Referer`` names the path (same-origin referrers are sent in full). The router callback then acts only
when the path and the page differ (a Referer stripped on the way, a path changed in place), so a first
load renders each page once.

A page's path may be a template with one ``<name>`` segment (``/theme/<id>``): the layout gets the
segment as a keyword argument and raises :class:`UnknownPage` when no such page exists (the "not found"
notice). Not Dash Pages: its container renders on a pathname callback after load (a second render), and
the per-page permission and the degraded shell on a database outage would have to be rebuilt on it."""

from __future__ import annotations

import json
import re
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

Layout = Callable[..., list]
_SEGMENT = re.compile(r"[a-z][a-z0-9_]{0,63}")


class UnknownPage(LookupError):
    """A templated path names no page (``/theme/nope``): the router shows "not found"."""


@dataclass(frozen=True)
class PageSpec:
    """A screen: its path, the pure layout function of its body and the permission it needs."""

    key: str
    path: str
    layout: Layout
    permission: str = VIEW


def match_path(pages: dict[str, PageSpec], path: str | None) -> tuple[PageSpec, dict[str, str]] | None:
    """The page served at ``path`` (a trailing slash is ignored) and the values of its template's
    segments, or None."""
    parts = [s for s in (path or "/").strip("/").split("/") if s] if path != "/" else []
    for spec in pages.values():
        template = [s for s in spec.path.strip("/").split("/") if s]
        if len(template) != len(parts):
            continue
        params: dict[str, str] = {}
        for want, got in zip(template, parts, strict=True):
            if want.startswith("<") and want.endswith(">") and _SEGMENT.fullmatch(got):
                params[want[1:-1]] = got
            elif want != got:
                break
        else:
            return spec, params
    return None


def page_key(pages: dict[str, PageSpec], path: str | None) -> str | None:
    """The key of the page served at ``path`` ("theme:economy" for a templated one), or None."""
    found = match_path(pages, path)
    if found is None:
        return None
    spec, params = found
    return ":".join([spec.key, *params.values()])


def page_body(
    services: Services, pages: dict[str, PageSpec], path: str | None, lang: str, ctx: dict | None = None
) -> tuple[str, list]:
    """The key and body of the page at ``path``: the page itself, 'not found' or 'not permitted'. ``ctx`` is
    the layout context when the caller already has it."""
    found = match_path(pages, path)
    missing = "missing", [_notice(t("page.not_found", lang, path=(path or "")[:80]), lang)]
    if found is None:
        return missing
    spec, params = found
    key = page_key(pages, path)
    principal = flask.g.get("ioc_principal") if flask.has_request_context() else None
    if principal is not None and not principal.can(spec.permission):
        return key, [_notice(t("page.denied", lang), lang)]
    try:
        return key, spec.layout(ctx or services.layout_context(), lang, **params)
    except UnknownPage:
        return missing


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
        return body, key, shell.root_class(key)

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
