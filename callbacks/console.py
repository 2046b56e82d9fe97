"""The duty console (``/console``): the selected area's events most urgent first, its open alerts, a
small map, the selected event's detail and its lifecycle buttons (dispatch in one click, then the later
steps). Reads go through ``services.cached`` (scoped, keyed on the data version); steps go through the
use cases of ``datasources.operations.events``. Selection, fly-to and the countdowns run in the browser."""

from __future__ import annotations

from datetime import datetime, timedelta

import dash
import flask
from dash import ALL, Input, Output, Patch, State, no_update

from callbacks import access, inputs
from callbacks.delta import parts_delta, patch_delta
from callbacks.services import Services
from callbacks.state import parse_search
from datasources.access.roles import DISPATCH, VIEW
from datasources.catalog_loader import EventCategory, event_categories
from datasources.operations import alerts as alert_ops
from datasources.operations import events as ops
from datasources.repository import ScopeError
from datasources.rules import DONE_STATUSES, LIFECYCLE, OPEN_STATUSES
from layouts import console as layout
from layouts import ids
from layouts.i18n import pick, t
from layouts.map_figure import T_CONTEXT, T_OPEN, geojson_url, view_for_bounds

LIST_LIMIT = 200
SELECTED_ZOOM = 12.5  # the selected event with its neighbourhood and the nearest boundaries
ALERT_LIMIT = 8
RECENT_DAYS = 30  # resolved and closed events are listed for this many days back (millions otherwise)
SOURCES = ("hotline", "city_management", "grid", "emergency", "sensor")


def now() -> datetime:
    """The city's wall clock (what the Writer stamps steps with)."""
    return datetime.now().replace(microsecond=0)


def category_options(lang: str) -> list[dict]:
    """The catalog's categories as dropdown options, by source then name."""
    cats = sorted(event_categories().values(), key=lambda c: (SOURCES.index(c.source) if c.source in SOURCES else 99, c.category))
    return [{"label": pick(lang, c.name_zh, c.name_en), "value": c.category} for c in cats]


def departments() -> list[str]:
    """Every department the catalog suggests (the dispatch dropdown's choices)."""
    return sorted({c.department for c in event_categories().values()})


def page(ctx: dict, lang: str) -> list:
    """The console's body (registered as a PageSpec in ``app.create_app``)."""
    return layout.page(ctx, lang, category_options(lang), list(SOURCES))


def filters(status: str | None, severity: str | None, category: str | None, source: str | None, overdue: list | None) -> dict:
    """Keyword arguments of ``Repository.console_events`` from the filter controls (anything unknown is
    ignored, so a crafted post cannot reach the SQL)."""
    status = status if status in layout.STATUS_FILTERS else "open"
    out: dict = {"statuses": OPEN_STATUSES if status == "open" else (status,)}
    if status in DONE_STATUSES:
        out["recent_days"] = RECENT_DAYS
    if isinstance(severity, str) and severity in ("1", "2", "3", "4"):
        out["severity"] = int(severity)
    if isinstance(category, str) and category in event_categories():
        out["category"] = category
    if isinstance(source, str) and source in SOURCES:
        out["source"] = source
    out["overdue_only"] = isinstance(overdue, list) and "1" in overdue
    return out


def resolve_area(services: Services, search: str | None) -> tuple[str, str | None]:
    """The URL's area when the caller may see it, else the caller's top area and an error key."""
    root = services.repo.root_code()
    area = parse_search(search).area or root
    try:
        services.repo.check_scope(area)
    except ScopeError:
        return root, "unknown_area"
    return area, None


