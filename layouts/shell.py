"""The shell every screen shares: the URL, the refresh and clock timers, the data version, the header
(title, clock, mode, data-as-of, alerts, page links, language, user) and the page container that the
router fills by path (``callbacks.router``)."""

from __future__ import annotations

from dash import dcc, html

from layouts import ids
from layouts.i18n import pick, screen_title, t

#: The screens reachable from the header: (page key, path, message key of its name, permission).
NAV = (("cockpit", "/", "nav.cockpit", "view"), ("console", "/console", "nav.console", "view"),
       ("analyst", "/analyst", "nav.analyst", "export"))


def label(key: str, lang: str = "zh", tag=html.Span, **props) -> html.Component:  # noqa: ANN001
    """A static text that follows the language switch (the labels callback rewrites it)."""
    return tag(t(key, lang), id=ids.label(key), **props)


def nav_links(current: str, lang: str = "zh") -> list:
    """Links between the screens (their query, area and language, follows the URL). Plain links, so a page
    switch loads the other page whole: no callback of the page left behind can fire on a half-gone layout."""
    return [
        html.A(label(key, lang), href=path, id=ids.nav(page), className="nav-link" + (" current" if page == current else ""))
        for page, path, key, _perm in NAV
    ]


# --- theme and topic pages (pages): the header's menu of the 5 themes and the topics
def page_path(page: dict) -> str:
    """Path of a catalog page: ``/theme/<id>`` or ``/topic/<id>``."""
    return f"/{page['kind']}/{page['id']}"


def page_menu(pages: list[dict], current: str, lang: str = "zh") -> html.Details:
    """A compact menu of the catalog's themes and topics in catalog order (a laptop header has no room for
    13 links). Plain links like the page links (a whole page load), carrying the query (``callbacks.pages``)."""
    groups = []
    for kind in ("theme", "topic"):
        items = [p for p in pages if p["kind"] == kind]
        if not items:
            continue
        groups.append(html.Div(className=f"menu-group menu-{kind}", children=[
            label(f"menu.{kind}s", lang, tag=html.Div, className="menu-group-title"),
            *[html.A(html.Span(pick(lang, p["name_zh"], p["name_en"]), id=ids.menu_text(p["id"])),
                     href=page_path(p), id=ids.menu_link(p["kind"], p["id"]),
                     className="menu-link" + (" current" if current == f"{p['kind']}:{p['id']}" else ""))
              for p in items],
        ]))
    in_menu = current.startswith(("theme:", "topic:"))
    names = {p["id"]: {"zh": p["name_zh"], "en": p["name_en"] or p["name_zh"]} for p in pages}
    return html.Details(id=ids.PAGE_MENU, className="page-menu" + (" current" if in_menu else ""), children=[
        html.Summary(label("menu.pages", lang), className="nav-link menu-summary" + (" current" if in_menu else "")),
        html.Div(groups, className="menu-panel"),
        dcc.Store(id=ids.PAGE_MENU_NAMES, data=names),  # the language switch renames the entries in the browser
    ])


def header(ctx: dict, lang: str = "zh") -> html.Header:
    """Title, demo mark, clock, mode, data-as-of and open-alert count."""
    meta = ctx["meta"]
    title = screen_title(ctx["config"].title, ctx["root"], lang)
    demo = meta.get("demo") == "1"
    return html.Header(
        id=ids.HEADER,
        className=f"ioc-header mode-{(ctx.get('mode') or {}).get('mode', 'daily')}",
        children=[
            html.Div(className="header-left", children=[
                html.Span("", id=ids.CLOCK, className="clock"),
                html.Nav(nav_links(ctx.get("page", "cockpit"), lang), id=ids.NAV, className="page-nav"),
                page_menu(ctx.get("pages") or [], ctx.get("page", "cockpit"), lang),
                mode_fact(ctx.get("mode") or {}, bool((ctx.get("user") or {}).get("can_switch_mode")), lang),
            ]),
            html.H1(title, id=ids.TITLE, className="ioc-title"),
            html.Div(className="header-right", children=[
                html.Span(
                    [label("demo", lang)], id=ids.DEMO_BADGE, className="demo-badge", title=t("demo_note", lang),
                    style={} if demo else {"display": "none"},
                ),
                html.Span(className="header-fact", children=[label("as_of", lang), html.B("–", id=ids.AS_OF)]),
                html.Span(className="header-fact alerts", children=[label("alerts", lang), html.B("–", id=ids.ALERT_COUNT)]),
                html.Button(t("lang_switch", lang), id=ids.LANG_TOGGLE, className="lang-toggle", n_clicks=0),
                *user_menu(ctx.get("user"), lang),
            ]),
        ],
    )


