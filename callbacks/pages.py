"""Theme pages (``/theme/<id>``) and topic pages (``/topic/<id>``): the "5 + N" of Pengzhou's "1+5+N".

A theme page is every indicator of the theme as KPI cards, the map, a trend, a ranking of the child areas
and the indicator's details; a topic page is the panels the catalog lists for it (``topic_panels.csv``).
Both are lists of panels of the kinds in ``callbacks.panel_kinds``. The view (area, period, picked
indicator, language) lives in the URL like the cockpit's; a map click drills, a KPI card or a picker picks
the indicator, a ranking row or the breadcrumb moves between areas. The header's page menu is wired here.
"""

from __future__ import annotations

import functools
from datetime import datetime

import dash
from dash import ALL, Input, Output, State, no_update

from callbacks import access, inputs
from callbacks.cockpit import breadcrumb, map_patch, resolve_state
from callbacks.navigation import area_locator, next_search
from callbacks.panel_kinds import KINDS, PageView, panel_indicator
from callbacks.router import PageSpec, UnknownPage
from callbacks.services import Services
from callbacks.state import parse_search, to_search
from datasources.access.roles import DRILL, VIEW
from layouts import ids
from layouts import panel_kinds as skeletons
from layouts.i18n import pick, t
from layouts.shell import page_path

#: Point layers of a theme page's map (alerts of the area; the theme's own layers are the topics' business).
THEME_LAYERS = ["alerts"]


def now() -> datetime:
    """The time open and overdue counts are taken at."""
    return datetime.now().replace(microsecond=0)


# ---------------------------------------------------------------------------------------------- page specs
def theme_panels(theme: str, indicators: list[dict]) -> list[dict]:
    """The panels of a theme page: every indicator of the theme as KPI cards, the map, the trend, the
    ranking and the details of the picked indicator (headline indicators first in the choices)."""
    codes = [i["code"] for i in sorted((i for i in indicators if i["theme"] == theme), key=lambda i: (not i["headline"], i["code"]))]
    return [
        {"kind": "kpis", "indicators": codes},
        {"kind": "map", "indicators": codes, "layers": THEME_LAYERS},
        {"kind": "trend", "indicators": codes},
        {"kind": "ranking", "indicators": codes},
        {"kind": "detail", "indicators": codes},
    ]


def page_panels(services: Services, path: str | None) -> tuple[dict, list[dict]] | None:
    """The catalog page at ``path`` (``/theme/<id>`` or ``/topic/<id>``) and its panels, or None."""
    parts = (path or "").strip("/").split("/")
    if len(parts) != 2:
        return None
    kind, page_id = parts
    page = next((p for p in services.cached("pages") if p["kind"] == kind and p["id"] == page_id), None)
    if page is None:
        return None
    if kind == "theme":
        return page, theme_panels(page_id, services.cached("indicators"))
    return page, [p for p in services.cached("topic_panels") if p["topic"] == page_id]


def default_pick(services: Services, panels: list[dict], deepest: bool = False) -> str:
    """The page's indicator when the URL names none of its own: the first a chart shows (a topic's author
    ordered them), else the first card's. With ``deepest`` (theme pages, headlines first) the first that
    exists at the deepest level any of them reaches, so the map and the ranking have values after every drill."""
    charted = [c for p in panels if p["kind"] in ("map", "trend", "ranking") for c in p.get("indicators") or []]
    codes = charted or [c for p in panels for c in p.get("indicators") or []]
    if not deepest:
        return codes[0] if codes else ""
    levels = {i["code"]: i["level"] for i in services.cached("indicators")}
    bottom = max((levels.get(c, 0) for c in codes), default=0)
    return next((c for c in codes if levels.get(c, 0) == bottom), "")


def page_view(services: Services, path: str, search: str | None, panels: list[dict]) -> tuple[PageView, str | None]:
    """The resolved view of a page (area within the caller's scope, period with data, the page's picked
    indicator) and an error message key when the URL's area had to be replaced."""
    state, error = resolve_state(services, parse_search(search))
    universe = {c for p in panels for c in p.get("indicators") or []}
    asked = parse_search(search).indicator
    theme = path.strip("/").startswith("theme/")
    state = state.with_(indicator=asked if asked in universe else default_pick(services, panels, deepest=theme))
    return PageView(state, path, services.cached("region", state.area), now()), error