def console_list(
    services: Services, search: str | None, flt: dict, selected: int | None = None, at: datetime | None = None,
    shown_area: str | None = None,
) -> dict:
    """Everything the list side shows for the URL's area and the filters: rows (most urgent first), the
    count text, the points store (for selection and fly-to), the open alerts and the map patch."""
    lang = parse_search(search).lang
    at = at or now()
    area, error = resolve_area(services, search)
    kwargs = {k: v for k, v in flt.items() if k != "recent_days"}
    since = at - timedelta(days=flt["recent_days"]) if flt.get("recent_days") else None
    minute = at.replace(second=0)  # the cache key: one query per minute at most for the same view
    rows, counts = services.cached("console_events", area, minute, since=since, limit=LIST_LIMIT, **kwargs)
    region = services.cached("region", area)
    items = [layout.event_row(r, at, lang, r["id"] == selected) for r in rows] or [
        dash.html.Div(t("console.no_events", lang), className="console-empty")]
    count = layout.count_text(counts, len(rows), lang, flt.get("recent_days"))
    if error:
        count = t("error", lang, reason=t(error, lang)) + " · " + count
    points = {str(r["id"]): [r["lon"], r["lat"]] for r in rows if r["lon"] is not None}
    store = {"now": layout.epoch_ms(at), "points": points, "tpl": layout.countdown_templates(lang), "area": area}
    return {
        "rows": items, "count": count, "store": store,
        "alerts": layout.alert_rows(services.cached("open_alerts", area, ALERT_LIMIT), lang, _can_dispatch(services)),
        "figure": map_patch(services, area, region, rows, lang, fit=area != shown_area),
        "ids": [r["id"] for r in rows], "counts": counts,
    }


def map_patch(services: Services, area: str, region: dict, rows: list[dict], lang: str, fit: bool = True) -> Patch:
    """Boundaries of the area's children (by URL, as on the cockpit), the listed events as points
    coloured by severity (customdata = event id), and — when ``fit`` (the area changed) — the view fitted
    to the area; a refresh of the same area keeps the view the user or a selection chose."""
    has_children = region["n_children"] > 0
    level = region["level"] + 1 if has_children else region["level"]
    codes = [c["code"] for c in services.cached("children", area)] if has_children else [area]
    fig = Patch()
    fig["data"][T_CONTEXT]["geojson"] = geojson_url(level, services.geometry_version(), services.scope)
    fig["data"][T_CONTEXT]["locations"] = codes
    fig["data"][T_CONTEXT]["z"] = [0] * len(codes)
    pts = [r for r in rows if r["lon"] is not None]
    fig["data"][T_OPEN]["lon"] = [r["lon"] for r in pts]
    fig["data"][T_OPEN]["lat"] = [r["lat"] for r in pts]
    fig["data"][T_OPEN]["marker"]["color"] = [r["severity"] for r in pts]
    fig["data"][T_OPEN]["customdata"] = [r["id"] for r in pts]
    fig["data"][T_OPEN]["text"] = [f"{r['title']} · {t('status.' + r['status'], lang)}" for r in pts]
    if fit:
        center, zoom = view_for_bounds(services.cached("bounds", area), 560, 420)
        fig["layout"]["map"]["center"] = center
        fig["layout"]["map"]["zoom"] = zoom
        fig["layout"]["uirevision"] = f"console:{area}"
    return fig


def event_history(ev: dict) -> list[dict]:
    """The event's history, oldest first: the report, then its recorded steps. Steps the record's
    timestamps imply but no row records (the demo's events, data loaded in bulk) are added and marked
    ``implied``. Rows: step (reported, dispatched, processing, resolved, closed, reopened), at, actor,
    department, note, implied."""
    out = [{"step": "reported", "at": ev["reported_at"], "actor": None, "department": None, "note": "", "implied": False}]
    recorded = {s["to_status"] for s in ev["steps"]}
    for status, col in (("dispatched", "dispatched_at"), ("resolved", "resolved_at"), ("closed", "closed_at")):
        if ev.get(col) is not None and status not in recorded:
            dept = ev["department"] if status == "dispatched" else None
            out.append({"step": status, "at": ev[col], "actor": None, "department": dept, "note": "", "implied": True})
    order = {s: k for k, s in enumerate(LIFECYCLE)}
    for h in out:
        h["seq"] = order[h["step"]]
    for k, s in enumerate(ev["steps"]):  # recorded steps keep their recorded order (several may share a second)
        step = "reopened" if (s["from_status"], s["to_status"]) == ("resolved", "processing") else s["to_status"]
        out.append({"step": step, "at": s["at"], "actor": s["actor"], "department": s["department"], "note": s["note"],
                    "implied": False, "seq": len(LIFECYCLE) + k})
    return sorted(out, key=lambda h: (h["at"], h["seq"]))


