"""The duty console (``/console``): the area's events most urgent first with filters, open alerts, a small
map, and the selected event's detail (data, history, standard operating steps, lifecycle buttons).
Pure functions: the data comes in as plain dicts (see ``callbacks.console``)."""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go
from dash import dcc, html

from layouts import ids
from layouts.alert_text import alert_area, alert_text
from layouts.i18n import pick, t
from layouts.map_figure import base_figure
from layouts.shell import label

STATUS_FILTERS = ("open", "reported", "dispatched", "processing", "resolved", "closed")
#: The highlight ring of the selected event: one trace after the base figure's (its index).
T_SELECTED = len(base_figure().data)
#: Lifecycle buttons after dispatch: (target status, message key), per current status.
LATER_ACTIONS = {
    "dispatched": (("processing", "console.do.processing"),),
    "processing": (("resolved", "console.do.resolved"),),
    "resolved": (("closed", "console.do.closed"), ("processing", "console.do.reopen")),
}


# ---------------------------------------------------------------------------------------------- texts
def duration_text(seconds: float, lang: str = "zh") -> str:
    """A duration for a countdown: days and hours, hours and minutes, or minutes and seconds (the same
    rule as the client-side countdown in ``callbacks.console``)."""
    s = int(abs(seconds))
    d, h, m, sec = s // 86400, s % 86400 // 3600, s % 3600 // 60, s % 60
    if d:
        return t("console.dur.dh", lang, d=d, h=h)
    if h:
        return t("console.dur.hm", lang, h=h, m=f"{m:02d}")
    return t("console.dur.ms", lang, m=m, s=f"{sec:02d}")


def due_text(due: datetime | None, now: datetime, lang: str = "zh", open_: bool = True) -> tuple[str, bool]:
    """('剩余 …' or '超时 …', overdue) of an event's due time at ``now``; done events never count down."""
    if due is None or not open_:
        return (t("console.no_due", lang) if due is None else ""), False
    left = (due - now).total_seconds()
    if left < 0:
        return t("console.over", lang, t=duration_text(left, lang)), True
    return t("console.left", lang, t=duration_text(left, lang)), False


def countdown_templates(lang: str) -> dict:
    """The texts the client-side countdown fills in (sent with the list's points)."""
    return {k: t(f"console.{k}", lang) for k in ("left", "over", "dur.dh", "dur.hm", "dur.ms")}


def fmt_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "–"


def epoch_ms(value: datetime | None) -> int | None:
    """A wall-clock time as milliseconds since 1970 of the same wall clock (the countdown's unit)."""
    return None if value is None else int((value - datetime(1970, 1, 1)).total_seconds() * 1000)


def countdown(due: datetime | None, now: datetime, lang: str, open_: bool, cls: str = "due") -> html.Span:
    """The due text; open events with a due time carry ``data-due`` so the browser updates it each second."""
    text, late = due_text(due, now, lang, open_)
    props = {"data-due": str(epoch_ms(due))} if due is not None and open_ else {}
    return html.Span(text, className=f"{cls}{' overdue' if late else ''}", **props)


# ---------------------------------------------------------------------------------------------- list
def event_row(item: dict, now: datetime, lang: str, selected: bool = False) -> html.Button:
    """One event of the list: severity, title, area, status, countdown; red when overdue."""
    is_open = item["status"] in ("reported", "dispatched", "processing")
    classes = f"console-item sev-{item['severity']}" + (" overdue" if item["overdue"] else "") + (" selected" if selected else "")
    return html.Button(
        id=ids.console_item(item["id"]), n_clicks=0, className=classes, **{"data-event": str(item["id"])},
        children=[
            html.Span(t(f"severity.{item['severity']}", lang), className="item-sev"),
            html.Span(className="item-main", children=[
                html.Span(item["title"], className="item-title"),
                html.Span(className="item-meta", children=[  # the status first: the rest may be cut on a laptop
                    html.Span(t(f"status.{item['status']}", lang), className=f"item-status st-{item['status']}"),
                    html.Span(pick(lang, item["region_name"], item.get("region_name_en") or "")),
                    html.Span(t(f"source.{item['source']}", lang)),
                ]),
            ]),
            countdown(item["due_at"], now, lang, is_open, "item-due due"),
        ],
    )