def catalog_page(services: Services, kind: str, ctx: dict, lang: str, id: str) -> list:  # noqa: A002
    """The body of ``/<kind>/<id>``: the page frame with each panel's skeleton (the page callback fills them).
    Raises UnknownPage for an id the catalog does not have as a page of that kind."""
    found = page_panels(services, f"/{kind}/{id}")
    if found is None:
        raise UnknownPage(f"no {kind} page {id!r}")
    page, panels = found
    names = {i["code"]: i for i in services.cached("indicators")}
    sections = []
    for idx, panel in enumerate(panels):
        options = [{"label": pick(lang, names[c]["name_zh"], names[c]["name_en"]), "value": c}
                   for c in panel.get("indicators") or [] if c in names]
        sections.append(KINDS[panel["kind"]].layout(panel, idx, lang, options, ctx))
    periods = [{"label": p.strftime("%Y-%m"), "value": p.strftime("%Y-%m")} for p in services.cached("periods")]
    title = pick(lang, page["name_zh"], page["name_en"])
    return skeletons.page_frame(title, sections, periods, lang, note="" if panels else t("pages.no_panels", lang))


def page_specs(services: Services) -> dict[str, PageSpec]:
    """The router's entries of the theme and topic pages (paths with a template segment)."""
    return {
        kind: PageSpec(kind, f"/{kind}/<id>", functools.partial(catalog_page, services, kind))
        for kind in ("theme", "topic")
    }


# ---------------------------------------------------------------------------------------------- rendering
def render_page(
    services: Services, path: str, search: str | None, body_idx: list[int], pick_idx: list[int], title_idx: list[int] | None = None
) -> tuple:
    """Everything a page shows but its map, for the view in ``search``: the bodies of the panels numbered
    ``body_idx``, the values of the pickers numbered ``pick_idx``, the period, the breadcrumb, the area
    title, then what follows the language: the titles of the panels numbered ``title_idx``, the pickers'
    options and the page's title. Plain function: tests call it."""
    title_idx = title_idx or []
    found = page_panels(services, path)
    if found is None:
        return ([no_update] * len(body_idx), [no_update] * len(pick_idx), no_update, no_update, no_update,
                [no_update] * len(title_idx), [no_update] * len(pick_idx), no_update)
    page, panels = found
    view, error = page_view(services, path, search, panels)
    bodies = [KINDS[panels[k]["kind"]].data(services, view, panels[k]) if k < len(panels) else [] for k in body_idx]
    picks = [panel_indicator(panels[k], view.state.indicator) if k < len(panels) else None for k in pick_idx]
    lang = view.state.lang
    crumb = breadcrumb(services.cached("ancestors", view.state.area), view.state, path)
    area = [pick(lang, view.region["name"], view.region["name_en"])]
    if error:
        area.append(" · " + t("error", lang, reason=t(error, lang)))
    titles = [skeletons.panel_title(panels[k], lang) if k < len(panels) else "" for k in title_idx]
    names = {i["code"]: i for i in services.cached("indicators")}
    options = [[{"label": pick(lang, names[c]["name_zh"], names[c]["name_en"]), "value": c}
                for c in (panels[k].get("indicators") or []) if c in names] if k < len(panels) else [] for k in pick_idx]
    return bodies, picks, view.state.period, crumb, area, titles, options, pick(lang, page["name_zh"], page["name_en"])


def render_map(services: Services, path: str, search: str | None, size: dict | None) -> object:
    """The map update of a page with a map panel: the cockpit's ``map_patch`` for the panel's indicator and
    layers at the view's area and period."""
    found = page_panels(services, path)
    panel = next((p for p in found[1] if p["kind"] == "map"), None) if found else None
    if panel is None:
        return no_update
    view, _ = page_view(services, path, search, found[1])
    code = panel_indicator(panel, view.state.indicator)
    ind = next(i for i in services.cached("indicators") if i["code"] == code)
    rows = services.cached("child_values", code, view.state.area, view.period)
    bounds = services.cached("bounds", view.state.area)
    return map_patch(services, view.state.with_(indicator=code), view.region, ind, rows, bounds, set(panel.get("layers") or []), size or {})


def picked_search(services: Services, path: str, search: str | None, trigger: dict | str, value: object) -> object:
    """The URL query after a picker or the period selector changed, or ``no_update`` when the value is what
    the page shows already (the page callback writes the pickers: their echo must not navigate)."""
    found = page_panels(services, path)
    if found is None or not isinstance(value, str):
        return no_update
    view, _ = page_view(services, path, search, found[1])
    if trigger == ids.PAGE_PERIOD:
        if value == view.state.period or not parse_search(f"?period={value}").period:
            return no_update
        return to_search(parse_search(search).with_(period=value))
    idx = trigger.get("idx") if isinstance(trigger, dict) else None
    if not isinstance(idx, int) or not 0 <= idx < len(found[1]):
        return no_update
    panel = found[1][idx]
    if value == panel_indicator(panel, view.state.indicator) or value not in (panel.get("indicators") or []):
        return no_update
    return to_search(parse_search(search).with_(indicator=value))


