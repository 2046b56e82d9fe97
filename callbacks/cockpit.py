"""The cockpit's main callback: one selected area (from the URL) drives map, breadcrumb, KPI cards and
event panel. Geometry never travels here: the map is patched with codes, values and points only."""

from __future__ import annotations

import json
from datetime import date

import dash
from dash import ALL, Input, Output, Patch, State, dcc, html, no_update
from dash.exceptions import PreventUpdate
from dateutil.relativedelta import relativedelta

from callbacks import access, inputs
from callbacks import scores as score_view
from callbacks.delta import parts_delta, patch_delta
from callbacks.geo import children_url
from callbacks.map_layers import LayerView, fill_area_names, fill_layers
from callbacks.services import Services
from callbacks.state import ViewState, is_past_period, parse_search, to_search
from datasources.access.roles import VIEW
from datasources.repository import ScopeError
from datasources.rules import is_category
from layouts import cockpit as cockpit_layout
from layouts import ids
from layouts.cockpit import mode_layers, panel_order
from layouts.i18n import pick, t
from layouts.kpi import (
    SPARK_HEAD,
    STATUS_COLORS,
    change_text,
    format_value,
    grade_change_text,
    spark_uri,
    sparkline_points,
    sparkline_src,
)
from layouts.map_figure import COLORBAR_LEN, T_CONTEXT, T_VALUES, colorscale, geojson_url, view_for_bounds
from layouts.map_layers import LAYER_KEYS as REGISTERED_LAYERS

LAYER_KEYS = frozenset(REGISTERED_LAYERS)
RESIZE_SLACK_PX = 16  # below the fit's 24 px padding: the fitted area still shows whole
KPI_PARTS = ("value", "unit", "name", "change", "yoy", "spark", "fresh", "card")


def resolve_state(services: Services, state: ViewState) -> tuple[ViewState, str | None]:
    """Fill defaults (root area, default indicator, latest period) and replace what is invalid.
    Returns the state and an error message key (or None)."""
    repo = services.repo
    root = repo.root_code()
    error = None
    area = state.area or root
    try:
        repo.check_scope(area)  # within the caller's scope (a ScopedRepository passes it)
    except ScopeError:
        area, error = root, "unknown_area"
    indicators = services.cached("indicators")
    codes = {i["code"] for i in indicators} | {s["code"] for s in score_view.score_indicators(services)}
    indicator = state.indicator if state.indicator in codes else map_default(services.config.map_default, codes, indicators)
    periods = services.cached("periods")
    period = state.period_date()
    if period is None or (periods and period not in periods):
        period = periods[0] if periods else date.today().replace(day=1)
    return state.with_(area=area, indicator=indicator, period=period.strftime("%Y-%m")), error


def map_default(configured: str, codes: set[str], indicators: list[dict]) -> str:
    """The map's indicator when the URL names none: the configured one (``IOC_MAP_DEFAULT``, the overall
    score unless set) when it exists, else ``default_indicator``."""
    return configured if configured in codes else default_indicator(indicators)


def default_indicator(indicators: list[dict]) -> str:
    """The map's indicator when the URL names none: the first headline that exists at the deepest level."""
    deepest = max((i["level"] for i in indicators), default=0)
    for i in indicators:
        if i["headline"] and i["level"] == deepest:
            return i["code"]
    return indicators[0]["code"] if indicators else ""


def cockpit_view(
    services: Services, search: str | None, layers: list[str] | None, kpi_codes: list[str] | None = None, size: dict | None = None
) -> dict:
    """Everything the cockpit shows for the view in ``search``: a dict of named parts (map patch,
    breadcrumb, KPI parts in ``kpi_codes`` order, event stats). ``size`` is the map's measured pixel size
    and the window height ({w, h, vh}). Plain function: tests and the benchmark call it."""
    state, error = resolve_state(services, parse_search(search))
    area, period = state.area, state.period_date()
    region = services.cached("region", area)
    key = score_view.score_key(state.indicator)  # a composite score (score.overall, score.<theme>) or an indicator
    if key is not None:
        ind = next(i for i in score_view.score_indicators(services) if i["code"] == state.indicator)
        rows = score_view.score_rows(services, key, area, period)
    else:
        ind = next(i for i in services.cached("indicators") if i["code"] == state.indicator)
        rows = services.cached("child_values", state.indicator, area, period)
    bounds = services.cached("bounds", area)
    start, end = period, period + relativedelta(months=1)
    return {
        "state": state,
        "figure": map_patch(services, state, region, ind, rows, bounds, shown_layers(state, layers), size or {}),
        "breadcrumb": breadcrumb(services.cached("ancestors", area), state),
        "area_title": (score_view.area_title(services, state, region, ind, error and t("error", state.lang, reason=t(error, state.lang)))
                       if key is not None else _area_title(region, ind, rows, state.lang, error)),
        "kpi": kpi_parts(services, state, kpi_codes),
        "event_stats": event_stats(services, area, start, end, state.lang, past=is_past_period(period, services.cached("periods"))),
    }


