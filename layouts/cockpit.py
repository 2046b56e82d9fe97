"""The one-screen cockpit (``/``): header, map with breadcrumb, five theme panels, event strip, ticker."""

from __future__ import annotations

from dash import dcc, html

from layouts import ids, kpi
from layouts.i18n import pick, screen_title, t
from layouts.map_figure import DEFAULT_LAYERS, base_figure, layer_options

THEMES = ("economy", "governance", "emergency", "public_service", "environment")
LEFT, RIGHT = ("economy", "governance", "emergency"), ("public_service", "environment")


def label(key: str, lang: str = "zh", tag=html.Span, **props) -> html.Component:  # noqa: ANN001
    """A static text that follows the language switch (the labels callback rewrites it)."""
    return tag(t(key, lang), id=ids.label(key), **props)


def header(ctx: dict, lang: str = "zh") -> html.Header:
    """Title, demo mark, clock, mode, data-as-of and open-alert count."""
    meta = ctx["meta"]
    title = screen_title(ctx["config"].title, ctx["root"], lang)
    demo = meta.get("demo") == "1"
    return html.Header(
        className="ioc-header",
        children=[
            html.Div(className="header-left", children=[
                html.Span("", id=ids.CLOCK, className="clock"),
                html.Span(className="header-fact", children=[label("mode", lang), html.B(t("mode.daily", lang), id=ids.MODE)]),
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


def export_link(user: dict | None, lang: str = "zh") -> list:
    """The KPI export link, for callers who may export (its address follows the view)."""
    if not user or not user.get("can_export"):
        return []
    return [html.A(label("export_kpis", lang), id=ids.EXPORT_KPIS, href="/export/kpis.csv", className="export-link", download="")]


def theme_panel(theme: dict, headlines: list[dict], lang: str = "zh") -> html.Section:
    """One theme's panel with its headline KPI cards."""
    return html.Section(
        className=f"panel theme-panel theme-{theme['id']}",
        children=[
            html.H2(pick(lang, theme["name_zh"], theme["name_en"]), id=ids.label(f"page.{theme['id']}"), className="panel-title"),
            html.Div(className=f"kpi-grid n{len(headlines)}", children=[kpi.card(i, lang) for i in headlines]),
        ],
    )


def map_panel(ctx: dict, lang: str = "zh") -> html.Section:
    """Breadcrumb, map controls and the map."""
    return html.Section(
        className="panel map-panel",
        children=[
            html.Div(className="map-bar", children=[
                html.Nav(id=ids.BREADCRUMB, className="breadcrumb", **{"aria-label": "breadcrumb"}),
                html.Div(className="map-controls", children=[
                    label("indicator", lang, className="control-label"),
                    dcc.Dropdown(id=ids.INDICATOR_SELECT, clearable=False, searchable=True, className="control indicator-select"),
                    label("period", lang, className="control-label"),
                    dcc.Dropdown(id=ids.PERIOD_SELECT, clearable=False, searchable=False, className="control period-select"),
                    *export_link(ctx.get("user"), lang),
                ]),
            ]),
            html.Div(className="map-wrap", children=[
                dcc.Graph(
                    id=ids.MAP, figure=base_figure(ctx["config"].tile_url, ctx["root_bounds"]), className="map-graph",
                    config={"displaylogo": False, "scrollZoom": True, "responsive": True,
                            "modeBarButtonsToRemove": ["select2d", "lasso2d"],
                            "toImageButtonOptions": {"format": "png", "filename": "ioc-map", "scale": 2}},
                ),
                html.Div(className="layer-box", children=[
                    label("layers", lang, className="control-label"),
                    dcc.Checklist(id=ids.LAYERS, options=layer_options(lang), value=DEFAULT_LAYERS, className="layer-list",
                                  inputClassName="layer-input", labelClassName="layer-label"),
                ]),
                html.Div(id=ids.AREA_TITLE, className="area-title"),
            ]),
        ],
    )


def event_panel(lang: str = "zh") -> html.Section:
    """This period's events in the selected area: totals by status and source."""
    return html.Section(className="panel event-panel", children=[
        label("event_stats", lang, tag=html.H2, className="panel-title"),
        html.Div(id=ids.EVENT_STATS, className="event-stats"),
    ])


def ticker_strip(lang: str = "zh") -> html.Section:
    """The newest events and alerts of the selected area, scrolling."""
    return html.Section(className="ticker-strip", children=[
        label("ticker", lang, tag=html.Div, className="ticker-title"),
        html.Div(html.Div(id=ids.TICKER, className="ticker-track"), className="ticker-window"),
    ])


def page(ctx: dict, lang: str | None = None) -> html.Div:
    """The whole cockpit, built from the catalog held in ``ctx`` (see ``Services.layout_context``)."""
    lang = lang or "zh"  # zh-CN by default; ?lang=en switches (the labels callback rewrites every text)
    themes = {p["id"]: p for p in ctx["pages"] if p["kind"] == "theme"}
    by_theme: dict[str, list[dict]] = {}
    for ind in ctx["headlines"]:
        by_theme.setdefault(ind["theme"], []).append(ind)
    panels = {tid: theme_panel(themes[tid], by_theme.get(tid, []), lang) for tid in THEMES if tid in themes}
    return html.Div(
        id=ids.ROOT,
        className="ioc-root",
        lang="zh-CN" if lang == "zh" else "en",
        children=[
            dcc.Location(id=ids.URL, refresh=False),
            dcc.Interval(id=ids.CLOCK_TICK, interval=1000),
            dcc.Interval(id=ids.REFRESH, interval=ctx["config"].refresh_seconds * 1000),
            dcc.Store(id=ids.DATA_VERSION, data=ctx["data_version"]),
            dcc.Store(id=ids.MAP_SIZE),
            header(ctx, lang),
            html.Main(className="ioc-main", children=[
                html.Div(className="side side-left", children=[panels[k] for k in LEFT if k in panels]),
                map_panel(ctx, lang),
                html.Div(className="side side-right", children=[panels[k] for k in RIGHT if k in panels] + [event_panel(lang)]),
            ]),
            ticker_strip(lang),
        ],
    )