def count_text(counts: dict, shown: int, lang: str, recent_days: int | None = None) -> str:
    """'共 N 件 · 超时 M 件 · 显示 K 件' (with the window for done statuses)."""
    text = t("console.count", lang, total=f"{counts['total']:,}", overdue=f"{counts['overdue']:,}", shown=f"{shown:,}")
    return text + (t("console.recent", lang, days=recent_days) if recent_days else "")


def alert_rows(alerts: list[dict], lang: str, can_act: bool = False) -> list:
    """Open alerts of the area, most severe first, each with its acknowledgement (who, when) and the next
    step: acknowledge (确认), then clear (解除). Callers without the permission see locked buttons."""
    if not alerts:
        return [html.Div(t("console.no_alerts", lang), className="console-empty")]
    rows = []
    for a in alerts:
        step = "clear" if a.get("acknowledged_by") else "acknowledge"
        ack = (t("console.alert.acked", lang, who=a["acknowledged_by"], at=fmt_time(a["acknowledged_at"]))
               if a.get("acknowledged_by") else "")
        button = html.Button(
            t(f"console.alert.{step}", lang), id=ids.console_alert_step(step, a["id"], locked=not can_act),
            className=f"alert-step alert-{step}", disabled=not can_act, n_clicks=0,
            title="" if can_act else t("console.readonly", lang),
        )
        rows.append(html.Div(className=f"console-alert sev-{a['severity']}" + (" acked" if ack else ""), **{"data-alert": str(a["id"])},
                             children=[
            html.Span(f"{a['started_at']:%m-%d %H:%M}", className="alert-time"),
            html.Span(alert_area(a, lang), className="alert-area"),
            html.Span(alert_text(a, lang), className="alert-msg", title=alert_text(a, lang)),
            html.Span(ack, className="alert-ack"),
            button,
        ]))
    return rows


# ---------------------------------------------------------------------------------------------- detail
def detail(ev: dict | None, ctx: dict, lang: str) -> list:
    """The selected event: facts, history, SOP checklist and the lifecycle actions.

    ``ctx``: now, category (EventCategory or None), history (rows of ``callbacks.console.event_history``),
    departments (names), can_dispatch (bool)."""
    if ev is None:
        return [html.Div(t(ctx.get("empty_key", "console.select_hint"), lang), className="console-empty")]
    now, cat = ctx["now"], ctx.get("category")
    is_open = ev["status"] in ("reported", "dispatched", "processing")
    cat_name = pick(lang, cat.name_zh, cat.name_en) if cat else ev["category"]
    facts = [
        ("console.field.status", html.Span(t(f"status.{ev['status']}", lang), className=f"item-status st-{ev['status']}")),
        ("console.field.severity", t(f"severity.{ev['severity']}", lang)),
        ("console.field.source", t(f"source.{ev['source']}", lang)),
        ("console.field.category", cat_name),
        ("console.field.area", pick(lang, ev["region_name"], ev.get("region_name_en") or "")),
        ("console.field.reported", fmt_time(ev["reported_at"])),
        ("console.field.due", html.Span([fmt_time(ev["due_at"]), " ", countdown(ev["due_at"], now, lang, is_open, "detail-due due")])),
        ("console.field.department", ev["department"] or "–"),
    ]
    if ev.get("satisfaction"):
        facts.append(("console.field.satisfaction", f"{ev['satisfaction']} / 5"))
    sop = (cat.sop_zh if lang != "en" else cat.sop_en) if cat else ()
    return [
        html.Div(className="detail-head", children=[
            html.Span(t(f"severity.{ev['severity']}", lang), className=f"item-sev sev-{ev['severity']}"),
            html.H3(ev["title"], className="detail-title", id="console-detail-title", **{"data-event": str(ev["id"])}),
        ]),
        html.Dl(className="detail-facts", children=[x for key, value in facts for x in (html.Dt(t(key, lang)), html.Dd(value))]),
        *([html.P(ev["description"], className="detail-desc")] if ev.get("description") else []),
        actions(ev, ctx, lang),
        html.Div(className="detail-columns", children=[
            html.Section(className="detail-history", children=[
                html.H4(t("console.history", lang)),
                html.Ol(className="history", children=[history_item(h, lang) for h in ctx["history"]]),
            ]),
            html.Section(className="detail-sop", children=[
                html.H4(t("console.sop", lang)),
                dcc.Checklist(id="console-sop", options=[{"label": step, "value": k} for k, step in enumerate(sop)], value=[],
                              className="sop-list", inputClassName="sop-input", labelClassName="sop-label"),
                html.Small(t("console.sop_note", lang), className="sop-note"),
            ]),
        ]),
    ]


