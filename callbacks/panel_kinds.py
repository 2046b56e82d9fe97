"""The panel kinds of the theme and topic pages, declared once: each kind's layout builder (in
``layouts.panel_kinds``) and its data function (here), in :data:`KINDS`. A topic page is a list of panels
from the catalog (``topic_panels.csv``); a theme page is the same list made from the theme's indicators.

Data functions are plain functions ``(services, view, panel) -> children``: tests call them directly.
Every number comes from ``services.cached`` (SQL through the caller's scoped repository).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import plotly.graph_objects as go
from dash import dcc, html
from dateutil.relativedelta import relativedelta

from callbacks.cockpit import kpi_parts
from callbacks.services import Services
from callbacks.state import ViewState, to_search
from datasources.catalog_loader import event_categories
from datasources.rules import relative_change
from layouts import panel_kinds as skeletons
from layouts.i18n import pick, t
from layouts.kpi import change_text, format_value, linked_card

TREND_MONTHS = 48  # at least 36 months on screen (issue 11), four years when the data has them
EVENT_ROWS = 12
FACILITY_ROWS = 60
READING_ROWS = 40
READING_HOURS = 48
# How a facility table sums up an attribute (others are listed, not summed).
ATTRIBUTE_SUMMARY = {
    "investment_yi": "sum", "investment_done_yi": "sum", "progress": "mean", "planned_progress": "mean",
    "delay_days": "positive", "capacity": "sum", "members": "sum", "piles": "sum",
}


@dataclass(frozen=True)
class PageView:
    """What every panel of a page shows: the resolved view (area, period, picked indicator, language), the
    page's path (links stay on it), the area's region row and the time "now" (open and overdue counts)."""

    state: ViewState
    path: str
    region: dict
    now: datetime

    @property
    def period(self) -> date:
        return self.state.period_date()

    def href(self, **changes: str) -> str:
        """A link to this page with some of the view changed (a KPI card picks its indicator, a ranking row
        drills into its area)."""
        return self.path + to_search(self.state.with_(**changes))


def panel_indicator(panel: dict, picked: str) -> str:
    """The indicator a panel charts: the page's picked one when the panel lists it, else its first."""
    codes = panel.get("indicators") or []
    return picked if picked in codes or not codes else codes[0]


def _indicator(services: Services, code: str) -> dict:
    return next(i for i in services.cached("indicators") if i["code"] == code)


def _empty(text: str) -> html.P:
    return html.P(text, className="panel-empty")


def _stat(label: str, value: str, cls: str = "") -> html.Div:
    return html.Div(className=f"stat {cls}".strip(), children=[html.Div(value, className="stat-value"),
                                                               html.Div(label, className="stat-label")])


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.1f}%"


# ---------------------------------------------------------------------------------------------- kpis
def kpis_data(services: Services, view: PageView, panel: dict) -> list:
    """The panel's indicators as KPI cards for the area and period; a card picks its indicator."""
    codes = list(panel.get("indicators") or [])
    parts = kpi_parts(services, view.state, codes, any_indicator=True)
    cards = []
    for k, code in enumerate(codes):
        one = {p: parts[p][k] for p in parts}
        if code == view.state.indicator:
            one["card"] += " selected"
        cards.append(linked_card(one, view.href(indicator=code)))
    return cards


# ---------------------------------------------------------------------------------------------- trend
def trend_changes(series: list[dict], period: date) -> dict:
    """The newest value at or before ``period`` in ``series`` (rows of period, value; oldest first), the
    value before it (month on month for a monthly indicator) and the value twelve months before it, with
    the relative changes (None when a value is missing or the base is zero)."""
    points = {r["period"]: r["value"] for r in series if r["value"] is not None and r["period"] <= period}
    if not points:
        return {"period": None, "value": None, "previous": None, "year_ago": None, "mom": None, "yoy": None}
    latest = max(points)
    earlier = [p for p in points if p < latest]
    previous = points[max(earlier)] if earlier else None
    year_ago = points.get(latest - relativedelta(years=1))
    value = points[latest]
    return {"period": latest, "value": value, "previous": previous, "year_ago": year_ago,
            "mom": relative_change(value, previous), "yoy": relative_change(value, year_ago)}