def shown_layers(state: ViewState, picked: list[str] | None) -> set[str]:
    """The map layers to draw: the layer picker's (in the browser it follows the URL), else, for a caller
    without a picker, those the URL names."""
    if picked is not None:
        return set(picked)
    return set(state.layer_list() or [])


def map_patch(
    services: Services, state: ViewState, region: dict, ind: dict, rows: list[dict], bounds: tuple, layers: set[str], size: dict
) -> Patch:
    """The map update: codes and values of the area's children (or the area itself with its siblings as
    context), point layers, and a view fitted to the measured map size. Never geometry."""
    lang, area, period = state.lang, state.area, state.period_date()
    has_children = region["n_children"] > 0
    level = region["level"] + 1 if has_children else region["level"]
    version = services.geometry_version()
    unit = pick(lang, ind["unit"], ind["unit_en"])
    scale = min(max(size.get("vh") or 1080, 810) / 1080, 3.0)  # plotly sizes are px: follow the screen like the CSS
    fig = Patch()
    family: list[dict] = []
    if has_children:
        boundaries = children_url(area, version, services.scope)  # only the children: a few KB, not a whole level
        fig["data"][T_CONTEXT]["locations"] = []
        fig["data"][T_CONTEXT]["z"] = []
    else:
        family = _siblings(services, region)
        # A leaf is drawn among its siblings, the children of its parent; a parent outside the caller's scope
        # (a scope that is itself a leaf) leaves the level's boundaries within the scope.
        boundaries = children_url(region["parent_code"], version, services.scope) if family else geojson_url(level, version, services.scope)
        siblings = [s["code"] for s in family if s["code"] != area]
        fig["data"][T_CONTEXT]["geojson"] = boundaries
        fig["data"][T_CONTEXT]["locations"] = siblings
        fig["data"][T_CONTEXT]["z"] = [0] * len(siblings)
    n = len(rows)
    fig["data"][T_VALUES]["geojson"] = boundaries
    fig["data"][T_VALUES]["locations"] = [r["code"] for r in rows]
    fig["data"][T_VALUES]["z"] = [r["value"] for r in rows]
    fig["data"][T_VALUES]["colorbar"]["title"]["text"] = unit
    if "score_key" in ind:  # a score has its own hover and a fixed 0–100 scale (each assignment travels once)
        score_view.paint_map(fig, rows, ind, lang)
    else:
        fig["data"][T_VALUES]["colorscale"] = colorscale(ind["polarity"])
        fig["data"][T_VALUES]["customdata"] = [
            [pick(lang, r["name"], r["name_en"]), format_value(r["value"]), f"{r['rank']}/{n}" if r["rank"] else "–",
             _grade_diff(r["value"], r["previous"], unit) if is_category(ind["unit"]) else _pct(r["value"], r["previous"])]
            for r in rows
        ]
        fig["data"][T_VALUES]["hovertemplate"] = (
            f"<b>%{{customdata[0]}}</b><br>{pick(lang, ind['name_zh'], ind['name_en'])}: %{{customdata[1]}} {unit}"
            f"<br>{t('rank', lang)}: %{{customdata[2]}}<br>{t('change', lang)}: %{{customdata[3]}}<extra></extra>"
        )
        fig["data"][T_VALUES]["zauto"] = True  # an indicator's own range
        fig["data"][T_VALUES]["colorbar"]["len"] = COLORBAR_LEN
    fill_layers(fig, LayerView(services, area, region["area_km2"], period, lang, scale), layers)
    names = services.cached("children", area) if has_children else family
    fill_area_names(fig, names, lang, "" if has_children else area)
    center, zoom = view_for_bounds(bounds, size.get("w") or 1000, size.get("h") or 760)
    fig["layout"]["map"]["center"] = center
    fig["layout"]["map"]["zoom"] = zoom
    fig["layout"]["uirevision"] = f"{area}:{size.get('w')}x{size.get('h')}"
    fig["layout"]["hoverlabel"]["font"]["size"] = round(16 * scale)
    fig["data"][T_VALUES]["colorbar"]["tickfont"]["size"] = max(12, round(14 * scale))  # 12 px: the smallest text anywhere
    fig["data"][T_VALUES]["colorbar"]["title"]["font"]["size"] = max(12, round(14 * scale))
    fig["data"][T_VALUES]["colorbar"]["thickness"] = round(14 * scale)
    fig["data"][T_VALUES]["marker"]["line"]["width"] = round(1.2 * scale, 1)
    fig["data"][T_CONTEXT]["marker"]["line"]["width"] = round(1.0 * scale, 1)
    return fig