def history_item(h: dict, lang: str) -> html.Li:
    """One history row: time, step, who, department, note (implied rows are marked)."""
    who = " · ".join(x for x in (h.get("actor"), h.get("department")) if x)
    return html.Li(className="history-step" + (" implied" if h.get("implied") else ""), **{"data-step": h["step"]}, children=[
        html.Span(fmt_time(h["at"]), className="history-time"),
        html.B(t(f"console.step.{h['step']}", lang)),
        *([html.Span(who, className="history-who")] if who else []),
        *([html.Span(h["note"], className="history-note")] if h.get("note") else []),
        *([html.Span(t("console.implied", lang), className="history-implied")] if h.get("implied") else []),
    ])


def actions(ev: dict, ctx: dict, lang: str) -> html.Div:
    """Dispatch (with the department to choose) for a reported event, then the allowed later steps; all
    disabled with the reason for a caller who may not dispatch."""
    can = ctx["can_dispatch"]
    reason = {} if can else {"title": t("console.readonly", lang)}
    cat = ctx.get("category")
    suggested = cat.department if cat else (ev["department"] or "")
    reported = ev["status"] == "reported"
    options = [{"label": d + (t("console.suggested", lang) if d == suggested else ""), "value": d}
               for d in sorted(set(ctx["departments"]) | ({suggested} if suggested else set()))]
    # The dropdown and the note are always there (hidden when unused): the step callback reads them.
    children: list = [
        html.Label(t("console.to_department", lang), className="control-label", hidden=not reported),
        html.Div(dcc.Dropdown(id=ids.CONSOLE_DEPARTMENT, options=options, value=suggested or None, clearable=False,
                              disabled=not can, className="control console-department"),
                 className="department-wrap", hidden=not reported),
    ]
    if reported:
        children.append(html.Button(t("console.dispatch", lang), id=ids.console_step("dispatched", ev["id"], not can), n_clicks=0,
                                    disabled=not can, className="console-btn primary", **reason))
    for status, key in LATER_ACTIONS.get(ev["status"], ()):
        children.append(html.Button(t(key, lang), id=ids.console_step(status, ev["id"], not can), n_clicks=0, disabled=not can,
                                    className="console-btn" + (" warn" if key == "console.do.reopen" else ""), **reason))
    if ev["status"] == "closed":
        children.append(html.Span(t("console.no_actions", lang), className="console-muted"))
    children.append(dcc.Input(id=ids.CONSOLE_NOTE, type="text", placeholder=t("console.note", lang), maxLength=500,
                              disabled=not can or ev["status"] == "closed", className="console-note"))
    if not can:
        children.append(html.Span(t("console.readonly", lang), className="console-readonly"))
    return html.Div(className="detail-actions", children=children)