def mode_options(mode_state: dict, lang: str = "zh") -> list[dict]:
    """The operating modes to choose from, named in ``lang``."""
    modes = mode_state.get("modes") or [{"mode": m, "name_zh": t(f"mode.{m}", "zh"), "name_en": t(f"mode.{m}", "en")}
                                        for m in ("daily", "flood", "holiday", "epidemic", "emergency")]
    return [{"label": m["name_en"] if lang == "en" else m["name_zh"], "value": m["mode"]} for m in modes]


def mode_fact(mode_state: dict, can_switch: bool, lang: str = "zh") -> html.Span:
    """The operating mode every screen shows: a selector for callers who may switch it, text for the rest
    (both stay in the page so that one callback keeps them current)."""
    mode = mode_state.get("mode", "daily")
    return html.Span(className="header-fact mode-fact", children=[
        label("mode", lang, className="mode-label"),
        html.B(t(f"mode.{mode}", lang), id=ids.MODE, style={"display": "none"} if can_switch else {}),
        dcc.Dropdown(id=ids.MODE_SELECT, options=mode_options(mode_state, lang), value=mode, clearable=False,
                     searchable=False, className="control mode-select", style={} if can_switch else {"display": "none"}),
    ])


def user_menu(user: dict | None, lang: str = "zh") -> list:
    """Who is signed in (name, role) and the sign-out button: a plain form post carrying a CSRF token."""
    if not user:
        return []
    return [
        html.Span(className="user-name", id=ids.USER_NAME, children=[
            user["name"], html.Small(t(f"role.{user['role']}", lang), id=ids.label(f"role.{user['role']}")),
        ]),
        *([html.A(label("admin.title", lang), href="/admin" + ("?lang=en" if lang == "en" else ""), className="admin-link")]
          if user.get("can_admin") else []),
        html.Form(action="/logout", method="POST", className="logout-form", children=[
            dcc.Input(type="hidden", name="csrf_token", value=user["csrf"]),
            html.Button(t("logout", lang), id=ids.label("logout"), type="submit", className="lang-toggle logout"),
        ]),
    ]




def refresh_ms(ctx: dict) -> int:
    """How often the screens poll the data version: the mode's interval, else the configured one."""
    seconds = (ctx.get("mode") or {}).get("refresh_seconds") or ctx["config"].refresh_seconds
    return int(seconds * 1000)


def root_class(page_key: str) -> str:
    """CSS classes of the screen of page ``page_key`` ("theme:economy" -> the kind and the page)."""
    kind, _, name = page_key.partition(":")
    return f"ioc-root page-{kind}" + (f" page-{kind}-{name}" if name else "")


def page(ctx: dict, page_key: str, body: list, lang: str | None = None) -> html.Div:
    """The whole screen: shell parts, header and the body of the page ``page_key``."""
    lang = lang or "zh"
    return html.Div(
        id=ids.ROOT,
        className=root_class(page_key),
        lang="zh-CN" if lang == "zh" else "en",
        children=[
            dcc.Location(id=ids.URL, refresh=False),
            dcc.Interval(id=ids.REFRESH, interval=refresh_ms(ctx)),
            dcc.Store(id=ids.DATA_VERSION, data=ctx["data_version"]),
            dcc.Store(id=ids.PAGE_KEY, data=page_key),
            dcc.Store(id=ids.VIEW_LANG, data=lang),
            header(ctx | {"page": page_key}, lang),
            *status_parts({"ok": True, "since": None}),
            html.Div(body, id=ids.PAGE, className="ioc-page"),
        ],
    )


def status_parts(status: dict) -> list:
    """The data status (set by the server when data cannot be read, see ``callbacks.degrade``) and the
    banner that shows it; its text and "since" time are filled in the browser."""
    return [
        dcc.Store(id=ids.DATA_STATUS, data=status),
        html.Div("", id=ids.DEGRADED_BANNER, className="degraded-banner", role="status", hidden=bool(status.get("ok"))),
    ]


def degraded_page(title: str, refresh_seconds: int, status: dict, lang: str = "zh") -> html.Div:
    """The shell served when the layout cannot be built (the database is down): no data, the banner, and
    a timer that asks whether data can be read again, then the page loads itself whole (same URL). Only
    the URL, the status and the banner carry the pages' ids: no page callback finds half its outputs here."""
    return html.Div(
        id=ids.DEGRADED_ROOT,
        className="ioc-root page-unavailable",
        lang="zh-CN" if lang == "zh" else "en",
        children=[
            dcc.Location(id=ids.URL, refresh=False),
            dcc.Interval(id=ids.DEGRADED_RETRY, interval=int(refresh_seconds * 1000)),
            html.Header(className="ioc-header", children=[
                html.Div(className="header-left"),
                html.H1(title or t("degraded.title", lang), className="ioc-title"),
                html.Div(className="header-right"),
            ]),
            *status_parts(status),
            html.Div(className="ioc-page", children=[
                html.Main(className="ioc-main page-notice", children=[
                    html.Div(className="panel notice-panel", children=[html.P(t("degraded.waiting", lang))]),
                ]),
            ]),
        ],
    )
