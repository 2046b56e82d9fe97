"""The leader's story at a glance (issue 11 item 6): the open-alert panel, the KPI cards' sub-area
badges ("3 镇街告警"), and, in the browser, the map layers kept in the URL and the legend of the layers
that are on.

On a view change or a new data version one post sends the panel and the badges (the parts that changed); the layer and legend callbacks run in the browser (no request)."""

from __future__ import annotations

import json

import dash
from dash import ALL, Input, Output, State
from dash.exceptions import PreventUpdate

from callbacks import access, inputs
from callbacks.cockpit import resolve_state
from callbacks.delta import items_delta, parts_delta
from callbacks.services import Services
from callbacks.state import ViewState, parse_search, to_search
from datasources.access.roles import VIEW
from layouts import ids
from layouts.alert_text import alert_summary
from layouts.leader import alert_panel_body, breach_text
from layouts.map_layers import LAYER_KEYS

ALERT_ITEMS = 40  # newest first within grade; the browser shows as many as the panel holds


def alert_panel_children(services: Services, state: ViewState) -> list:
    """The alert panel for the view's area: counts per grade I–IV of every open alert in it, then the
    most severe and newest ones, each linking to its own area's view (the rest of the view kept). Alerts
    are what is open now: with a past period selected the panel says so."""
    area = state.area or services.repo.root_code()
    counts = services.cached("open_alert_counts", area)
    alerts = services.cached("open_alerts", area, ALERT_ITEMS)
    indicators = {i["code"]: i for i in services.cached("indicators")}
    items = [a | {"text": alert_summary(a, state.lang, indicators)} for a in alerts]
    href = {a["region_code"]: "/" + to_search(state.with_(area=a["region_code"])) for a in alerts}
    periods = services.cached("periods")
    past = bool(periods and state.period_date() and state.period_date() < periods[0])
    return alert_panel_body(counts, items, state.lang, href, now=past)


def breach_badges(services: Services, state: ViewState, codes: list[str]) -> dict[str, list]:
    """Text, class and tooltip of the sub-area badge of each card in ``codes`` (for the view's area and
    period): how many child areas are at warning or alarm for that indicator."""
    region = services.cached("region", state.area)
    period = state.period_date()
    breaches = services.cached("child_breaches", state.area, period) if region["n_children"] and period else {}
    parts: dict[str, list] = {"text": [], "cls": [], "title": []}
    for code in codes:
        text, cls, title = breach_text(breaches.get(code), region["level"] + 1, state.lang)
        parts["text"].append(text)
        parts["cls"].append(cls)
        parts["title"].append(title)
    return parts


# Wiring only (ids, outputs, client-side JS), checked by the browser tests; not by mutation testing.
# pragma: no mutate block
def register(app: dash.Dash, services: Services) -> None:
    """Wire the alert panel and badges (server), the layers <-> URL sync and the legend (browser)."""

    def refresh(search, _version, sent):  # noqa: ANN001, ANN202
        outputs = dash.callback_context.outputs_list
        known = {i["code"] for i in services.cached("indicators") if i["headline"]}
        codes = inputs.output_keys(outputs[1], "code", known)
        state, _error = resolve_state(services, parse_search(search))
        parts: dict = {"alerts": alert_panel_children(services, state) if outputs[0] else []}
        badges = breach_badges(services, state, codes)
        old = sent[0] if isinstance(sent, list) and sent and isinstance(sent[0], dict) else None
        changed, hashes = parts_delta(parts, old)
        # Badges card by card: most cards have none before and after a drill, and 28 cards x 3 properties
        # with their ids were most of this answer.
        for part, key in (("breach_text", "text"), ("breach_cls", "cls"), ("breach_title", "title")):
            changed[part], hashes[part] = items_delta(badges[key], (old or {}).get(part))
        if old == hashes:  # nothing changed since the last send (a data version that touched none of it)
            raise PreventUpdate
        return ([changed["alerts"]] * len(outputs[0]), changed["breach_text"], changed["breach_cls"], changed["breach_title"],
                [hashes] * len(outputs[4]))

    # One post per view change for the panel and the badges. Every id is pattern-matching, so the callback
    # also serves a page with KPI cards and no panel (an output missing from a page is an error there).
    access.callback(
        app, VIEW,
        Output(ids.ALERT_PANEL | {"n": ALL}, "children"),
        Output(ids.kpi("breach", ALL), "children"), Output(ids.kpi("breach", ALL), "className"),
        Output(ids.kpi("breach", ALL), "title"),
        Output(ids.ALERT_PANEL_SENT | {"n": ALL}, "data"),
        Input(ids.URL, "search"), Input(ids.DATA_VERSION, "data"), State(ids.ALERT_PANEL_SENT | {"n": ALL}, "data"),
    )(refresh)

    # The layer picker and the URL hold the same layers. A bookmark or Back sets the picker from the URL
    # (unknown keys dropped; none left: the mode's layers); a switch in the picker (by hand or by the mode)
    # writes the URL, keeping the rest of the view. Same order and spelling as callbacks.state. Two callbacks
    # whose outputs are in the cockpit only (a callback with an input missing from another page fails there):
    # the URL is written with set_props.
    layers_js = """
        const KEYS = KNOWN;
        const named = (search) => (new URLSearchParams(search || '').getAll('layers').pop() || '').split(/[ ,]+/);
        const known = (list) => KEYS.filter(k => (list || []).includes(k));
        const same = (a, b) => a.length === b.length && a.every((k, i) => k === b[i]);
        const wanted = (search, fallback) => known(named(search)).length ? known(named(search)) : known(fallback);
    """.replace("KNOWN", json.dumps(list(LAYER_KEYS)))
    app.clientside_callback(
        "function(search, value, fallback) {" + layers_js + """
            const want = wanted(search, fallback);
            return same(want, known(value)) ? window.dash_clientside.no_update : want;
        }""",
        Output(ids.LAYERS, "value", allow_duplicate=True),
        Input(ids.URL, "search"),
        State(ids.LAYERS, "value"),
        State(ids.LAYERS_DEFAULT, "data"),
        prevent_initial_call="initial_duplicate",
    )
    app.clientside_callback(
        "function(value, search, fallback) {" + layers_js + """
            const current = known(value);
            if (!same(current, wanted(search, fallback))) {
                const q = new URLSearchParams(search || '');
                q.delete('layers');
                const rest = q.toString();
                window.dash_clientside.set_props('URL_ID', {search: '?' + (rest ? rest + '&' : '') + 'layers=' + current.join(',')});
            }
            return window.dash_clientside.no_update;
        }""".replace("URL_ID", ids.URL),
        Output(ids.LAYERS_SYNC, "data"),
        Input(ids.LAYERS, "value"),
        State(ids.URL, "search"),
        State(ids.LAYERS_DEFAULT, "data"),
        prevent_initial_call=True,
    )

    # The legend shows the layers that are on (every entry is in the page; no request).
    app.clientside_callback(
        """
        function(value) {
            const on = new Set(value || []);
            const items = window.dash_clientside.callback_context.outputs_list || [];
            return items.map(o => on.has(o.id.layer) ? {} : {display: 'none'});
        }
        """,
        Output(ids.legend_item(ALL), "style"),
        Input(ids.LAYERS, "value"),
    )
