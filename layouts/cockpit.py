"""The one-screen cockpit (``/``): map with breadcrumb, five theme panels, event strip, ticker (the header is
the shell's)."""

from __future__ import annotations

from dash import dcc, html

from layouts import ids, kpi
from layouts.i18n import pick
from layouts.leader import alert_panel
from layouts.map_figure import DEFAULT_LAYERS, LAYERS, base_figure, layer_options
from layouts.map_layers import legend
from layouts.shell import label

THEMES = ("economy", "governance", "emergency", "public_service", "environment")
LEFT, RIGHT = ("economy", "governance", "emergency"), ("public_service", "environment")


def export_link(user: dict | None, lang: str = "zh") -> list:
    """The KPI export link, for callers who may export (its address follows the view)."""
    if not user or not user.get("can_export"):
        return []
    return [html.A(label("export_kpis", lang), id=ids.EXPORT_KPIS, href="/export/kpis.csv", className="export-link", download="")]


def panel_order(themes: list[str], first: list[str]) -> dict[str, int]:
    """CSS order of the theme panels: those the mode names first (in its order), then the rest as laid out."""
    ranked = [t for t in first if t in themes]
    return {t: ranked.index(t) if t in ranked else len(ranked) + k for k, t in enumerate(themes)}


def mode_layers(mode: dict | None) -> list[str]:
    """The map layers switched on in a mode (its profile), else the defaults."""
    layers = [k for k in (mode or {}).get("layers") or [] if k in LAYERS]
    return layers or list(DEFAULT_LAYERS)


def theme_panel(theme: dict, headlines: list[dict], lang: str = "zh", order: int = 0) -> html.Section:
    """One theme's panel with its headline KPI cards."""
    return html.Section(
        id=ids.theme_panel(theme["id"]),
        style={"order": order},
        className=f"panel theme-panel theme-{theme['id']}",
        children=[
            html.H2(pick(lang, theme["name_zh"], theme["name_en"]), id=ids.label(f"page.{theme['id']}"), className="panel-title"),
            html.Div(className=f"kpi-grid n{len(headlines)}", children=[kpi.card(i, lang) for i in headlines]),
        ],
    )


def map_panel(ctx: dict, lang: str = "zh", layers: list[str] | None = None) -> html.Section:
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
            dcc.Store(id=ids.LAYERS_DEFAULT, data=layers or list(DEFAULT_LAYERS)),
            dcc.Store(id=ids.ALERT_PANEL_SENT),
            dcc.Store(id=ids.LAYERS_SYNC),
            html.Div(className="map-body", children=[alert_panel(lang), html.Div(className="map-wrap", children=[
                dcc.Graph(
                    id=ids.MAP, figure=base_figure(ctx["config"].tile_url, ctx["root_bounds"]), className="map-graph",
                    config={"displaylogo": False, "scrollZoom": True, "responsive": True,
                            "modeBarButtonsToRemove": ["select2d", "lasso2d"],
                            "toImageButtonOptions": {"format": "png", "filename": "ioc-map", "scale": 2}},
                ),
                # The picker folds away (a leader reads the legend); its choice lives in the URL (callbacks.leader).
                html.Details(className="layer-box", children=[
                    html.Summary(label("layers", lang, className="control-label")),
                    dcc.Checklist(id=ids.LAYERS, options=layer_options(lang), value=layers or list(DEFAULT_LAYERS), className="layer-list",
                                  inputClassName="layer-input", labelClassName="layer-label"),
                ]),
                legend(layers or list(DEFAULT_LAYERS), lang, switchable=True),
                html.Div(id=ids.AREA_TITLE, className="area-title"),
            ])]),
        ],
    )


def event_panel(lang: str = "zh") -> html.Section:
    """This period's events in the selected area: totals by status and source."""
    return html.Section(className="panel event-panel", children=[
        label("event_stats", lang, tag=html.H2, className="panel-title"),
        html.Div(id=ids.EVENT_STATS, className="event-stats"),
    ])


def ticker_strip(lang: str = "zh") -> html.Section:
    """The most severe open alert pinned first, then the newest alerts and events of the area, scrolling."""
    return html.Section(className="ticker-strip", children=[
        dcc.Store(id=ids.TICKER_SENT),
        label("ticker", lang, tag=html.Div, className="ticker-title"),
        html.Div(id=ids.TICKER_PINNED, className="ticker-pinned"),
        html.Div(html.Div(id=ids.TICKER, className="ticker-track"), className="ticker-window"),
    ])


def page(ctx: dict, lang: str | None = None) -> list:
    """The cockpit's body below the shared header (see ``layouts.shell``), built from the catalog held in
    ``ctx`` (see ``Services.layout_context``): the map between the theme panels, and the ticker."""
    lang = lang or "zh"  # zh-CN by default; ?lang=en switches (the labels callback rewrites every text)
    themes = {p["id"]: p for p in ctx["pages"] if p["kind"] == "theme"}
    by_theme: dict[str, list[dict]] = {}
    for ind in ctx["headlines"]:
        by_theme.setdefault(ind["theme"], []).append(ind)
    order = panel_order(list(THEMES), (ctx.get("mode") or {}).get("panels") or [])
    panels = {tid: theme_panel(themes[tid], by_theme.get(tid, []), lang, order[tid]) for tid in THEMES if tid in themes}
    return [
        dcc.Store(id=ids.MAP_SIZE),
        dcc.Store(id=ids.VIEW_SENT),
        dcc.Store(id=ids.KPI_DATA),
        dcc.Store(id=ids.NAV_PICK),
        html.Main(className="ioc-main", children=[
            html.Div(className="side side-left", children=[panels[k] for k in LEFT if k in panels]),
            map_panel(ctx, lang, mode_layers(ctx.get("mode"))),
            html.Div(className="side side-right", children=[panels[k] for k in RIGHT if k in panels] + [event_panel(lang)]),
        ]),
        ticker_strip(lang),
    ]
