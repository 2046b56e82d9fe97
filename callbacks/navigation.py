"""Navigation: every click that changes the view writes the URL; the URL drives the screen.

Map click on an area drills into it, a KPI card makes its indicator the map's, the selectors change
indicator and period, the language button switches language. Back/forward and bookmarks just work.
"""

from __future__ import annotations

from collections.abc import Callable

import dash
from dash import ALL, Input, Output, State, no_update

from callbacks import access, inputs
from callbacks.cockpit import resolve_state
from callbacks.scores import score_indicators
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

    known = {"area", "indicator", "period", "mode", "lang", "layers"}
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


#: Value of a group heading in the indicator selector: not a code (navigation ignores it) and disabled.
GROUP_PREFIX = "#"


def indicator_options(services: Services, lang: str) -> list[dict]:
    """The map's indicator choices in groups, each under a disabled heading (Dash's Dropdown has no
    optgroup): first the composite scores, then every catalog indicator by theme in the catalog's order
    (labelled with its unit); indicators of a theme without a page come last under their theme id."""
    def heading(key: str, text: str) -> dict:
        return {"label": text, "value": GROUP_PREFIX + key, "disabled": True}

    def option(i: dict) -> dict:
        return {"label": f"{pick(lang, i['name_zh'], i['name_en'])} ({pick(lang, i['unit'], i['unit_en'])})", "value": i["code"]}

    out = [heading("score", t("score.group", lang))]
    out += [{"label": pick(lang, s["name_zh"], s["name_en"]), "value": s["code"]} for s in score_indicators(services)]
    by_theme: dict[str, list[dict]] = {}
    for i in services.cached("indicators"):
        by_theme.setdefault(i["theme"], []).append(i)
    names = {p["id"]: pick(lang, p["name_zh"], p["name_en"]) for p in services.cached("pages") if p["kind"] == "theme"}
    for theme in [*names, *sorted(set(by_theme) - set(names))]:
        if by_theme.get(theme):
            out += [heading(theme, names.get(theme, theme)), *map(option, by_theme[theme])]
    return out


def period_options(services: Services) -> list[dict]:
    """Months with data, newest first."""
    return [{"label": p.strftime("%Y-%m"), "value": p.strftime("%Y-%m")} for p in services.cached("periods")]


def area_locator(services: Services) -> Callable[[str, float, float], str | None]:
    """The map-click rule every map's drill shares: the child of ``area`` (the top area when empty) under
    lon/lat, within the caller's scope; None outside it."""
    def locate(area: str, lon: float, lat: float) -> str | None:
        try:
            return services.repo.child_at(area or services.repo.root_code(), lon, lat)
        except ScopeError:
            return None
    return locate