# Wiring only (ids, outputs, client-side JS), checked by the browser tests.
def register(app: dash.Dash, services: Services) -> None:
    """Wire the pages' panels, their map, their navigation and the header's page menu."""

    def render(search, _version, pathname):  # noqa: ANN001, ANN202
        outs = dash.callback_context.outputs_list
        body_idx = [o["id"]["idx"] for o in outs[0]]
        pick_idx = [o["id"]["idx"] for o in outs[1]]
        title_idx = [o["id"]["idx"] for o in outs[5]]
        return render_page(services, inputs.text(pathname, 256), search, body_idx, pick_idx, title_idx)

    access.callback(
        app, VIEW,
        Output(ids.panel("body", ALL), "children"),
        Output(ids.panel("pick", ALL), "value"),
        Output(ids.PAGE_PERIOD, "value"),
        Output(ids.PAGE_CRUMB, "children"),
        Output(ids.PAGE_AREA, "children"),
        Output(ids.panel("title", ALL), "children"),
        Output(ids.panel("pick", ALL), "options"),
        Output(ids.PAGE_TITLE, "children"),
        Input(ids.URL, "search"),
        Input(ids.DATA_VERSION, "data"),
        State(ids.URL, "pathname"),
    )(render)

    def draw_map(search, _version, size, pathname):  # noqa: ANN001, ANN202
        return render_map(services, inputs.text(pathname, 256), search, inputs.map_size(size))

    access.callback(
        app, VIEW,
        Output(ids.PAGE_MAP, "figure"),
        Input(ids.URL, "search"),
        Input(ids.DATA_VERSION, "data"),
        Input(ids.PAGE_MAP_SIZE, "data"),
        State(ids.URL, "pathname"),
    )(draw_map)

    def picked(_picks, _period, search, pathname):  # noqa: ANN001, ANN202
        trigger = dash.callback_context.triggered_id
        if trigger is None:
            return no_update
        value = dash.callback_context.triggered[0]["value"]
        return picked_search(services, inputs.text(pathname, 256), search, trigger, value)

    access.callback(
        app, DRILL,
        Output(ids.URL, "search", allow_duplicate=True),
        Input(ids.panel("pick", ALL), "value"),
        Input(ids.PAGE_PERIOD, "value"),
        State(ids.URL, "search"),
        State(ids.URL, "pathname"),
        prevent_initial_call=True,
    )(picked)

    locate = area_locator(services)

    def drill(click, search):  # noqa: ANN001, ANN202
        return next_search(ids.MAP, click, search, locate)  # the cockpit's drill rule, on this page's map

    access.callback(
        app, DRILL,
        Output(ids.URL, "search", allow_duplicate=True),
        Input(ids.PAGE_MAP, "clickData"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )(drill)

    # The map's pixel size, measured in the browser at load and after a window resize (the server fits
    # the view to it, as on the cockpit).
    app.clientside_callback(
        """
        function(_pathname) {
            const measure = () => {
                const el = document.getElementById('MAP_ID');
                const r = el ? el.getBoundingClientRect() : {width: 1000, height: 760};
                return {w: Math.round(r.width), h: Math.round(r.height), vh: window.innerHeight};
            };
            if (!window.__iocPageMapResize) {
                window.__iocPageMapResize = true;
                let timer = null;
                window.addEventListener('resize', () => {
                    clearTimeout(timer);
                    timer = setTimeout(() => {
                        if (document.getElementById('MAP_ID')) window.dash_clientside.set_props('SIZE_ID', {data: measure()});
                    }, 200);
                });
            }
            return measure();
        }
        """.replace("MAP_ID", ids.PAGE_MAP).replace("SIZE_ID", ids.PAGE_MAP_SIZE),
        Output(ids.PAGE_MAP_SIZE, "data"),
        Input(ids.URL, "pathname"),
    )

    # The header's page menu, in the browser: links carry the current query, names follow the language.
    app.clientside_callback(
        """
        function(search, menuIds) {
            return (menuIds || []).map(i => '/' + i.kind + '/' + i.page + (search || ''));
        }
        """,
        Output(ids.menu_link(ALL, ALL), "href"),
        Input(ids.URL, "search"),
        State(ids.menu_link(ALL, ALL), "id"),
    )

    app.clientside_callback(
        """
        function(lang, names, textIds) {
            const key = lang === 'en' ? 'en' : 'zh';
            return (textIds || []).map(i => ((names || {})[i.page] || {})[key] || i.page);
        }
        """,
        Output(ids.menu_text(ALL), "children"),
        Input(ids.VIEW_LANG, "data"),
        State(ids.PAGE_MENU_NAMES, "data"),
        State(ids.menu_text(ALL), "id"),
        prevent_initial_call=True,
    )


__all__ = ["catalog_page", "page_path", "page_specs", "register", "render_map", "render_page", "theme_panels"]
