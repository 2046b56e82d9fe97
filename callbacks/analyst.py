"""The analyst workbench's callbacks: URL <-> filter controls, the charts, the drill and the records table.

The URL is the view: the controls write it (normalised by ``AnalysisFilters``, so a dependent value that
no longer fits its parent is dropped from both), a URL (a shared link, back/forward) sets the controls,
and every chart and the records table read it. Numbers come from the panels' SQL through the caller's
scoped repository; a bad URL parameter shows a message naming it, never a traceback.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import dash
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, no_update
from dateutil.relativedelta import relativedelta

from callbacks import access, inputs
from callbacks.services import Services
from callbacks.state import parse_search
from datasources.access.roles import EXPORT
from datasources.analysis import records
from datasources.analysis.filters import AnalysisFilters, FilterCatalog, FilterError, month_text
from datasources.analysis.panels import PANELS
from datasources.catalog_loader import event_categories
from datasources.repository import ScopeError
from layouts import analyst as layout
from layouts import ids
from layouts.i18n import pick, t
from layouts.map_figure import geojson_url, view_for_bounds
from layouts.map_style import map_style

#: The controls in the order the sync callback reads and writes them, with their URL parameter.
CONTROLS = (
    (ids.ANALYST_AREAS, "areas"), (ids.ANALYST_FROM, "from"), (ids.ANALYST_TO, "to"), (ids.ANALYST_GRAN, "gran"),
    (ids.ANALYST_THEME, "theme"), (ids.ANALYST_INDICATORS, "ind"), (ids.ANALYST_SOURCES, "src"),
    (ids.ANALYST_CATEGORIES, "cat"), (ids.ANALYST_STATUSES, "status"), (ids.ANALYST_SEVERITIES, "sev"),
    (ids.ANALYST_COMPARE, "cmp"), (ids.ANALYST_CMP_FROM, "cmp_from"), (ids.ANALYST_CMP_TO, "cmp_to"),
)
LISTS = frozenset({"areas", "ind", "src", "cat", "status", "sev"})
DEFAULTS = {"gran": "month", "cmp": "yoy"}


# ---------------------------------------------------------------------------------------------- reading the URL


def query_of(search: str | None) -> dict[str, str]:
    """The URL's parameters (last value wins); a query no view has (NULs, thousands of fields) is empty."""
    raw = inputs.text(search, 8192)
    try:
        return dict(parse_qsl(raw.lstrip("?"), max_num_fields=64))
    except ValueError:
        return {}


def catalog(services: Services) -> FilterCatalog:
    """Themes, indicators and event categories the filters are checked against (cached reads)."""
    return FilterCatalog.from_rows(services.cached("indicators"), services.cached("pages"), event_categories().values())


def read_filters(services: Services, search: str | None) -> tuple[AnalysisFilters | None, str | None]:
    """(filters, None) from the URL, or (None, message naming the bad parameter) in the URL's language."""
    lang = parse_search(search).lang
    try:
        f = AnalysisFilters.from_query(query_of(search), catalog(services))
        for area in f.areas:
            services.repo.check_scope(area)
    except FilterError as err:
        return None, t("analyst.bad_param", lang, param=err.param, reason=err.reason)
    except ScopeError:
        bad = next(a for a in f.areas if not _visible(services, a))
        return None, t("analyst.bad_area", lang, area=bad)
    return f, None


def _visible(services: Services, area: str) -> bool:
    try:
        services.repo.check_scope(area)
    except ScopeError:
        return False
    return True


def search_of(f: AnalysisFilters, lang: str) -> str:
    """The URL query of filters in a language."""
    q = f.to_query()
    if lang == "en":
        q["lang"] = "en"
    return "?" + urlencode(q) if q else ""


def control_values(f: AnalysisFilters) -> list:
    """The controls' values showing ``f`` (in CONTROLS order)."""
    q = f.to_query()
    out: list = []
    for _cid, param in CONTROLS:
        raw = q.get(param, "")
        if param == "sev":
            out.append([int(s) for s in raw.split(",") if s])
        elif param in LISTS:
            out.append([s for s in raw.split(",") if s])
        else:
            out.append(raw or DEFAULTS.get(param))
    return out