# ---------------------------------------------------------------------------------------------- page
def console_map(ctx: dict) -> dcc.Graph:
    """The small map: the cockpit's offline base figure plus a ring for the selected event."""
    fig = base_figure(ctx["config"].tile_url, ctx["root_bounds"])
    fig.add_trace(go.Scattermap(lon=[], lat=[], mode="markers", name="selected", hoverinfo="skip",
                                marker={"size": 30, "color": "rgba(255,255,255,0.35)"}))
    fig.add_trace(go.Scattermap(lon=[], lat=[], mode="markers", name="selected-dot", hoverinfo="skip",
                                marker={"size": 12, "color": "#ffffff"}))
    fig.update_traces(selector={"name": "open"}, marker={"size": 11})
    return dcc.Graph(id=ids.CONSOLE_MAP, figure=fig, className="map-graph",
                     config={"displaylogo": False, "scrollZoom": True, "responsive": True, "displayModeBar": False})


def filter_bar(lang: str, categories: list[dict], sources: list[str]) -> html.Div:
    """Status, severity, category and source selectors and the overdue switch."""
    any_ = {"label": t("console.any", lang), "value": "all"}
    status = [{"label": t("console.open", lang) if s == "open" else t(f"status.{s}", lang), "value": s} for s in STATUS_FILTERS]
    return html.Div(className="console-filters", children=[
        dcc.Dropdown(id=ids.CONSOLE_STATUS, options=status, value="open", clearable=False, searchable=False,
                     className="control console-filter f-status", placeholder=t("console.filter.status", lang)),
        dcc.Dropdown(id=ids.CONSOLE_SEVERITY, options=[any_] + [{"label": t(f"severity.{k}", lang), "value": str(k)} for k in (1, 2, 3, 4)],
                     value="all", clearable=False, searchable=False, className="control console-filter f-severity"),
        dcc.Dropdown(id=ids.CONSOLE_SOURCE, options=[any_] + [{"label": t(f"source.{s}", lang), "value": s} for s in sources],
                     value="all", clearable=False, searchable=False, className="control console-filter f-source"),
        dcc.Dropdown(id=ids.CONSOLE_CATEGORY, options=[any_] + categories, value="all", clearable=False, searchable=True,
                     className="control console-filter f-category"),
        dcc.Checklist(id=ids.CONSOLE_OVERDUE, options=[{"label": t("console.filter.overdue", lang), "value": "1"}], value=[],
                      className="console-overdue", inputClassName="layer-input", labelClassName="overdue-label"),
    ])


def page(ctx: dict, lang: str, categories: list[dict], sources: list[str]) -> list:
    """The console's body below the shared header: list | map and alerts | detail (rows 2 to 4 of the
    root grid: the console has no ticker). ``categories`` are dropdown options, ``sources`` source ids."""
    return [
        dcc.Store(id=ids.CONSOLE_ITEMS),
        dcc.Store(id=ids.CONSOLE_SENT),
        dcc.Store(id=ids.CONSOLE_SELECTED),
        dcc.Store(id=ids.CONSOLE_TICK),
        dcc.Interval(id=ids.CLOCK_TICK, interval=1000),  # the countdowns (callbacks/console.py), only here
        dcc.Store(id=ids.CONSOLE_FLY),
        html.Main(className="ioc-main console-main", children=[
            html.Section(className="panel console-list-panel", children=[
                label("console.events", lang, tag=html.H2, className="panel-title"),
                filter_bar(lang, categories, sources),
                html.Div(id=ids.CONSOLE_COUNT, className="console-count"),
                html.Div(id=ids.CONSOLE_LIST, className="console-list"),
            ]),
            html.Div(className="console-middle", children=[
                html.Section(className="panel console-map-panel", children=[
                    label("console.map", lang, tag=html.H2, className="panel-title"),
                    html.Div(console_map(ctx), className="map-wrap"),
                ]),
                html.Section(className="panel console-alerts-panel", children=[
                    label("console.alerts", lang, tag=html.H2, className="panel-title"),
                    html.Div(id=ids.CONSOLE_ALERTS, className="console-alerts"),
                ]),
            ]),
            html.Section(className="panel console-detail-panel", children=[
                label("console.detail", lang, tag=html.H2, className="panel-title"),
                html.Div(id=ids.CONSOLE_FEEDBACK, className="console-feedback"),
                html.Div(id=ids.CONSOLE_DETAIL, className="console-detail"),
            ]),
        ]),
    ]
