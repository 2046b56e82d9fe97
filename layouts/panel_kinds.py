"""The skeletons of the panels a theme or topic page is made of, one builder per panel kind, and the
page frame around them (a bar with breadcrumb, area and period, then the panels in a grid).

Pure functions: no database. The kinds' data functions and their registry live in
``callbacks.panel_kinds``; the builders here only lay out the empty panel that the page callback fills
(``ids.panel("body", idx)``) and, for kinds that chart one indicator, its picker (``ids.panel("pick", idx)``).
"""

from __future__ import annotations

from dash import dcc, html

from layouts import ids
from layouts.i18n import pick, t
from layouts.map_figure import base_figure

GRAPH_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"],
                "toImageButtonOptions": {"format": "png", "scale": 2}}


def panel_title(panel: dict, lang: str) -> str:
    """The panel's title: the catalog's, else the kind's default name."""
    if panel.get("title_zh"):
        return pick(lang, panel["title_zh"], panel.get("title_en") or "")
    return t(f"pages.{panel['kind']}", lang)


def frame(panel: dict, idx: int, lang: str, *top: object, body_class: str = "") -> html.Section:
    """A panel: title, optional controls, and the body the page callback fills."""
    wide = len(panel.get("metrics") or ()) > 2  # a table of many columns takes two columns of the grid
    return html.Section(
        className=f"panel page-panel panel-{panel['kind']}" + (" wide" if wide else ""),
        **{"data-kind": panel["kind"]},
        children=[
            html.Div(className="page-panel-head", children=[
                html.H2(panel_title(panel, lang), id=ids.panel("title", idx), className="panel-title"), *top,
            ]),
            html.Div(id=ids.panel("body", idx), className=f"page-panel-body {body_class}".strip()),
        ],
    )


def picker(idx: int, options: list[dict]) -> dcc.Dropdown:
    """The indicator picker of a panel that charts one indicator out of several."""
    return dcc.Dropdown(id=ids.panel("pick", idx), options=options, clearable=False, searchable=True,
                        className="control panel-pick")


def kpis(panel: dict, idx: int, lang: str, options: list[dict], ctx: dict) -> html.Section:  # noqa: ARG001
    """A grid of KPI cards (filled with linked cards)."""
    return frame(panel, idx, lang, body_class="kpi-grid page-kpis")


def charted(panel: dict, idx: int, lang: str, options: list[dict], ctx: dict) -> html.Section:  # noqa: ARG001
    """A panel about one indicator picked from the panel's list: trend, ranking."""
    return frame(panel, idx, lang, picker(idx, options))


def plain(panel: dict, idx: int, lang: str, options: list[dict], ctx: dict) -> html.Section:  # noqa: ARG001
    """A panel whose body says it all: events, facilities, readings, indicator details."""
    return frame(panel, idx, lang)


def map_panel(panel: dict, idx: int, lang: str, options: list[dict], ctx: dict) -> html.Section:
    """The choropleth of a picked indicator by child areas with the panel's point layers (the cockpit's map
    figure: ``callbacks.pages`` patches it with the cockpit's ``map_patch``). A click on an area drills."""
    graph = dcc.Graph(
        id=ids.PAGE_MAP, figure=base_figure(ctx["config"].tile_url, ctx["root_bounds"]), className="map-graph page-map",
        config=GRAPH_CONFIG | {"scrollZoom": True, "toImageButtonOptions": {"format": "png", "filename": "ioc-map", "scale": 2}},
    )
    section = frame(panel, idx, lang, picker(idx, options), body_class="page-map-note")
    section.children.insert(1, html.Div([graph, dcc.Store(id=ids.PAGE_MAP_SIZE)], className="map-wrap page-map-wrap"))
    return section


def page_frame(title: str, panels: list, periods: list[dict], lang: str, note: str = "") -> list:
    """The body of a theme or topic page: a bar (page title, breadcrumb, area, period) and the panels."""
    return [
        html.Main(className="ioc-main catalog-page", children=[
            html.Div(className="page-bar", children=[
                html.H1(title, id=ids.PAGE_TITLE, className="page-title"),
                html.Nav(id=ids.PAGE_CRUMB, className="breadcrumb", **{"aria-label": "breadcrumb"}),
                html.Div(id=ids.PAGE_AREA, className="page-area"),
                html.Div(className="page-controls", children=[
                    html.Span(t("period", lang), id=ids.label("period"), className="control-label"),
                    dcc.Dropdown(id=ids.PAGE_PERIOD, options=periods, clearable=False, searchable=False,
                                 className="control period-select"),
                ]),
            ]),
            *([html.Div(html.P(note), className="panel notice-panel")] if note else []),
            html.Div(panels, className="page-panels"),
        ]),
    ]