def trend_data(services: Services, view: PageView, panel: dict) -> list:
    """``TREND_MONTHS`` months of the picked indicator at the area, its latest value, month on month and
    year on year (coloured by polarity)."""
    lang = view.state.lang
    ind = _indicator(services, panel_indicator(panel, view.state.indicator))
    start = view.period - relativedelta(months=TREND_MONTHS - 1)
    series = services.cached("time_series", ind["code"], view.state.area, start, view.period)
    shown = [r for r in series if r["value"] is not None]
    if not shown:
        return [_empty(t("pages.no_series", lang))]
    ch = trend_changes(series, view.period)
    unit = pick(lang, ind["unit"], ind["unit_en"])
    mom, mom_cls = change_text(ch["mom"], ind["polarity"], t("pages.mom", lang))
    yoy, yoy_cls = change_text(ch["yoy"], ind["polarity"], t("pages.yoy", lang))
    fig = go.Figure(go.Scatter(
        x=[r["period"].strftime("%Y-%m") for r in shown], y=[r["value"] for r in shown], mode="lines+markers",
        line={"color": "#4da3ff", "width": 2}, marker={"size": 4}, name=pick(lang, ind["name_zh"], ind["name_en"]),
        hovertemplate="%{x}: %{y} " + unit + "<extra></extra>",
    ))
    _dark(fig, unit)
    fig.update_xaxes(type="category", nticks=8)  # "2026-10" as text: plotly's date axis would name months in English
    return [
        html.Div(className="trend-facts", children=[
            _stat(f"{t('pages.latest', lang)} {ch['period'].strftime('%Y-%m')}", f"{format_value(ch['value'])} {unit}", "trend-latest"),
            html.Span(mom, className=mom_cls + " trend-mom"),
            html.Span(yoy, className=yoy_cls + " trend-yoy"),
            html.Span(t("pages.months", lang, n=TREND_MONTHS), className="trend-window"),
        ]),
        dcc.Graph(figure=fig, className="trend-graph", config=skeletons.GRAPH_CONFIG),
    ]


def _dark(fig: go.Figure, unit: str = "", height: int = 230) -> None:
    """The big-screen look of the small charts (no template: plotly's would name outside resources)."""
    fig.update_layout(
        template="none", height=height, margin={"l": 48, "r": 12, "t": 8, "b": 36}, paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)", font={"color": "#d6e4ff", "size": 13}, showlegend=False,
        xaxis={"gridcolor": "rgba(120,160,220,0.15)", "tickfont": {"size": 12}},
        yaxis={"gridcolor": "rgba(120,160,220,0.15)", "tickfont": {"size": 12}, "title": {"text": unit, "font": {"size": 12}}},
        hoverlabel={"font": {"size": 14}},
    )


# ---------------------------------------------------------------------------------------------- ranking
def ranking_rows(rows: list[dict]) -> list[dict]:
    """Child-area rows (``child_values``) best first by their rank (ranked by polarity in SQL); areas without
    a value last, by code."""
    return sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0, r["code"]))


def ranking_data(services: Services, view: PageView, panel: dict) -> list:
    """The child areas ranked by the picked indicator (best first by its polarity), each a link that drills."""
    lang = view.state.lang
    ind = _indicator(services, panel_indicator(panel, view.state.indicator))
    rows = ranking_rows(services.cached("child_values", ind["code"], view.state.area, view.period))
    values = [abs(r["value"]) for r in rows if r["value"] is not None]
    if not values:
        return [_empty(t("pages.no_series", lang))]
    top = max(values) or 1.0
    unit = pick(lang, ind["unit"], ind["unit_en"])
    direction = t("pages.higher_better" if ind["polarity"] >= 0 else "pages.lower_better", lang)
    period = rows[0]["period"].strftime("%Y-%m") if rows[0].get("period") else ""
    items = []
    for r in rows:
        name = pick(lang, r["name"], r["name_en"])
        bar = html.Span(className="bar", children=html.Span(
            className="bar-fill", style={"width": f"{abs(r['value'] or 0) / top * 100:.0f}%"}))
        label = dcc.Link(name, href=view.href(area=r["code"]), className="rank-name") if view.region["n_children"] else html.Span(name, className="rank-name")
        items.append(html.Li(className="rank-row", **{"data-code": r["code"]}, children=[
            html.Span(str(r["rank"]) if r["rank"] else "–", className="rank-no"), label, bar,
            html.Span(format_value(r["value"]), className="rank-value"),
        ]))
    note = t("pages.rank_note", lang, dir=direction) + f" · {unit} · {period}"
    extra = [] if view.region["n_children"] else [html.P(t("pages.no_children", lang), className="panel-note")]
    return [html.P(note, className="panel-note"), *extra, html.Ol(items, className="rank-list")]