def _siblings(services: Services, region: dict) -> list[dict]:
    """The area's siblings (map context), or none when the parent lies outside the caller's scope."""
    if not region["parent_code"]:
        return []
    try:
        return services.cached("children", region["parent_code"])
    except ScopeError:
        return []


def kpi_parts(services: Services, state: ViewState, codes: list[str] | None = None, any_indicator: bool = False) -> dict[str, list]:
    """Texts, classes and sparklines of the KPI cards, one list per part in ``codes`` order (headline
    indicators, or any of the catalog's with ``any_indicator``: the theme and topic pages)."""
    lang = state.lang
    selection = (tuple(codes or ()),) if any_indicator else ()
    kpis = {k.code: k for k in services.cached("kpi_values", state.area, state.period_date(), *selection)}
    parts: dict[str, list] = {p: [] for p in (*KPI_PARTS, "spark_line")}
    for code in codes if codes is not None else list(kpis):
        k = kpis.get(code)
        if k is None:  # a card whose indicator left the catalog since the page was built
            empty = {"children": "", "className": "kpi-change flat"}
            for p, default in zip(KPI_PARTS, ("–", "", code, empty, empty, sparkline_src([]), "", "kpi-card status-none"), strict=True):
                parts[p].append(default)
            parts["spark_line"].append(["", ""])
            continue
        ch, ch_cls, yo, yo_cls = _changes(k, lang)
        period_label = k.period.strftime("%Y-%m") if k.period else ""
        parts["value"].append(format_value(k.value))
        parts["unit"].append(pick(lang, k.unit, k.unit_en))
        parts["name"].append(pick(lang, k.name_zh, k.name_en))
        parts["change"].append({"children": ch, "className": ch_cls})
        parts["yoy"].append({"children": yo, "className": yo_cls})
        line = [sparkline_points(k.sparkline), STATUS_COLORS[k.status]]  # the cockpit sends these, pages the URI
        parts["spark"].append(spark_uri(*line))
        parts["spark_line"].append(line)
        if not k.applicable:  # not collected at the area's level: "not applicable", not "stale"
            parts["fresh"].append(t("not_applicable", lang))
        elif k.period is None:  # no value at all: "no data", not "stale since <nothing>"
            parts["fresh"].append(t("no_data", lang))
        else:
            parts["fresh"].append(t("stale_since", lang, period=period_label) if k.stale else period_label)
        selected = " selected" if code == state.indicator else ""
        parts["card"].append(f"kpi-card status-{k.status}{' stale' if k.stale else ''}{'' if k.applicable else ' na'}{selected}")
    return parts


def _changes(k, lang: str) -> tuple[str, str, str, str]:  # noqa: ANN001 - a repository Kpi
    """Month-on-month and year-on-year texts and classes of a KPI card: in grades for a category
    indicator (a warning level has no percentage change), as a percentage otherwise."""
    if is_category(k.unit):
        unit = pick(lang, k.unit, k.unit_en)
        return (*grade_change_text(k.value, k.previous, k.polarity, t("prev", lang), unit),
                *grade_change_text(k.value, k.last_year, k.polarity, t("yoy", lang), unit))
    return (*change_text(k.change(k.previous), k.polarity, t("prev", lang)),
            *change_text(k.change(k.last_year), k.polarity, t("yoy", lang)))


def _grade_diff(value: float | None, previous: float | None, unit: str) -> str:
    """Change of a category indicator in grades ("+1级"), never a percentage."""
    if value is None or previous is None:
        return "–"
    return f"{value - previous:+g}{' ' if unit.isascii() else ''}{unit}"


def _pct(value: float | None, previous: float | None) -> str:
    if value is None or previous in (None, 0):
        return "–"
    return f"{(value - previous) / abs(previous) * 100:+.1f}%"