def query_from_controls(values: list) -> dict[str, str]:
    """URL parameters from the controls' posted values (untrusted: anything not a plain value is dropped)."""
    q: dict[str, str] = {}
    for (_cid, param), value in zip(CONTROLS, values, strict=True):
        if param in LISTS:
            items = value if isinstance(value, list) else []
            q[param] = ",".join(str(v) for v in items[: inputs.MAX_LIST] if isinstance(v, str | int) and not isinstance(v, bool))
        elif isinstance(value, str):
            q[param] = inputs.text(value, 64)
    return {k: v for k, v in q.items() if v}


# ---------------------------------------------------------------------------------------------- options


def options(services: Services, lang: str, theme: str | None = None, sources: list[str] | None = None) -> dict:
    """Everything the filter controls offer: areas in scope, months, themes, indicators, sources, categories."""
    repo = services.repo
    root = services.cached("region", repo.root_code())
    areas = [{"label": pick(lang, root["name"], root["name_en"]), "value": root["code"]}]
    for child in services.cached("children", root["code"]):
        areas.append({"label": pick(lang, child["name"], child["name_en"]), "value": child["code"]})
        for grand in services.cached("children", child["code"]):
            areas.append({"label": f"{pick(lang, child['name'], child['name_en'])} › {pick(lang, grand['name'], grand['name_en'])}",
                          "value": grand["code"]})
    pages = services.cached("pages")
    themes = [p for p in pages if p["kind"] == "theme"]
    return {
        "areas": areas,
        "periods": [month_text(p) for p in services.cached("periods")],
        "themes": [{"label": pick(lang, p["name_zh"], p["name_en"]), "value": p["id"]} for p in themes],
        "indicators": layout.indicator_options(services.cached("indicators"), themes, theme, lang),
        "sources": [{"label": t(f"source.{s}", lang), "value": s} for s in layout.SOURCES],
        "categories": layout.category_options(list(event_categories().values()), sources, lang),
    }


def page(services: Services, ctx: dict, lang: str) -> list:  # noqa: ARG001 - the router's layout signature
    """The page body (the router calls it); controls are filled from the URL by :func:`sync`."""
    opts = options(services, lang)
    opts["map"] = empty_map(services)
    return layout.page(opts, lang)


# ---------------------------------------------------------------------------------------------- charts


def _frame(services: Services, panel: str, f: AnalysisFilters) -> pd.DataFrame:
    """A panel's rows for the caller (scope-bound query, filters resolved)."""
    with services.base_repo.engine.connect() as conn:
        return pd.read_sql(services.repo.panel_query(panel, f), conn)


def empty_map(services: Services, area: str | None = None) -> go.Figure:
    """The map before its data, fitted to ``area`` (default: the caller's top area), styled without
    outside requests."""
    bounds = services.cached("bounds", area or services.repo.root_code())
    center, zoom = view_for_bounds(bounds, 340, 300)
    fig = go.Figure(layout={"map": {"style": map_style(services.config.tile_url), "center": center, "zoom": zoom},
                            "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "dragmode": "lasso", "showlegend": False,
                            "uirevision": f"analyst:{area or 'top'}"})
    return fig


def map_figure(services: Services, f: AnalysisFilters, ranking: pd.DataFrame, lang: str) -> go.Figure:
    """The member areas coloured by the ranking's value (or events), with a selectable marker per area:
    a box or lasso over the markers sets the area filter, a click opens the area's records."""
    fig = empty_map(services, f.areas[0] if len(f.areas) == 1 else None)
    if ranking.empty:
        return fig
    codes = list(ranking["region_code"])
    regions = [services.cached("region", c) for c in codes]
    level = regions[0]["level"]
    col = "value" if f.primary_indicator() and ranking["value"].notna().any() else "events"
    names = [pick(lang, r["name"], r["name_en"]) for r in regions]
    fig.add_trace(go.Choroplethmap(
        geojson=geojson_url(level, services.geometry_version(), services.scope), locations=codes,
        z=ranking[col].astype(float).fillna(0), featureidkey="id", colorscale="Blues", reversescale=True, showscale=False,
        marker={"line": {"width": 0.6, "color": "#ffffff"}}, text=names, hoverinfo="text+z", customdata=codes,
    ))
    fig.add_trace(go.Scattermap(
        lon=[r["centroid_lon"] for r in regions], lat=[r["centroid_lat"] for r in regions], customdata=codes,
        text=names, mode="markers", marker={"size": 9, "color": "#e4572e"}, hoverinfo="text",
    ))
    return fig