def console_detail(
    services: Services, event_id: int | None, search: str | None, can_dispatch: bool, at: datetime | None = None,
) -> tuple[list, Patch]:
    """The detail panel of the selected event, and the map's highlight of it with the view moved to it."""
    lang = parse_search(search).lang
    at = at or now()
    fig = Patch()
    ev = services.cached("event_detail", event_id) if isinstance(event_id, int) and event_id > 0 else None
    hl = [ev["lon"]] if ev and ev["lon"] is not None else []
    for trace in (layout.T_SELECTED, layout.T_SELECTED + 1):
        fig["data"][trace]["lon"] = hl
        fig["data"][trace]["lat"] = [ev["lat"]] if hl else []
    if hl:
        fig["layout"]["map"]["center"] = {"lon": ev["lon"], "lat": ev["lat"]}
        fig["layout"]["map"]["zoom"] = SELECTED_ZOOM
        fig["layout"]["uirevision"] = f"console:event:{ev['id']}"
    if ev is None:
        key = "console.gone" if event_id else "console.select_hint"
        return layout.detail(None, {"empty_key": key}, lang), fig
    cat: EventCategory | None = event_categories().get(ev["category"])
    ctx = {"now": at, "category": cat, "history": event_history(ev), "departments": departments(), "can_dispatch": can_dispatch}
    return layout.detail(ev, ctx, lang), fig


def list_outputs(view: dict, sent: dict | None) -> tuple:
    """The list callback's outputs: only the parts (count, rows, alerts, map traces) that differ from what
    the browser holds (``sent``: their hashes), then the new hashes. The points store always travels: it
    carries the server's clock for the countdowns."""
    parts, hashes = parts_delta({"count": view["count"], "rows": view["rows"], "alerts": view["alerts"]},
                                (sent or {}).get("parts"))
    figure, map_hashes = patch_delta(view["figure"], (sent or {}).get("map"))
    return parts["count"], parts["rows"], view["store"], parts["alerts"], figure, {"parts": hashes, "map": map_hashes}


def _can_dispatch(services: Services) -> bool:
    """Whether the caller may act (outside requests, e.g. in tests calling the views: yes)."""
    return not flask.has_request_context() or services.principal().can(DISPATCH)


def do_alert_step(services: Services, trigger: dict, search: str | None) -> str:
    """Acknowledge or clear the alert a button names (as the caller) and say what was recorded, or why not."""
    lang = parse_search(search).lang
    step, alert_id = trigger.get("step"), trigger.get("alert")
    if step not in ("acknowledge", "clear") or not isinstance(alert_id, int):
        return ""
    ip = flask.request.remote_addr or "" if flask.has_request_context() else ""
    use_case = alert_ops.acknowledge_alert if step == "acknowledge" else alert_ops.clear_alert
    try:
        alert = use_case(services.base_repo.engine, services.principal(), alert_id, ip=ip)
    except (alert_ops.AlertStepError, ScopeError) as exc:
        return t("console.refused", lang, reason=str(exc))
    who, at = (alert["acknowledged_by"], alert["acknowledged_at"]) if step == "acknowledge" else (
        alert["cleared_by"], alert["cleared_at"])
    return t("console.recorded", lang, step=t(f"console.alert.{step}", lang), who=who, at=layout.fmt_time(at))


def do_step(services: Services, trigger: dict, note: str | None, department: str | None, search: str | None) -> str:
    """Run the step a button asked for (as the caller) and say what was recorded, or why not."""
    lang = parse_search(search).lang
    status, event_id = trigger.get("status"), trigger.get("event")
    if status not in LIFECYCLE[1:] or not isinstance(event_id, int):
        return ""
    principal = services.principal()
    ip = flask.request.remote_addr or "" if flask.has_request_context() else ""
    note = inputs.text(note, 500) or ""
    try:
        if status == "dispatched":
            dept = department if isinstance(department, str) and department in departments() else None
            state = ops.dispatch(services.base_repo.engine, principal, event_id, dept, note, ip)
        else:
            state = ops.advance(services.base_repo.engine, principal, event_id, status, note, ip=ip)
    except ops.StepRefused as exc:
        return t("console.refused", lang, reason="; ".join(p.reason for p in exc.problems))
    step = state["last_step"]
    name = "reopened" if (step["from_status"], step["to_status"]) == ("resolved", "processing") else step["to_status"]
    return t("console.recorded", lang, step=t(f"console.step.{name}", lang), who=step["actor"], at=layout.fmt_time(step["at"]))