def breadcrumb(ancestors: list[dict], state: ViewState, path: str = "/") -> list:
    """City › township › community: links up the tree (on the page at ``path``); the current area is plain text."""
    items: list = []
    for k, a in enumerate(ancestors):
        name = pick(state.lang, a["name"], a["name_en"])
        if k:
            items.append(html.Span("›", className="crumb-sep"))
        if k == len(ancestors) - 1:
            items.append(html.Span(name, className="crumb current", **{"data-code": a["code"]}))
        else:
            link = dcc.Link(name, href=path + to_search(state.with_(area=a["code"])), className="crumb")
            items.append(html.Span(link, className="crumb-item", **{"data-code": a["code"]}))
    return items


def _area_title(region: dict, ind: dict, rows: list[dict], lang: str, error: str | None) -> list:
    name = pick(lang, region["name"], region["name_en"])
    parts = [html.Span(name, className="area-name"), html.Span(pick(lang, ind["name_zh"], ind["name_en"]), className="area-indicator")]
    shown_level = region["level"] + 1 if region["n_children"] > 0 else region["level"]
    if ind.get("level") is not None and shown_level > ind["level"]:  # the map's areas are below the indicator's lowest level
        parts.append(html.Span(t("not_applicable.level", lang), className="area-note"))
    elif rows and all(r["value"] is None for r in rows):
        parts.append(html.Span(t("no_data", lang), className="area-note"))
    if error:
        parts.append(html.Span(t("error", lang, reason=t(error, lang)), className="area-error"))
    return parts


def event_stats(services: Services, area: str, start: date, end: date, lang: str, past: bool = False) -> list:
    """Totals of the period's events: count, closure rate, open now (labelled "now" when ``past``: the
    selected period is not the present), and a bar per source."""
    by_status = services.cached("event_counts", area, start, end, "status")
    by_source = services.cached("event_counts", area, start, end, "source")
    by_severity = services.cached("event_counts", area, start, end, "severity")
    total = sum(by_status.values())
    done = by_status.get("resolved", 0) + by_status.get("closed", 0)
    open_now = services.cached("open_event_count", area)
    biggest = max(by_source.values(), default=1) or 1
    return [
        html.Div(className="stat-row", children=[
            _stat(t("events_total", lang), f"{total:,}", "stat-total"),
            _stat(t("closed_rate", lang), f"{done / total * 100:.1f}%" if total else "–", "stat-closed"),
            _stat(t("open_now.past" if past else "open_now", lang), f"{open_now:,}", "stat-open"),
        ]),
        html.Div(className="severity-row", children=[
            html.Div(className=f"severity sev-{lvl}", children=[
                html.Div(f"{by_severity.get(lvl, 0):,}", className="severity-n"),
                html.Div(t(f"severity.{lvl}", lang), className="stat-label"),
            ])
            for lvl in (1, 2, 3, 4)
        ]),
        html.Div(className="source-bars", children=[
            html.Div(className="source-bar", children=[
                html.Span(t(f"source.{src}", lang), className="source-name"),
                html.Span(className="bar", children=html.Span(className="bar-fill", style={"width": f"{n / biggest * 100:.0f}%"})),
                html.Span(f"{n:,}", className="source-n"),
            ])
            for src, n in sorted(by_source.items(), key=lambda kv: -kv[1])
        ]),
    ]


def _stat(label: str, value: str, cls: str) -> html.Div:
    return html.Div(className=f"stat {cls}", children=[html.Div(value, className="stat-value"), html.Div(label, className="stat-label")])


def mode_profile(services: Services, mode: object) -> dict | None:
    """The profile (layers, panels first…) of operating mode ``mode`` from the loaded catalog, or None."""
    if not isinstance(mode, str):
        return None
    return services.cached("mode_profiles").get(mode)


#: The render callback's outputs after the figure, in order (the KPI parts are lists, one per card).
RENDER_PARTS = (
    "breadcrumb", "area_title", "indicator", "period", "event_stats", "kpi_value", "kpi_unit", "kpi_name",
    "kpi_change", "kpi_change_cls", "kpi_yoy", "kpi_yoy_cls", "kpi_spark", "kpi_fresh", "kpi_card",
)