def screen_style(fig: go.Figure) -> go.Figure:
    """A panel's chart dressed for the dark screen (the exports keep the panels' light style)."""
    fig.update_layout(template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      font={"color": "#e6f0ff"}, clickmode="event", height=330)
    fig.update_xaxes(gridcolor="#1b3f6e", zerolinecolor="#2a5b96")
    fig.update_yaxes(gridcolor="#1b3f6e", zerolinecolor="#2a5b96")
    return fig


def ranking_rows(df: pd.DataFrame, lang: str) -> tuple[list[dict], list[dict]]:
    """The ranking table's columns and rows (area names in ``lang``, values rounded for reading)."""
    cols = [("rank", "rank"), ("area", "region_name"), ("value", "value"), ("events", "events")]
    headers = {c.key: c.header(lang) for c in PANELS["ranking"].columns}
    columns = [{"name": headers[src], "id": key} for key, src in cols]
    rows = []
    for r in df.to_dict("records"):
        rows.append({"rank": r["rank"], "area": pick(lang, r["region_name"], r["region_name_en"] or ""),
                     "value": None if pd.isna(r["value"]) else round(float(r["value"]), 2), "events": int(r["events"])})
    return columns, rows


def render(services: Services, search: str | None) -> tuple:
    """Every chart, the map, the ranking table, the window text and the error line for a URL."""
    lang = parse_search(search).lang
    f, error = read_filters(services, search)
    blank = screen_style(go.Figure())
    if f is None:
        return (*[blank for _ in layout.CHARTS], no_update, [], [], "", error)
    f = services.repo.resolve_filters(f)
    figures, frames = [], {}
    for pid in layout.CHARTS:
        frames[pid] = _frame(services, pid, f)
        fig = PANELS[pid].figure(frames[pid], f, lang)
        screen_style(fig)
        figures.append(fig)
    columns, rows = ranking_rows(frames["ranking"], lang)
    window = t("analyst.window", lang, window=f"{month_text(f.period_from)} – {month_text(f.period_to)}")
    return (*figures, map_figure(services, f, frames["ranking"], lang), columns, rows, window, "")


# ---------------------------------------------------------------------------------------------- drill


def drill_of(trigger: Any, click: Any) -> dict | None:
    """What a click on a chart or the map drills into: {records, area?, category?, month?, bucket?}."""
    if not isinstance(click, dict) or not isinstance(click.get("points"), list) or not click["points"]:
        return None
    p = click["points"][0] if isinstance(click["points"][0], dict) else {}
    data = p.get("customdata")
    charts = {ids.analyst_graph(p): p for p in layout.CHARTS} | {ids.ANALYST_MAP: "map"}
    panel = charts.get(trigger) if isinstance(trigger, str) else None
    if panel == "trend" and isinstance(data, list) and len(data) == 2:
        area, month = inputs.code(data[0]), inputs.text(data[1], 10)
        return {"records": "values", "area": area, "month": month[:7]} if area else None
    if isinstance(data, list):
        data = data[0] if data else None
    code = inputs.code(data)
    if not code:
        return None
    if panel == "categories":
        return {"records": "events", "category": code}
    if panel in ("ranking", "map"):
        return {"records": "events", "area": code}
    if panel in ("comparison", "scatter"):
        return {"records": "values", "area": code}
    return None


