"""The analyst workbench (``/analyst``): filters on the left, the comparison charts in a grid, the records
table below. Pure functions: the options come in as plain data (see ``callbacks.analyst``); every value
the controls hold comes from the URL, written by the callbacks.

Each chart panel keeps a place for its export buttons (``ids.export_slot(panel)``), filled by
``layouts/export_controls.py`` when that module is present.
"""

from __future__ import annotations

from dash import dash_table, dcc, html

from datasources.analysis.filters import COMPARISONS, GRANULARITIES, SEVERITIES
from datasources.analysis.panels import PANELS
from datasources.rules import LIFECYCLE
from layouts import ids
from layouts.i18n import pick, t
from layouts.shell import label

#: Chart panels in screen order (the records tables are shown by the records section).
CHARTS = ("ranking", "trend", "comparison", "scatter", "categories")
PAGE_SIZE = 25
#: DataTable colours of the dark screen.
CELL = {"fontSize": 13, "padding": "2px 6px", "textAlign": "left", "backgroundColor": "rgba(4, 20, 42, 0.85)", "color": "#e6f0ff",
        "border": "1px solid #1b3f6e", "fontFamily": "inherit"}
HEADER = {"fontWeight": "bold", "backgroundColor": "#0d2a4d", "color": "#bfe0ff"}
FILTER = {"backgroundColor": "#0b2240", "color": "#e6f0ff"}
SOURCES = ("hotline", "city_management", "grid", "emergency", "sensor")


def export_controls(panel_id: str, lang: str):  # noqa: ANN201
    """The export buttons of a panel: the exports module's when present, else an empty placeholder."""
    try:
        from layouts.export_controls import export_controls as controls
    except ImportError:
        return html.Div(id=ids.export_slot(panel_id), className="export-slot")
    return html.Div(controls(panel_id, lang), id=ids.export_slot(panel_id), className="export-slot")


def indicator_options(indicators: list[dict], themes: list[dict], theme: str | None, lang: str) -> list[dict]:
    """Indicators grouped by theme (a disabled heading per theme), searchable by name, code and theme;
    only the chosen theme's when one is chosen."""
    out: list[dict] = []
    for th in themes:
        if theme and th["id"] != theme:
            continue
        members = [i for i in indicators if i["theme"] == th["id"]]
        if not members:
            continue
        th_name = pick(lang, th["name_zh"], th["name_en"])
        out.append({"label": f"— {th_name} —", "value": f"group:{th['id']}", "disabled": True})
        for i in members:
            name = pick(lang, i["name_zh"], i["name_en"])
            unit = pick(lang, i["unit"], i["unit_en"])
            out.append({"label": f"{name}" + (f" ({unit})" if unit else ""), "value": i["code"],
                        "search": f"{name} {i['name_zh']} {i['code']} {th_name}"})
    return out


def category_options(categories: list, sources: list[str] | None, lang: str) -> list[dict]:
    """Event categories (of the chosen sources when any), named in ``lang``."""
    return [{"label": f"{pick(lang, c.name_zh, c.name_en)}", "value": c.category}
            for c in categories if not sources or c.source in sources]


def month_options(periods: list[str]) -> list[dict]:
    """Months ('YYYY-MM') to choose from, newest first."""
    return [{"label": p, "value": p} for p in periods]


def dropdown_labels(lang: str) -> dict:
    """The dropdowns' own words (select all, search, …) in ``lang``; Dash's defaults are English."""
    if lang == "en":
        return {}
    return {"select_all": "全选", "deselect_all": "全不选", "selected_count": "已选 {num_selected} 项", "search": "搜索",
            "clear_search": "清除搜索", "clear_selection": "清除选择", "no_options_found": "无匹配选项"}


def _field(key: str, control, lang: str) -> html.Div:  # noqa: ANN001
    return html.Div(className="analyst-field", children=[label(key, lang, tag=html.Label), control])


