"""Header: mode, data-as-of, open alerts, data version. The clock is assets/clock.js (no Dash callback)."""

from __future__ import annotations

import dash
from dash import Input, Output, State, no_update
from flask import request

from callbacks import access, degrade
from callbacks.services import Services
from callbacks.state import is_past_period, parse_search
from datasources.access.roles import SWITCH_MODE, VIEW
from datasources.operations.modes import switch_mode
from datasources.repository import ScopeError
from layouts import ids
from layouts.i18n import pick, t
from layouts.shell import mode_options


def header_facts(services: Services, search: str | None) -> dict:
    """Mode (stored on the server: every screen shows the same), data-as-of text, open-alert count of the
    selected area, and how often to poll (the mode's interval)."""
    state = parse_search(search)
    mode = services.cached("mode_state")
    root = services.repo.root_code()
    area = state.area or root
    try:
        alerts = services.cached("open_alert_count", area)
    except ScopeError:
        alerts = services.cached("open_alert_count", root)
    as_of = services.cached("data_as_of")
    return {
        "mode": pick(state.lang, mode["name_zh"], mode["name_en"]) if mode.get("name_zh") else t(f"mode.{mode['mode']}", state.lang),
        "mode_value": mode["mode"],
        "mode_options": mode_options(mode, state.lang),
        "refresh_ms": int((mode.get("refresh_seconds") or services.config.refresh_seconds) * 1000),
        "header_class": f"ioc-header mode-{mode['mode']}",
        "as_of": as_of.strftime("%Y-%m-%d %H:%M") if as_of else "–",
        "alerts": t("now_count", state.lang, n=f"{alerts:,}") if is_past_period(state.period_date(), services.cached("periods"))
        else f"{alerts:,}",
    }


def register(app: dash.Dash, services: Services) -> None:
    """Wire the header facts and the data-version poll."""
    def poll_version(_n, current, status):  # noqa: ANN001, ANN202
        """Cheap and idempotent (dcc.Interval may fire twice): only a changed version updates anything.
        After an outage (``callbacks.degrade``) the version is sent again even if unchanged, so every panel
        redraws what its URL says, and the status goes back to ok (the banner goes)."""
        version = services.data_version()
        if degrade.is_degraded(status):
            return version, degrade.ok_status()
        return (no_update if version == current else version), no_update

    access.callback(app, VIEW, Output(ids.DATA_VERSION, "data"), Output(ids.DATA_STATUS, "data"),
                    Input(ids.REFRESH, "n_intervals"), State(ids.DATA_VERSION, "data"), State(ids.DATA_STATUS, "data"),
                    prevent_initial_call=True)(poll_version)

    def facts(search, _version, shown_mode):  # noqa: ANN001, ANN202
        f = header_facts(services, search)
        # The selector's value changes only with the mode: the cockpit reorders its layers on that change.
        mode_value = no_update if f["mode_value"] == shown_mode else f["mode_value"]
        return f["mode"], f["as_of"], f["alerts"], mode_value, f["mode_options"], f["refresh_ms"], f["header_class"]

    access.callback(
        app, VIEW,
        Output(ids.MODE, "children"), Output(ids.AS_OF, "children"), Output(ids.ALERT_COUNT, "children"),
        Output(ids.MODE_SELECT, "value"), Output(ids.MODE_SELECT, "options"), Output(ids.REFRESH, "interval"),
        Output(ids.HEADER, "className"),
        Input(ids.URL, "search"), Input(ids.DATA_VERSION, "data"), State(ids.MODE_SELECT, "value"),
    )(facts)

    def switch(mode, _shown):  # noqa: ANN001, ANN202
        """Switch the city's operating mode (permission, audit and version bump in the use case); every
        screen follows on its next poll, this one at once."""
        state = services.cached("mode_state")
        if not isinstance(mode, str) or mode == state["mode"] or mode not in {m["mode"] for m in state["modes"]}:
            return no_update  # a posted value no selector offers is not an error of the server
        switch_mode(services.base_repo.engine, services.principal(), mode, ip=request.remote_addr or "")
        return services.base_repo.data_version()

    access.callback(
        app, SWITCH_MODE,
        Output(ids.DATA_VERSION, "data", allow_duplicate=True),
        Input(ids.MODE_SELECT, "value"), State(ids.DATA_VERSION, "data"),
        prevent_initial_call=True,
    )(switch)