# ---------------------------------------------------------------------------------------------- events
def events_data(services: Services, view: PageView, panel: dict) -> list:
    """Events of the panel's categories in the area: the period's totals by source and by category, closure
    and satisfaction, what is open and overdue now, and a list (open ones first, most severe, newest)."""
    lang, area = view.state.lang, view.state.area
    cats = tuple(panel.get("categories") or ())
    start, end = view.period, view.period + relativedelta(months=1)
    summary = services.cached("event_breakdown", area, start, end, cats)
    now = services.cached("open_overdue", area, view.now, cats)
    rows = services.cached("event_list", area, start, end, cats, EVENT_ROWS)
    names = event_categories()
    total = summary["total"]
    facts = html.Div(className="stat-row", children=[
        _stat(t("pages.events_total", lang), f"{total:,}", "stat-total"),
        _stat(t("pages.closure", lang), _pct(summary["done"] / total if total else None), "stat-closed"),
        _stat(t("pages.satisfaction", lang), _pct(summary["satisfied"] / summary["rated"] if summary["rated"] else None)),
        _stat(t("pages.open_now", lang), f"{now['open']:,}", "stat-open"),
        _stat(t("pages.overdue_now", lang), f"{now['overdue']:,}", "stat-overdue" + (" bad" if now["overdue"] else "")),
    ])

    def bars(counts: dict, name: Callable[[str], str], limit: int = 8) -> html.Div:
        biggest = max(counts.values(), default=1) or 1
        return html.Div(className="source-bars", children=[
            html.Div(className="source-bar", children=[
                html.Span(name(k), className="source-name"),
                html.Span(className="bar", children=html.Span(className="bar-fill", style={"width": f"{n / biggest * 100:.0f}%"})),
                html.Span(f"{n:,}", className="source-n"),
            ])
            for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        ])

    def category_name(c: str) -> str:
        return pick(lang, names[c].name_zh, names[c].name_en) if c in names else c

    listing = [
        html.Li(className=f"event-row sev-{e['severity']}" + (" overdue" if e["due_at"] and e["due_at"] < view.now and e["status"] in ("reported", "dispatched", "processing") else ""),
                children=[
                    html.Span(t(f"severity.{e['severity']}", lang), className=f"event-sev sev-{e['severity']}"),
                    html.Span(e["title"], className="event-title", title=category_name(e["category"])),
                    html.Span(pick(lang, e["region_name"], e["region_name_en"]), className="event-area"),
                    html.Span(t(f"status.{e['status']}", lang), className=f"event-status status-{e['status']}"),
                    html.Span(e["reported_at"].strftime("%m-%d %H:%M"), className="event-time"),
                ])
        for e in rows
    ]
    if not total and not rows:
        return [facts, _empty(t("pages.no_events", lang))]
    return [
        facts,
        html.Div(className="event-breakdown", children=[
            html.Div([html.H3(t("pages.by_source", lang)), bars(summary["by_source"], lambda s: t(f"source.{s}", lang))]),
            html.Div([html.H3(t("pages.by_category", lang)), bars(summary["by_category"], category_name)]),
        ]),
        html.H3(t("pages.latest_events", lang)),
        html.Ul(listing, className="event-list") if listing else _empty(t("pages.no_events", lang)),
    ]


# ---------------------------------------------------------------------------------------------- facilities
def _attr_text(value: object, lang: str) -> str:
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value)
    if isinstance(value, int | float):
        return format_value(float(value))
    text = str(value)
    return t(f"value.{text}", lang) if f"value.{text}" in _VALUE_KEYS else text


_VALUE_KEYS = {"value.geohazard", "value.waterlogging"}


def _kinds_text(kinds: list[str], lang: str) -> str:
    return "、".join(t(f"kind.{k}", lang) for k in kinds) if lang == "zh" else ", ".join(t(f"kind.{k}", lang) for k in kinds)