def filters_panel(opts: dict, lang: str) -> html.Aside:
    """The filter column: areas, period, theme, indicators, event filters, comparison and the map."""
    any_ = t("analyst.any", lang)
    months = month_options(opts["periods"])
    words = {"labels": dropdown_labels(lang)} if lang != "en" else {}
    return html.Aside(className="panel analyst-filters", children=[
        label("analyst.filters", lang, tag=html.H2),
        html.Div(id=ids.ANALYST_ERROR, className="analyst-error", role="alert"),
        _field("analyst.areas", dcc.Dropdown(**words, id=ids.ANALYST_AREAS, options=opts["areas"], multi=True,
                                             placeholder=t("analyst.areas.all", lang), className="control"), lang),
        html.Div(className="analyst-row", children=[
            _field("analyst.from", dcc.Dropdown(**words, id=ids.ANALYST_FROM, options=months, placeholder=t("analyst.latest12", lang),
                                                className="control"), lang),
            _field("analyst.to", dcc.Dropdown(**words, id=ids.ANALYST_TO, options=months, className="control"), lang),
        ]),
        dcc.RadioItems(id=ids.ANALYST_GRAN, value="month", inline=True, className="analyst-radio",
                       options=[{"label": t(f"analyst.gran.{g}", lang), "value": g} for g in GRANULARITIES]),
        html.Small(id=ids.ANALYST_WINDOW, className="analyst-window"),
        _field("analyst.theme", dcc.Dropdown(**words, id=ids.ANALYST_THEME, options=opts["themes"],
                                             placeholder=t("analyst.theme.all", lang), className="control"), lang),
        _field("analyst.indicators", dcc.Dropdown(**words, id=ids.ANALYST_INDICATORS, options=opts["indicators"], multi=True,
                                                  placeholder=any_, className="control", maxHeight=320), lang),
        label("analyst.events", lang, tag=html.H3),
        html.Div(className="analyst-row", children=[
            _field("analyst.sources", dcc.Dropdown(**words, id=ids.ANALYST_SOURCES, options=opts["sources"], multi=True,
                                                   placeholder=any_, className="control"), lang),
            _field("analyst.categories", dcc.Dropdown(**words, id=ids.ANALYST_CATEGORIES, options=opts["categories"], multi=True,
                                                      placeholder=any_, className="control"), lang),
        ]),
        html.Div(className="analyst-row", children=[
            _field("analyst.statuses", dcc.Dropdown(**words, id=ids.ANALYST_STATUSES, multi=True, placeholder=any_, className="control",
                                                    options=[{"label": t(f"status.{s}", lang), "value": s} for s in LIFECYCLE]),
                   lang),
            _field("analyst.severities", dcc.Dropdown(**words, id=ids.ANALYST_SEVERITIES, multi=True, placeholder=any_, className="control",
                                                      options=[{"label": t(f"severity.{s}", lang), "value": s} for s in SEVERITIES]),
                   lang),
        ]),
        _field("analyst.compare", dcc.RadioItems(id=ids.ANALYST_COMPARE, value="yoy", inline=True, className="analyst-radio",
                                                 options=[{"label": t(f"analyst.cmp.{c}", lang), "value": c} for c in COMPARISONS]),
               lang),
        html.Div(className="analyst-row", children=[
            dcc.Dropdown(**words, id=ids.ANALYST_CMP_FROM, options=months, placeholder=t("analyst.from", lang), className="control"),
            dcc.Dropdown(**words, id=ids.ANALYST_CMP_TO, options=months, placeholder=t("analyst.to", lang), className="control"),
        ]),
        label("analyst.map", lang, tag=html.H3),
        dcc.Graph(id=ids.ANALYST_MAP, className="analyst-map", responsive=True, config={"displaylogo": False, "scrollZoom": True},
                  figure=opts["map"]),
    ])


def chart_panel(panel_id: str, lang: str) -> html.Section:
    """One chart with its title and the place for its export buttons."""
    panel = PANELS[panel_id]
    extra = []
    if panel_id == "ranking":
        extra = [dash_table.DataTable(
            id=ids.ANALYST_RANKING_TABLE, page_size=8, style_table={"overflowX": "auto"}, sort_action="native",
            style_cell=CELL, style_header=HEADER,
        )]
    return html.Section(className=f"panel analyst-panel analyst-{panel_id}", children=[
        html.Div(className="analyst-panel-head", children=[
            html.H3(panel.title(lang), className="panel-title"), export_controls(panel_id, lang),
        ]),
        dcc.Loading(dcc.Graph(id=ids.analyst_graph(panel_id), className="analyst-graph", responsive=True,
                              config={"displaylogo": False, "displayModeBar": False}), delay_show=300),
        *extra,
    ])


def records_panel(lang: str) -> html.Section:
    """The records table (events or indicator values) the charts drill into: paged, sorted and filtered on
    the server."""
    return html.Section(className="panel analyst-panel analyst-records", children=[
        html.Div(className="analyst-panel-head", children=[
            label("analyst.records", lang, tag=html.H3, className="panel-title"),
            dcc.RadioItems(id=ids.ANALYST_RECORDS_KIND, value="events", inline=True, className="analyst-radio",
                           options=[{"label": t(f"analyst.records.{k}", lang), "value": k} for k in ("events", "values")]),
            html.Span(id=ids.ANALYST_DRILL_TEXT, className="analyst-drill-text"),
            html.Button(t("analyst.drill.clear", lang), id=ids.ANALYST_DRILL_CLEAR, n_clicks=0, className="lang-toggle"),
            html.Span(id=ids.ANALYST_RECORDS_TOTAL, className="analyst-total"),
            export_controls("events", lang),
            export_controls("values", lang),
        ]),
        dash_table.DataTable(
            id=ids.ANALYST_RECORDS, page_current=0, page_size=PAGE_SIZE, page_action="custom", sort_action="custom",
            sort_mode="single", filter_action="custom", filter_query="", sort_by=[],
            style_table={"overflowX": "auto"}, style_cell=CELL | {"maxWidth": 260, "overflow": "hidden", "textOverflow": "ellipsis"},
            style_header=HEADER, style_filter=FILTER,
        ),
    ])


def page(opts: dict, lang: str) -> list:
    """The whole analyst page body."""
    return [html.Main(className="ioc-main analyst-main", children=[
        dcc.Location(id=ids.ANALYST_URL, refresh="callback-nav"),  # tells the shell's URL (ids.URL) it moved
        dcc.Store(id=ids.ANALYST_DRILL, data=None),
        filters_panel(opts, lang),
        html.Div(className="analyst-grid", children=[*(chart_panel(p, lang) for p in CHARTS), records_panel(lang)]),
    ])]
