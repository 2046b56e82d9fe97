"""Navigation: every click that changes the view writes the URL; the URL drives the screen.

Map click on an area drills into it, a KPI card makes its indicator the map's, the selectors change
indicator and period, the language button switches language. Back/forward and bookmarks just work.
"""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, no_update

from callbacks import access, inputs
from callbacks.cockpit import resolve_state
from callbacks.export import kpis_href
from callbacks.services import Services
from callbacks.state import parse_search, to_search
from datasources.access.roles import DRILL, VIEW
from datasources.repository import ScopeError
from layouts import ids
from layouts.i18n import MESSAGES, pick, screen_title, t
from layouts.map_figure import layer_options


def next_search(trigger: dict | str | None, value, search: str | None, locate=None) -> str | object:  # noqa: ANN001
    """The new query string after an interaction, or ``no_update`` when nothing changes.

    ``trigger`` is the id of the component that fired; ``value`` its new value (clickData for the map).
    ``locate(area, lon, lat)`` resolves a click on a marker (no polygon under it in plotly's eyes) to the
    child area that contains it, so a click anywhere inside an area drills into it."""
    state = parse_search(search)
    new = state
    if trigger == ids.MAP:
        point = inputs.map_click(value)
        if point is None:
            return no_update
        code = point["location"]
        if not code and locate and point["lon"] is not None and point["lat"] is not None:
            code = locate(state.area, point["lon"], point["lat"])
        if not code:
            return no_update
        new = state.with_(area=str(code))
    elif trigger == ids.INDICATOR_SELECT and inputs.code(value):
        new = state.with_(indicator=value)
    elif trigger == ids.PERIOD_SELECT and isinstance(value, str) and parse_search(f"?period={value}").period:
        new = state.with_(period=value)
    elif trigger == ids.LANG_TOGGLE and value:
        new = state.with_(lang="en" if state.lang == "zh" else "zh")
    elif isinstance(trigger, dict) and trigger.get("type") == "kpi-card" and value and inputs.code(trigger.get("code")):
        new = state.with_(indicator=trigger["code"])
    out = to_search(new)
    if trigger == ids.LANG_TOGGLE and out != to_search(state):
        out = _keep_page_params(out, search)
    return no_update if out == to_search(state) and search else out


def _keep_page_params(out: str, search: str | None) -> str:
    """``out`` with the parameters of ``search`` that the view state does not know (a page's own, such as
    the analyst's filters) appended: switching language keeps the page's view."""
    from urllib.parse import parse_qsl, urlencode

    known = {"area", "indicator", "period", "mode", "lang"}
    try:
        extra = [(k, v) for k, v in parse_qsl(inputs.text(search).lstrip("?"), max_num_fields=64) if k not in known]
    except ValueError:  # more fields than any view has: drop them
        return out
    if not extra:
        return out
    return out + ("&" if out != "?" else "") + urlencode(extra)


def label_texts(services: Services, keys: list[str], lang: str) -> list[str]:
    """Texts of the static labels (message keys, or ``page.<id>`` for catalog page names)."""
    pages = {p["id"]: p for p in services.cached("pages")}
    out = []
    for key in keys:
        if key.startswith("page."):
            p = pages.get(key.removeprefix("page."))
            out.append(pick(lang, p["name_zh"], p["name_en"]) if p else key)
        else:
            out.append(t(key, lang))
    return out


def indicator_options(services: Services, lang: str) -> list[dict]:
    """Every catalog indicator, grouped by theme order, labelled with its unit."""
    return [
        {"label": f"{pick(lang, i['name_zh'], i['name_en'])} ({pick(lang, i['unit'], i['unit_en'])})", "value": i["code"]}
        for i in services.cached("indicators")
    ]


def period_options(services: Services) -> list[dict]:
    """Months with data, newest first."""
    return [{"label": p.strftime("%Y-%m"), "value": p.strftime("%Y-%m")} for p in services.cached("periods")]


def register(app: dash.Dash, services: Services) -> None:
    """Wire URL writes and the language-dependent labels."""

    def navigate(click, _cards, indicator, period, lang_clicks, search):  # noqa: ANN001, ANN202
        trigger = dash.callback_context.triggered_id
        if trigger is None:
            return no_update
        if isinstance(trigger, dict):
            value = dash.callback_context.triggered[0]["value"]
        else:
            by_input = {ids.MAP: click, ids.INDICATOR_SELECT: indicator, ids.PERIOD_SELECT: period, ids.LANG_TOGGLE: lang_clicks}
            if trigger not in by_input:  # a crafted post naming a state or an unknown id as the trigger
                return no_update
            value = by_input[trigger]
        if trigger in (ids.INDICATOR_SELECT, ids.PERIOD_SELECT):
            # The cockpit writes the resolved defaults into the selectors; echoing them back into the URL
            # would render the same view twice.
            resolved, _ = resolve_state(services, parse_search(search))
            if value == (resolved.indicator if trigger == ids.INDICATOR_SELECT else resolved.period):
                return no_update
        return next_search(trigger, value, search, locate)

    def locate(area: str, lon: float, lat: float) -> str | None:
        try:
            return services.repo.child_at(area or services.repo.root_code(), lon, lat)
        except ScopeError:
            return None

    access.callback(
        app, DRILL,
        Output(ids.URL, "search"),
        Input(ids.MAP, "clickData"),
        Input(ids.kpi("card", ALL), "n_clicks"),
        Input(ids.INDICATOR_SELECT, "value"),
        Input(ids.PERIOD_SELECT, "value"),
        Input(ids.LANG_TOGGLE, "n_clicks"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )(navigate)

    def labels(search):  # noqa: ANN001, ANN202
        lang = parse_search(search).lang
        known = set(MESSAGES) | {f"page.{p['id']}" for p in services.cached("pages")}
        keys = inputs.output_keys(dash.callback_context.outputs_list[0], "key", known)
        root = services.cached("region", services.repo.root_code())
        title = screen_title(services.config.title, root, lang)
        return label_texts(services, keys, lang), t("lang_switch", lang), title, "zh-CN" if lang == "zh" else "en"

    def cockpit_options(search):  # noqa: ANN001, ANN202
        lang = parse_search(search).lang
        return layer_options(lang), indicator_options(services, lang), period_options(services)

    def export_href(search):  # noqa: ANN001, ANN202
        return kpis_href(parse_search(search))

    access.callback(
        app, VIEW,
        Output(ids.label(ALL), "children"),
        Output(ids.LANG_TOGGLE, "children"),
        Output(ids.TITLE, "children"),
        Output(ids.ROOT, "lang"),
        Input(ids.URL, "search"),
    )(labels)

    # Apart from the shell's labels: other pages have no cockpit controls, and a callback naming an
    # output that is missing from the page is an error in the browser.
    access.callback(
        app, VIEW,
        Output(ids.LAYERS, "options"),
        Output(ids.INDICATOR_SELECT, "options"),
        Output(ids.PERIOD_SELECT, "options"),
        Input(ids.URL, "search"),
    )(cockpit_options)

    access.callback(app, VIEW, Output(ids.EXPORT_KPIS, "href"), Input(ids.URL, "search"))(export_href)