def drilled(f: AnalysisFilters, drill: dict | None, granularity_months: int = 1) -> AnalysisFilters:
    """The filters narrowed by a drill (an area, a category, a bucket of months)."""
    if not isinstance(drill, dict):
        return f
    from dataclasses import replace

    if inputs.code(drill.get("area")):
        f = replace(f, areas=(drill["area"],))
    if inputs.code(drill.get("category")):
        f = replace(f, categories=(drill["category"],), sources=())
    month = drill.get("month")
    if isinstance(month, str) and len(month) == 7:
        try:
            start = date(int(month[:4]), int(month[5:7]), 1)
        except ValueError:
            return f
        if f.granularity == "quarter":  # the whole bucket the point stands for
            start = date(start.year, (start.month - 1) // 3 * 3 + 1, 1)
        elif f.granularity == "year":
            start = date(start.year, 1, 1)
        f = replace(f, period_from=start, period_to=start + relativedelta(months=granularity_months - 1))
    return f


def drill_text(drill: dict | None, services: Services, lang: str) -> str:
    """The drill in words: area name, category name, month."""
    if not isinstance(drill, dict):
        return t("analyst.drill.none", lang)
    parts = []
    if drill.get("area"):
        try:
            r = services.cached("region", drill["area"])
            parts.append(pick(lang, r["name"], r["name_en"]))
        except ScopeError:
            parts.append(str(drill["area"]))
    if drill.get("category"):
        c = event_categories().get(drill["category"])
        parts.append(pick(lang, c.name_zh, c.name_en) if c else drill["category"])
    if drill.get("month"):
        parts.append(drill["month"])
    return t("analyst.drill.some", lang, what=" · ".join(parts))


def _cell(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float):
        return round(v, 4)
    return v


def records_view(services: Services, search: str | None, drill: Any, kind: Any, page_current: Any, page_size: Any,
                 sort_by: Any, filter_query: Any) -> tuple:
    """One page of the records table: (columns, rows, page count, total text)."""
    lang = parse_search(search).lang
    kind = kind if kind in ("events", "values") else "events"
    panel = PANELS[kind]
    columns = [{"name": c.header(lang), "id": c.key} for c in panel.columns]
    f, error = read_filters(services, search)
    if f is None:
        return columns, [], 1, error
    size = int(inputs.number(page_size, 1, 200) or layout.PAGE_SIZE)
    current = int(inputs.number(page_current, 0, 10_000_000) or 0)
    sort = [(s["column_id"], s.get("direction") == "desc") for s in (sort_by if isinstance(sort_by, list) else [])[:3]
            if isinstance(s, dict) and s.get("column_id") in panel.keys]
    months = {"month": 1, "quarter": 3, "year": 12}[f.granularity]
    drill = drill if isinstance(drill, dict) and drill.get("records") == kind else None
    try:
        f = services.repo.resolve_filters(drilled(f, drill, months))
        column_filters = records.parse_filter_query(inputs.text(filter_query, 2000), panel.keys)
        stmt = services.repo.panel_query(kind, f)
        total = panel.count(services.scope, f) if panel.count else None
        result = records.page(services.base_repo.engine, stmt, sort, current * size, size, column_filters, total=total)
    except records.RecordsError as err:
        return columns, [], 1, t("analyst.bad_param", lang, param=err.column, reason=err.reason)
    except ScopeError:
        return columns, [], 1, t("analyst.bad_area", lang, area=(drill or {}).get("area", ""))
    rows = [{k: _cell(v) for k, v in r.items()} for r in result.rows]
    pages = max(1, -(-result.total // size))
    return columns, rows, pages, t("analyst.records.total", lang, total=f"{result.total:,}")


def sync_view(services: Services, trigger: Any, search: str | None, controls: list, selected: Any = None) -> tuple:
    """URL -> controls on a load or a shared link (``trigger`` None or the URL); controls (or a box/lasso
    selection on the map) -> URL otherwise. Returns (search, *control values, indicator options, category
    options); dependent values that no longer fit their parent are dropped from the controls and the URL."""
    lang = parse_search(search).lang
    unchanged = (no_update, *[no_update] * len(CONTROLS), no_update, no_update)
    if trigger in (None, ids.URL):
        f, _error = read_filters(services, search)
        if f is None:
            return unchanged
        out_search = no_update
    else:
        q = query_from_controls(controls)
        if trigger == ids.ANALYST_MAP:
            points = selected.get("points") if isinstance(selected, dict) else None
            picked = [inputs.code(p.get("customdata")) for p in (points if isinstance(points, list) else []) if isinstance(p, dict)]
            picked = [c for c in picked if c]
            if not picked:
                return unchanged
            q["areas"] = ",".join(dict.fromkeys(picked))
        if q.get("cmp") == "range" and not (q.get("cmp_from") and q.get("cmp_to")):
            return unchanged  # a range needs both its months: the view changes once they are chosen
        try:
            f = AnalysisFilters.from_query(q, catalog(services))
        except FilterError:
            return unchanged
        new = search_of(f, lang)
        out_search = no_update if new == (search or "") else new
    indicator_opts = options(services, lang, f.theme)["indicators"]
    category_opts = layout.category_options(list(event_categories().values()), list(f.sources), lang)
    return (out_search, *control_values(f), indicator_opts, category_opts)


# ---------------------------------------------------------------------------------------------- wiring


def register(app: dash.Dash, services: Services) -> None:
    """Wire the analyst page: four callbacks, each for callers holding the export permission."""
    analyst_callback = functools.partial(access.callback, app, EXPORT)

    @analyst_callback(
        Output(ids.ANALYST_URL, "search"),
        *[Output(cid, "value") for cid, _p in CONTROLS],
        Output(ids.ANALYST_INDICATORS, "options"),
        Output(ids.ANALYST_CATEGORIES, "options"),
        Input(ids.URL, "search"),
        *[Input(cid, "value") for cid, _p in CONTROLS],
        Input(ids.ANALYST_MAP, "selectedData"),
    )
    def sync(search, *values):  # noqa: ANN001, ANN202
        *controls, selected = values
        return sync_view(services, dash.callback_context.triggered_id, search, controls, selected)

    @analyst_callback(
        *[Output(ids.analyst_graph(p), "figure") for p in layout.CHARTS],
        Output(ids.ANALYST_MAP, "figure"),
        *[Output(ids.ANALYST_RANKING_TABLE, prop) for prop in ("columns", "data")],
        Output(ids.ANALYST_WINDOW, "children"),
        Output(ids.ANALYST_ERROR, "children"),
        Input(ids.URL, "search"),
    )
    def charts(search):  # noqa: ANN001, ANN202
        return render(services, search)

    @analyst_callback(
        Output(ids.ANALYST_DRILL, "data"),
        Output(ids.ANALYST_RECORDS_KIND, "value"),
        Output(ids.ANALYST_RECORDS, "page_current"),
        *[Input(ids.analyst_graph(p), "clickData") for p in layout.CHARTS],
        Input(ids.ANALYST_MAP, "clickData"),
        Input(ids.ANALYST_DRILL_CLEAR, "n_clicks"),
        Input(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def drill(*_args):  # noqa: ANN002, ANN202
        trigger = dash.callback_context.triggered_id
        if trigger == ids.ANALYST_DRILL_CLEAR or trigger == ids.URL:
            return None, no_update, 0
        value = dash.callback_context.triggered[0]["value"] if dash.callback_context.triggered else None
        d = drill_of(trigger, value)
        if d is None:
            return no_update, no_update, no_update
        return d, d["records"], 0

    @analyst_callback(
        *[Output(ids.ANALYST_RECORDS, prop) for prop in ("columns", "data", "page_count")],
        Output(ids.ANALYST_RECORDS_TOTAL, "children"),
        Output(ids.ANALYST_DRILL_TEXT, "children"),
        Input(ids.URL, "search"),
        Input(ids.ANALYST_DRILL, "data"),
        Input(ids.ANALYST_RECORDS_KIND, "value"),
        *[Input(ids.ANALYST_RECORDS, prop) for prop in ("page_current", "page_size", "sort_by", "filter_query")],
    )
    def table(search, drill_data, kind, page_current, page_size, sort_by, filter_query):  # noqa: ANN001, ANN202
        columns, rows, pages, total = records_view(services, search, drill_data, kind, page_current, page_size, sort_by,
                                                   filter_query)
        return columns, rows, pages, total, drill_text(drill_data, services, parse_search(search).lang)