def facilities_data(services: Services, view: PageView, panel: dict) -> list:
    """A table of the facilities of the panel's kinds in the area with the panel's attributes (``metrics``),
    and a summary of those attributes (sums of amounts, means of percentages, how many are late). A
    project behind its plan (progress below planned progress) is marked."""
    lang = view.state.lang
    kinds, keys = tuple(panel.get("facility_kinds") or ()), tuple(panel.get("metrics") or ())
    numeric = tuple(k for k in keys if k in ATTRIBUTE_SUMMARY)
    data = services.cached("facility_table", view.state.area, kinds, numeric, FACILITY_ROWS)
    if not data["count"]:
        return [_empty(t("pages.no_facilities", lang, kinds=_kinds_text(list(kinds), lang)))]
    facts = [_stat(t("pages.count", lang), f"{data['count']:,}", "stat-total")]
    for key in numeric:
        agg = data["stats"][key]
        how = ATTRIBUTE_SUMMARY[key]
        if not agg["n"]:
            continue
        if how == "sum":
            facts.append(_stat(f"{t('attr.' + key, lang)} {t('sum.total', lang)}", format_value(agg["sum"])))
        elif how == "mean":
            facts.append(_stat(f"{t('attr.' + key, lang)} {t('sum.mean', lang)}", format_value(agg["sum"] / agg["n"])))
        else:
            facts.append(_stat(t("sum.delayed", lang), f"{agg['positive']:,}", "bad" if agg["positive"] else ""))
    head = html.Tr([html.Th(t("pages.name", lang)), html.Th(t("pages.area", lang)),
                    *[html.Th(t(f"attr.{k}", lang) if f"attr.{k}" in _ATTR_KEYS else k) for k in keys]])
    body = []
    for r in data["rows"]:
        a = r["attributes"]
        behind = isinstance(a.get("progress"), int | float) and isinstance(a.get("planned_progress"), int | float) \
            and a["progress"] < a["planned_progress"]
        body.append(html.Tr(className="behind" if behind else "", title=t("pages.behind", lang) if behind else None, children=[
            html.Td(r["name"]), html.Td(pick(lang, r["region_name"], r["region_name_en"])),
            *[html.Td(_attr_text(a.get(k), lang), className="num" if isinstance(a.get(k), int | float) else "") for k in keys],
        ]))
    more = ([html.P(t("pages.more_rows", lang, n=len(data["rows"]), total=f"{data['count']:,}"), className="panel-note")]
            if data["count"] > len(data["rows"]) else [])
    return [html.Div(facts, className="stat-row"),
            html.Div(html.Table([html.Thead(head), html.Tbody(body)], className="facility-table"), className="table-scroll"),
            *more]


def _attr_keys() -> set[str]:
    from layouts.i18n import MESSAGES

    return {k for k in MESSAGES if k.startswith("attr.")}


_ATTR_KEYS = _attr_keys()


# ---------------------------------------------------------------------------------------------- readings
def readings_data(services: Services, view: PageView, panel: dict) -> list:
    """The newest reading of the panel's metric at each station of its kinds in the area (highest first),
    against the station's warning level when the panel names the attribute holding it (second metric),
    and a short chart of the mean and the highest reading over the last ``READING_HOURS`` hours."""
    lang = view.state.lang
    kinds = tuple(panel.get("facility_kinds") or ())
    metric, *rest = panel["metrics"]
    warn_key = rest[0] if rest else None
    latest = services.cached("latest_readings", view.state.area, kinds, metric, READING_ROWS)
    unit_label = t(f"attr.{metric}", lang) if f"attr.{metric}" in _ATTR_KEYS else metric
    if not latest:
        return [_empty(t("pages.no_readings", lang, kinds=_kinds_text(list(kinds), lang), metric=unit_label))]
    newest = max(r["ts"] for r in latest)
    series = services.cached("reading_series", view.state.area, kinds, metric, newest - timedelta(hours=READING_HOURS))

    def warning(r: dict) -> float | None:
        w = r["attributes"].get(warn_key) if warn_key else None
        return float(w) if isinstance(w, int | float) and not isinstance(w, bool) else None

    above = [r for r in latest if warning(r) is not None and r["value"] >= warning(r)]
    facts = [_stat(t("pages.stations", lang), f"{len(latest):,}"),
             _stat(t("pages.highest", lang), format_value(latest[0]["value"])),
             _stat(t("pages.mean", lang), format_value(sum(r["value"] for r in latest) / len(latest)))]
    if warn_key:
        facts.append(_stat(t("pages.stations_above", lang), f"{len(above):,}", "bad" if above else ""))
    fig = go.Figure([
        go.Scatter(x=[p["ts"].strftime("%m-%d %H:%M") for p in series], y=[p["max"] for p in series], mode="lines",
                   line={"color": "#ff7a00", "width": 2}, name=t("pages.highest", lang)),
        go.Scatter(x=[p["ts"].strftime("%m-%d %H:%M") for p in series], y=[p["mean"] for p in series], mode="lines",
                   line={"color": "#4da3ff", "width": 2}, name=t("pages.mean", lang)),
    ])
    _dark(fig, unit_label, height=180)
    fig.update_layout(showlegend=True, legend={"orientation": "h", "y": 1.15, "font": {"size": 12}})
    head = html.Tr([html.Th(t("pages.station", lang)), html.Th(t("pages.area", lang)), html.Th(unit_label),
                    *([html.Th(t("pages.warning_level", lang))] if warn_key else []), html.Th(t("pages.read_at", lang))])
    rows = [
        html.Tr(className="above" if r in above else "", children=[
            html.Td(r["name"]), html.Td(pick(lang, r["region_name"], r["region_name_en"])),
            html.Td(format_value(r["value"]) + (f" ▲{t('pages.above_warning', lang)}" if r in above else ""), className="num"),
            *([html.Td(format_value(warning(r)), className="num")] if warn_key else []),
            html.Td(r["ts"].strftime("%m-%d %H:%M")),
        ])
        for r in latest
    ]
    return [html.Div(facts, className="stat-row"),
            dcc.Graph(figure=fig, className="reading-graph", config=skeletons.GRAPH_CONFIG),
            html.Div(html.Table([html.Thead(head), html.Tbody(rows)], className="facility-table"), className="table-scroll")]


