"""Header: clock (client side, no server round trip), mode, data-as-of, open alerts, data version."""

from __future__ import annotations

import dash
from dash import Input, Output, State, no_update

from callbacks import access
from callbacks.services import Services
from callbacks.state import parse_search
from datasources.access.roles import VIEW
from datasources.repository import ScopeError
from layouts import ids
from layouts.i18n import t


def header_facts(services: Services, search: str | None) -> dict:
    """Mode label, data-as-of text and open-alert count of the selected area."""
    state = parse_search(search)
    root = services.repo.root_code()
    area = state.area or root
    try:
        alerts = services.cached("open_alert_count", area)
    except ScopeError:
        alerts = services.cached("open_alert_count", root)
    as_of = services.cached("data_as_of")
    return {
        "mode": t(f"mode.{state.mode}", state.lang),
        "as_of": as_of.strftime("%Y-%m-%d %H:%M") if as_of else "–",
        "alerts": f"{alerts:,}",
    }


def register(app: dash.Dash, services: Services) -> None:
    """Wire the clock, the header facts and the data-version poll."""
    app.clientside_callback(
        """
        function(n) {
            const d = new Date();
            const p = (x) => String(x).padStart(2, '0');
            return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
        }
        """,
        Output(ids.CLOCK, "children"),
        Input(ids.CLOCK_TICK, "n_intervals"),
    )

    def poll_version(_n, current):  # noqa: ANN001, ANN202
        """Cheap and idempotent (dcc.Interval may fire twice): only a changed version updates anything."""
        version = services.data_version()
        return no_update if version == current else version

    access.callback(app, VIEW, Output(ids.DATA_VERSION, "data"), Input(ids.REFRESH, "n_intervals"),
                    State(ids.DATA_VERSION, "data"), prevent_initial_call=True)(poll_version)

    def facts(search, _version):  # noqa: ANN001, ANN202
        f = header_facts(services, search)
        return f["mode"], f["as_of"], f["alerts"]

    access.callback(
        app, VIEW,
        Output(ids.MODE, "children"), Output(ids.AS_OF, "children"), Output(ids.ALERT_COUNT, "children"),
        Input(ids.URL, "search"), Input(ids.DATA_VERSION, "data"),
    )(facts)