# Wiring only (ids, outputs, client-side JS), checked by the browser test.
# pragma: no mutate block
def register(app: dash.Dash, services: Services) -> None:
    """Wire the list, the detail, the steps and the client-side selection, fly-to and countdowns."""
    filter_inputs = [Input(i, p) for i, p in ((ids.CONSOLE_STATUS, "value"), (ids.CONSOLE_SEVERITY, "value"),
                                              (ids.CONSOLE_CATEGORY, "value"), (ids.CONSOLE_SOURCE, "value"),
                                              (ids.CONSOLE_OVERDUE, "value"))]

    def render_list(search, status, severity, category, source, overdue, _version, selected, shown, sent):  # noqa: ANN001, ANN202
        sel = selected if isinstance(selected, int) else None
        shown_area = shown.get("area") if isinstance(shown, dict) else None
        view = console_list(services, search, filters(status, severity, category, source, overdue), sel, shown_area=shown_area)
        return list_outputs(view, sent if isinstance(sent, dict) else None)

    access.callback(
        app, VIEW,
        Output(ids.CONSOLE_COUNT, "children"), Output(ids.CONSOLE_LIST, "children"), Output(ids.CONSOLE_ITEMS, "data"),
        Output(ids.CONSOLE_ALERTS, "children"), Output(ids.CONSOLE_MAP, "figure"), Output(ids.CONSOLE_SENT, "data"),
        Input(ids.URL, "search"), *filter_inputs, Input(ids.DATA_VERSION, "data"), State(ids.CONSOLE_SELECTED, "data"),
        State(ids.CONSOLE_ITEMS, "data"), State(ids.CONSOLE_SENT, "data"),
    )(render_list)

    def render_detail(selected, _version, search):  # noqa: ANN001, ANN202
        return console_detail(services, selected if isinstance(selected, int) else None, search, _can_dispatch(services))

    access.callback(
        app, VIEW,
        Output(ids.CONSOLE_DETAIL, "children"), Output(ids.CONSOLE_MAP, "figure", allow_duplicate=True),
        Input(ids.CONSOLE_SELECTED, "data"), Input(ids.DATA_VERSION, "data"), Input(ids.URL, "search"),
        prevent_initial_call=True,
    )(render_detail)

    def options(search):  # noqa: ANN001, ANN202
        lang = parse_search(search).lang
        any_ = {"label": t("console.any", lang), "value": "all"}
        status = [{"label": t("console.open", lang) if s == "open" else t(f"status.{s}", lang), "value": s} for s in layout.STATUS_FILTERS]
        return (status, [any_] + [{"label": t(f"severity.{k}", lang), "value": str(k)} for k in (1, 2, 3, 4)],
                [any_] + category_options(lang), [any_] + [{"label": t(f"source.{s}", lang), "value": s} for s in SOURCES],
                [{"label": t("console.filter.overdue", lang), "value": "1"}])

    access.callback(
        app, VIEW,
        Output(ids.CONSOLE_STATUS, "options"), Output(ids.CONSOLE_SEVERITY, "options"), Output(ids.CONSOLE_CATEGORY, "options"),
        Output(ids.CONSOLE_SOURCE, "options"), Output(ids.CONSOLE_OVERDUE, "options"),
        Input(ids.URL, "search"), prevent_initial_call=True,
    )(options)

    def step(_clicks, note, department, search):  # noqa: ANN001, ANN202
        trig = dash.callback_context.triggered_id
        value = dash.callback_context.triggered[0]["value"] if dash.callback_context.triggered else None
        if not isinstance(trig, dict) or not value:  # buttons appearing with a new detail fire with 0 clicks
            return no_update, no_update
        return do_step(services, trig, note, department, search), services.base_repo.data_version()

    access.callback(
        app, DISPATCH,
        Output(ids.CONSOLE_FEEDBACK, "children"), Output(ids.DATA_VERSION, "data", allow_duplicate=True),
        Input(ids.console_step(ALL, ALL), "n_clicks"),
        State(ids.CONSOLE_NOTE, "value"), State(ids.CONSOLE_DEPARTMENT, "value"), State(ids.URL, "search"),
        prevent_initial_call=True,
    )(step)

    def alert_step(_clicks, search):  # noqa: ANN001, ANN202
        trig = dash.callback_context.triggered_id
        value = dash.callback_context.triggered[0]["value"] if dash.callback_context.triggered else None
        if not isinstance(trig, dict) or not value:  # buttons appearing with a refreshed list fire with 0 clicks
            return no_update, no_update
        return do_alert_step(services, trig, search), services.base_repo.data_version()

    access.callback(
        app, DISPATCH,
        Output(ids.CONSOLE_FEEDBACK, "children", allow_duplicate=True), Output(ids.DATA_VERSION, "data", allow_duplicate=True),
        Input(ids.console_alert_step(ALL, ALL), "n_clicks"), State(ids.URL, "search"),
        prevent_initial_call=True,
    )(alert_step)

    # Selection: a click on a list row or on a map point selects the event (no server round trip).
    app.clientside_callback(
        """
        function(_clicks, click) {
            const trig = (window.dash_clientside.callback_context.triggered || [])[0];
            const none = window.dash_clientside.no_update;
            if (!trig || !trig.value) return none;
            if (trig.prop_id.startsWith('MAP_ID.')) {
                const p = click && click.points && click.points[0];
                return p && typeof p.customdata === 'number' ? p.customdata : none;
            }
            try { return JSON.parse(trig.prop_id.slice(0, trig.prop_id.lastIndexOf('.'))).id; } catch (e) { return none; }
        }
        """.replace("MAP_ID", ids.CONSOLE_MAP),
        Output(ids.CONSOLE_SELECTED, "data"),
        Input(ids.console_item(ALL), "n_clicks"), Input(ids.CONSOLE_MAP, "clickData"),
        prevent_initial_call=True,
    )

    # Mark the selected row at once (the map moves with the detail's patch: a client-side flyTo would be
    # undone by that patch) and bring the row into view when the selection came from the map.
    app.clientside_callback(
        """
        function(selected) {
            document.querySelectorAll('.console-item').forEach(
                el => el.classList.toggle('selected', el.dataset.event === String(selected)));
            const row = document.querySelector(`.console-item[data-event="${selected}"]`);
            if (row) row.scrollIntoView({block: 'nearest'});
            return selected;
        }
        """,
        Output(ids.CONSOLE_FLY, "data"),
        Input(ids.CONSOLE_SELECTED, "data"),
        prevent_initial_call=True,
    )

    # Countdowns: every second, from the server's clock at render time (no round trip).
    app.clientside_callback(
        """
        function(_n, items) {
            const none = window.dash_clientside.no_update;
            if (!items || !items.tpl) return none;
            const trig = (window.dash_clientside.callback_context.triggered || [])[0];
            if (window.__iocSkew === undefined || (trig && trig.prop_id.startsWith('ITEMS_ID.'))) {
                window.__iocSkew = items.now - Date.now();
            }
            const tpl = items.tpl, now = Date.now() + window.__iocSkew;
            const pad = (x) => String(x).padStart(2, '0');
            const fill = (s, v) => s.replace(/\\{(\\w)\\}/g, (_m, k) => v[k]);
            const dur = (ms) => {
                const s = Math.floor(Math.abs(ms) / 1000);
                const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
                if (d) return fill(tpl['dur.dh'], {d: d, h: h});
                if (h) return fill(tpl['dur.hm'], {h: h, m: pad(m)});
                return fill(tpl['dur.ms'], {m: m, s: pad(sec)});
            };
            document.querySelectorAll('.console-main [data-due]').forEach((el) => {
                const left = Number(el.dataset.due) - now;
                const late = left < 0;
                const text = fill(late ? tpl.over : tpl.left, {t: dur(left)});
                if (el.textContent !== text) el.textContent = text;
                el.classList.toggle('overdue', late);
                const row = el.closest('.console-item');
                if (row) row.classList.toggle('overdue', late);
            });
            return none;
        }
        """.replace("ITEMS_ID", ids.CONSOLE_ITEMS),
        Output(ids.CONSOLE_TICK, "data"),
        Input(ids.CLOCK_TICK, "n_intervals"), Input(ids.CONSOLE_ITEMS, "data"),
    )