KPI_OUTPUTS = frozenset(p for p in RENDER_PARTS if p.startswith("kpi_"))  # ALL outputs, one entry per card
KPI_OUTPUTS_ORDER = tuple(p for p in RENDER_PARTS if p in KPI_OUTPUTS)
#: Where each KPI part lands: (card part, property).
KPI_OUTPUT_PROPS = {
    "kpi_value": ("value", "children"), "kpi_unit": ("unit", "children"), "kpi_name": ("name", "children"),
    "kpi_change": ("change", "children"), "kpi_change_cls": ("change", "className"), "kpi_yoy": ("yoy", "children"),
    "kpi_yoy_cls": ("yoy", "className"), "kpi_spark": ("spark", "src"), "kpi_fresh": ("fresh", "children"),
    "kpi_card": ("card", "className"),
}


def kpi_data(codes: list[str], parts: dict[str, object], spark_lines: list | None = None) -> dict | object:
    """The KPI parts that changed (``render_outputs``' lists, ``no_update`` for the rest) as one store value:
    the cards' codes and a list per changed part in their order; ``no_update`` when nothing changed. A
    changed sparkline travels as its points and colour (``spark_lines``), the browser writes the SVG."""
    def unchanged(v: object) -> bool:  # render_outputs marks an unchanged ALL part with one no_update per card
        return v is no_update or (isinstance(v, list) and bool(v) and all(x is no_update for x in v))

    changed = {p: v for p, v in parts.items() if not unchanged(v)}
    if "kpi_spark" in changed and spark_lines is not None:
        changed["kpi_spark"] = spark_lines
    return {"codes": codes, **changed} if changed else no_update


def render_outputs(view: dict, sent: dict | None) -> tuple:
    """The render callback's outputs for ``view``: only what differs from what the browser has (``sent``:
    the hashes it holds, from the last render), ``no_update`` for the rest, then the new hashes."""
    k = view["kpi"]
    parts = dict(zip(RENDER_PARTS, (
        view["breadcrumb"], view["area_title"], view["state"].indicator, view["state"].period, view["event_stats"],
        k["value"], k["unit"], k["name"],
        [c["children"] for c in k["change"]], [c["className"] for c in k["change"]],
        [c["children"] for c in k["yoy"]], [c["className"] for c in k["yoy"]],
        k["spark"], k["fresh"], k["card"],
    ), strict=True))
    sent = sent or {}
    figure, map_hashes = patch_delta(view["figure"], sent.get("map"))
    changed, part_hashes = parts_delta(parts, sent.get("parts"), KPI_OUTPUTS)
    shown = {"indicator": view["state"].indicator, "period": view["state"].period}  # see navigation's relay
    return (figure, *changed.values(), {"map": map_hashes, "parts": part_hashes, "shown": shown})