# ---------------------------------------------------------------------------------------------- detail
def detail_data(services: Services, view: PageView, panel: dict) -> list:
    """The picked indicator's definition, unit, department, frequency, aggregation rule, thresholds, lowest
    level, last update at the area and source (a rule computing it, or the department reporting it)."""
    lang = view.state.lang
    ind = _indicator(services, panel_indicator(panel, view.state.indicator))
    src = services.cached("indicator_source", ind["code"], view.state.area)
    direction = t("pages.higher_better" if ind["polarity"] >= 0 else "pages.lower_better", lang)
    if ind["warn"] is None:
        thresholds = t("pages.no_thresholds", lang) + f"（{direction}）" if lang == "zh" else f"{t('pages.no_thresholds', lang)} ({direction})"
    else:
        thresholds = t("pages.thresholds_text", lang, warn=format_value(ind["warn"]), alarm=format_value(ind["alarm"]), dir=direction)
    if src["period"] is None:
        updated = t("no_data", lang)
    else:
        at = src["reported_at"].strftime("%Y-%m-%d") if src["reported_at"] else "–"
        updated = t("pages.last_update_text", lang, period=src["period"].strftime("%Y-%m"), at=at)
    rule = src["rule"]
    if rule:
        what = t("pages.source_facilities" if rule["measure"] == "facilities" else "pages.source_events", lang)
        detail = " ".join(x for x in (rule["measure"], rule["sources"], rule["categories"], rule["facility_kind"], rule["attribute"]) if x)
        source = t("pages.source_rule", lang, what=what, detail=detail)
    else:
        source = t("pages.source_reported", lang, department=ind["department"] or "–")
    levels = {lv["level"]: pick(lang, lv["name_zh"], lv["name_en"]) for lv in services.cached("level_names")}
    facts = [
        ("pages.indicator", pick(lang, ind["name_zh"], ind["name_en"])),
        ("pages.definition", ind["description"]),
        ("pages.unit", pick(lang, ind["unit"], ind["unit_en"]) or "–"),
        ("pages.department", ind["department"] or "–"),
        ("pages.frequency", t(f"freq.{ind['frequency']}", lang)),
        ("pages.aggregation", t(f"agg.{ind['aggregation']}", lang)),
        ("pages.thresholds", thresholds),
        ("pages.lowest_level", levels.get(ind["level"], str(ind["level"]))),
        ("pages.last_update", updated),
        ("pages.source", source),
    ]
    return [html.Dl(className="detail-list", children=[x for key, value in facts for x in (html.Dt(t(key, lang)), html.Dd(value))])]


def map_note(services: Services, view: PageView, panel: dict) -> list:
    """Under the map: the indicator it colours and the period of its values."""
    lang = view.state.lang
    ind = _indicator(services, panel_indicator(panel, view.state.indicator))
    rows = services.cached("child_values", ind["code"], view.state.area, view.period)
    values = [r for r in rows if r["value"] is not None]
    text = pick(lang, ind["name_zh"], ind["name_en"])
    if values and values[0].get("period"):
        text += f" · {values[0]['period'].strftime('%Y-%m')}"
    return [html.Span(text, className="area-indicator"), *([] if values else [html.Span(t("no_data", lang), className="area-note")])]


# ---------------------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class PanelKind:
    """A panel kind: the layout builder of its skeleton and the data function that fills its body."""

    layout: Callable[..., html.Section]
    data: Callable[[Services, PageView, dict], list]


KINDS: dict[str, PanelKind] = {
    "kpis": PanelKind(skeletons.kpis, kpis_data),
    "trend": PanelKind(skeletons.charted, trend_data),
    "ranking": PanelKind(skeletons.charted, ranking_data),
    "map": PanelKind(skeletons.map_panel, map_note),
    "events": PanelKind(skeletons.plain, events_data),
    "facilities": PanelKind(skeletons.plain, facilities_data),
    "readings": PanelKind(skeletons.plain, readings_data),
    "detail": PanelKind(skeletons.plain, detail_data),
}