def register(app: dash.Dash, services: Services) -> None:
    """Wire URL writes and the language-dependent labels. One click posts once here (the URL write); what
    only follows the URL's text (page links, the export link, the language) is computed in the browser."""

    def navigate(click, _cards, pick, search):  # noqa: ANN001, ANN202
        trigger = dash.callback_context.triggered_id
        if trigger is None:
            return no_update
        if isinstance(trigger, dict):
            value = dash.callback_context.triggered[0]["value"]
        elif trigger == ids.NAV_PICK:  # a selector the user changed (see the relay below)
            if not isinstance(pick, dict) or pick.get("id") not in (ids.INDICATOR_SELECT, ids.PERIOD_SELECT):
                return no_update
            trigger, value = pick["id"], pick.get("value")
        else:
            by_input = {ids.MAP: click}
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

    locate = area_locator(services)

    access.callback(
        app, DRILL,
        Output(ids.URL, "search"),
        # Optional: a page switched in place (the wall's rotation) leaves the cockpit's parts gone while the
        # language button stays; the cards' removal fires this callback, which must not fail for them.
        Input(ids.MAP, "clickData", allow_optional=True),
        Input(ids.kpi("card", ALL), "n_clicks"),
        Input(ids.NAV_PICK, "data", allow_optional=True),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )(navigate)

    # The language switch on its own: it is on every page, the map and the cockpit's selectors are not (a
    # callback whose Input is missing from the page fails in the browser when it fires).
    def switch_language(clicks, search):  # noqa: ANN001, ANN202
        return next_search(ids.LANG_TOGGLE, clicks, search) if clicks else no_update

    access.callback(
        app, DRILL,
        Output(ids.URL, "search", allow_duplicate=True),
        Input(ids.LANG_TOGGLE, "n_clicks"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )(switch_language)

    # The selectors show what the cockpit resolved (it writes them with each view, and keeps what it wrote
    # in VIEW_SENT's "shown"): only a value that differs from it was picked by the user and navigates. The
    # cockpit's own writes stop here, in the browser, instead of posting an echo of the URL.
    app.clientside_callback(
        """
        function(indicator, period, sent) {
            const trig = (window.dash_clientside.callback_context.triggered || [])[0];
            const none = window.dash_clientside.no_update;
            if (!trig) return none;
            const shown = (sent && sent.shown) || {};
            const isIndicator = trig.prop_id.startsWith('IND_ID.');
            const value = isIndicator ? indicator : period;
            if (value === null || value === undefined || value === (isIndicator ? shown.indicator : shown.period)) return none;
            return {id: isIndicator ? 'IND_ID' : 'PER_ID', value: value};
        }
        """.replace("IND_ID", ids.INDICATOR_SELECT).replace("PER_ID", ids.PERIOD_SELECT),
        Output(ids.NAV_PICK, "data"),
        Input(ids.INDICATOR_SELECT, "value"),
        Input(ids.PERIOD_SELECT, "value"),
        State(ids.VIEW_SENT, "data"),
        prevent_initial_call=True,
    )

    # The language of the URL, changed only when it differs from the one on screen: the labels (10 KB of
    # texts) travel on a language switch, not on every click.
    app.clientside_callback(
        """
        function(search, current) {
            const lang = new URLSearchParams(search || '').getAll('lang').pop() === 'en' ? 'en' : 'zh';
            return lang === current ? window.dash_clientside.no_update : lang;
        }
        """,
        Output(ids.VIEW_LANG, "data"),
        Input(ids.URL, "search"),
        State(ids.VIEW_LANG, "data"),
    )

    def labels(lang):  # noqa: ANN001, ANN202
        lang = "en" if lang == "en" else "zh"
        known = set(MESSAGES) | {f"page.{p['id']}" for p in services.cached("pages")}
        keys = inputs.output_keys(dash.callback_context.outputs_list[0], "key", known)
        root = services.cached("region", services.repo.root_code())
        title = screen_title(services.config.title, root, lang)
        return label_texts(services, keys, lang), t("lang_switch", lang), title, "zh-CN" if lang == "zh" else "en"

    def cockpit_options(lang):  # noqa: ANN001, ANN202
        lang = "en" if lang == "en" else "zh"
        return layer_options(lang), indicator_options(services, lang), period_options(services)

    # The page is built in its language (the layout request's Referer names it): no labels at load.
    access.callback(
        app, VIEW,
        Output(ids.label(ALL), "children"),
        Output(ids.LANG_TOGGLE, "children"),
        Output(ids.TITLE, "children"),
        Output(ids.ROOT, "lang"),
        Input(ids.VIEW_LANG, "data"),
        prevent_initial_call=True,
    )(labels)

    # Apart from the shell's labels: other pages have no cockpit controls, and a callback naming an
    # output that is missing from the page is an error in the browser.
    access.callback(
        app, VIEW,
        Output(ids.LAYERS, "options"),
        Output(ids.INDICATOR_SELECT, "options"),
        Output(ids.PERIOD_SELECT, "options"),
        Input(ids.VIEW_LANG, "data"),
    )(cockpit_options)

    # The export link carries the view's area, period and language (callbacks.export.kpis_href, in the
    # browser; the export route checks them again).
    app.clientside_callback(
        """
        function(search) {
            const q = new URLSearchParams(search || '');
            const last = (k) => { const v = q.getAll(k); return v.length ? v[v.length - 1] : ''; };
            const area = last('area'), period = last('period');
            const parts = [
                ['area', area === '' ? '' : (/^[A-Za-z0-9_.:-]{1,64}$/.test(area) ? area : '?')],
                ['period', /^[0-9]{4}-[0-9]{2}$/.test(period) ? period : ''],
                ['lang', last('lang') === 'en' ? 'en' : 'zh'],
            ];
            return '/export/kpis.csv?' + parts.filter(p => p[1]).map(p => p[0] + '=' + encodeURIComponent(p[1])).join('&');
        }
        """,
        Output(ids.EXPORT_KPIS, "href"),
        Input(ids.URL, "search"),
    )