# Wiring only (ids, outputs, client-side JS), checked by the browser tests; not by mutation testing.
# pragma: no mutate block
def register(app: dash.Dash, services: Services) -> None:
    """Wire the cockpit callback and the client-side map fit."""

    def render(search, layers, _version, size, sent, _cards):  # noqa: ANN001, ANN202
        known = {i["code"] for i in services.cached("indicators") if i["headline"]}
        codes = inputs.output_keys(dash.callback_context.states_list[1], "code", known)
        view = cockpit_view(services, search, inputs.codes(layers, LAYER_KEYS), codes, inputs.map_size(size))
        figure, *parts, new_sent = render_outputs(view, sent if isinstance(sent, dict) else None)
        head = parts[:len(RENDER_PARTS) - len(KPI_OUTPUTS)]
        kpi = kpi_data(codes, dict(zip(KPI_OUTPUTS_ORDER, parts[len(head):], strict=True)), view["kpi"]["spark_line"])
        return (figure, *head, kpi, new_sent)

    access.callback(
        app, VIEW,
        Output(ids.MAP, "figure"),
        Output(ids.BREADCRUMB, "children"),
        Output(ids.AREA_TITLE, "children"),
        Output(ids.INDICATOR_SELECT, "value"),
        Output(ids.PERIOD_SELECT, "value"),
        Output(ids.EVENT_STATS, "children"),
        Output(ids.KPI_DATA, "data"),
        Output(ids.VIEW_SENT, "data"),
        Input(ids.URL, "search"),
        Input(ids.LAYERS, "value"),
        Input(ids.DATA_VERSION, "data"),
        Input(ids.MAP_SIZE, "data"),
        State(ids.VIEW_SENT, "data"),
        State(ids.kpi("card", ALL), "id"),
    )(render)

    # The KPI texts travel once, as lists in the cards' order (no id per card and part: ~280 ids of ~60
    # bytes each were most of a drill's answer); the browser hands each card its part.
    app.clientside_callback(
        """
        function(data) {
            const dc = window.dash_clientside, outs = dc.callback_context.outputs_list;
            if (!data) { return outs.map((o) => o.map(() => dc.no_update)); }
            const at = {};
            data.codes.forEach((c, i) => { at[c] = i; });
            const spark = ([points, color]) => {  // layouts.kpi.spark_uri, the same string
                if (!points) { return HEAD + '/>'; }
                const [x, y] = points.slice(points.lastIndexOf(' ') + 1).split(',');
                const c = color.replace('#', '%23');
                return HEAD + "><polyline fill='none' stroke='" + c + "' stroke-width='2' points='" + points + "'/>" +
                    "<circle cx='" + x + "' cy='" + y + "' r='2.5' fill='" + c + "'/></svg>";
            };
            return PARTS.map((part, k) => outs[k].map((o) => {
                const values = data[part], i = at[o.id.code];
                if (!values || i === undefined) { return dc.no_update; }
                return part === 'kpi_spark' ? spark(values[i]) : values[i];
            }));
        }
        """.replace("PARTS", json.dumps(list(KPI_OUTPUTS_ORDER))).replace("HEAD", json.dumps(SPARK_HEAD)),
        *[Output(ids.kpi(KPI_OUTPUT_PROPS[p][0], ALL), KPI_OUTPUT_PROPS[p][1]) for p in KPI_OUTPUTS_ORDER],  # PARTS' order
        Input(ids.KPI_DATA, "data"),
    )

    def follow_mode(mode):  # noqa: ANN001, ANN202
        """The mode in the selector (switched here, or on another screen and shown at the next poll) turns
        on its layers and puts its panels first. Read from the mode's own profile, not from the stored
        mode: this screen's switch may not be committed yet when this runs."""
        profile = mode_profile(services, mode)
        if profile is None:
            raise PreventUpdate
        themes = [o["id"]["theme"] for o in dash.callback_context.outputs_list[1]]
        order = panel_order(list(cockpit_layout.THEMES), profile.get("panels") or [])
        return mode_layers(profile), [{"order": order.get(t, 0)} for t in themes]

    access.callback(
        app, VIEW,
        Output(ids.LAYERS, "value"), Output(ids.theme_panel(ALL), "style"),
        Input(ids.MODE_SELECT, "value"), prevent_initial_call=True,
    )(follow_mode)

    # The map's real pixel size (and the window height) measured in the browser at load and on every
    # resize: the server fits the view to it exactly and scales plotly's px-sized text like the CSS.
    app.clientside_callback(
        """
        function(_pathname, shown) {
            const measure = () => {
                const el = document.getElementById('MAP_ID');
                const r = el ? el.getBoundingClientRect() : {width: 1000, height: 760};
                return {w: Math.round(r.width), h: Math.round(r.height), vh: window.innerHeight};
            };
            const el = document.getElementById('MAP_ID');
            if (el && !el.__iocObserved) {
                // Fires on window resizes and on layout shifts after load (fonts, panels), not only once.
                el.__iocObserved = true;
                let t = null, last = JSON.stringify(measure());
                const observer = new ResizeObserver(() => {
                    clearTimeout(t);
                    t = setTimeout(() => {
                        if (!el.isConnected) {  // the page was switched in place (the wall's rotation): let go
                            observer.disconnect();
                            return;
                        }
                        const now = measure(), was = JSON.parse(last);
                        // A shift smaller than the fit's padding (the area title filling in after the first
                        // render moves the map by a few px) keeps the view: no second render at load.
                        const big = Math.abs(now.w - was.w) > SLACK || Math.abs(now.h - was.h) > SLACK || now.vh !== was.vh;
                        if (big) {
                            last = JSON.stringify(now);
                            window.dash_clientside.set_props('SIZE_ID', {data: now});
                        }
                    }, 150);
                });
                observer.observe(el);
            }
            // Unchanged (a path change while the map is still there, on its way out): no new render, whose
            // figure would reach a graph that is being taken down.
            const size = measure();
            return shown && shown.w === size.w && shown.h === size.h && shown.vh === size.vh ? window.dash_clientside.no_update : size;
        }
        """.replace("MAP_ID", ids.MAP).replace("SIZE_ID", ids.MAP_SIZE).replace("SLACK", str(RESIZE_SLACK_PX)),
        Output(ids.MAP_SIZE, "data"),
        Input(ids.URL, "pathname"),
        State(ids.MAP_SIZE, "data"),
    )
