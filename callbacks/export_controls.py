"""Callbacks of the export controls (``layouts/export_controls.py``), matched on the panel id.

- The PNG/SVG links follow the page's URL query (client side: no server round trip).
- CSV, XLSX and "export what I see" start an export job (permission ``export``; the filters and scope
  are checked before anything starts: a bad filter or an outside area shows its message instead).
- An interval polls the job (any worker can answer: progress lives in the database) and stops when it
  is done; the finished file's link then appears and is clicked for the user (client side)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import dash
from dash import ALL, MATCH, Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from callbacks import access, params
from callbacks import export as export_routes
from callbacks.services import Services
from datasources.access.roles import EXPORT
from datasources.analysis.filters import FilterError
from datasources.export import jobs
from datasources.repository import ScopeError
from layouts import ids
from layouts.i18n import t

#: The analyst page's drill store (what a chart click narrowed its records table to): the controls live on
#: that page only, so the store is always there when they are.
DRILL_STORE = getattr(ids, "ANALYST_DRILL", "analyst-drill")


def query_of(search: str | None) -> dict[str, str]:
    """The URL query of the page (``?a=1&b=2``) as a dict (the last value of a repeated key wins)."""
    return dict(parse_qsl((search or "").lstrip("?"), keep_blank_values=False))


def lang_of(query: dict[str, str]) -> str:
    return "en" if query.get("lang") == "en" else "zh"


def start_job(services: Services, triggered: dict | None, search: str | None, drill: Any = None) -> tuple[Any, ...]:
    """Start the job of the clicked button; returns (job store, poll disabled, status, progress hidden,
    progress value, file link hidden)."""
    if not triggered:
        return no_update, no_update, no_update, no_update, no_update, no_update
    query = query_of(search)
    lang = lang_of(query)
    kind, panel = triggered["kind"], triggered["panel"]
    try:
        job_id = export_routes.start_job(services, services.principal(), kind, None if kind == "zip" else panel, query,
                                         drill=drill)
    except (FilterError, params.ParamError) as exc:
        return None, True, t("export.failed", lang, error=str(exc)), True, "0", True
    except ScopeError:
        return None, True, t("export.failed", lang, error=t("unknown_area", lang)), True, "0", True
    return {"id": job_id, "lang": lang}, False, t("export.running", lang, done=0, total="…"), False, "0", True


def poll_job(services: Services, job: dict | None) -> tuple[Any, ...]:
    """Progress of the running job; returns (poll disabled, status, progress hidden, progress value,
    file link href, file link hidden)."""
    if not job:
        return True, no_update, no_update, no_update, no_update, no_update
    lang = job.get("lang", "zh")
    state = jobs.get(services.base_repo.engine, str(job.get("id", ""))[:32], services.principal().name)
    if state is None:
        return True, t("export.expired", lang), True, "0", "", True
    if state.status == "failed":
        return True, t("export.failed", lang, error=state.error), True, "0", "", True
    if state.status == "done":
        return (True, t("export.ready", lang, name=state.filename, rows=f"{state.rows_done:,}"), True, "1",
                f"/export/jobs/{state.id}/file", False)
    return (False, t("export.running", lang, done=f"{state.rows_done:,}", total=f"{state.rows_total:,}"), False,
            f"{state.fraction:.3f}", no_update, no_update)


def job_step(services: Services, trig: Any, clicks: list | None, job: dict | None, search: str | None,
             drill: Any = None) -> tuple[Any, ...]:
    """(job store, poll disabled, status, progress hidden, progress value, file href, file hidden) after a
    click on a start button (``trig`` is its id) or a poll tick."""
    if isinstance(trig, dict) and trig.get("type") == ids.EXPORT_START:
        if not any(clicks or []):
            return (no_update,) * 7
        store, disabled, status, hidden, value, file_hidden = start_job(services, dict(trig), search, drill)
        return store, disabled, status, hidden, value, "", file_hidden
    return (no_update, *poll_job(services, job))


def register(app: dash.Dash, services: Services) -> None:
    """The export controls' callbacks."""
    app.clientside_callback(
        """function(search) {
            const outs = dash_clientside.callback_context.outputs_list;
            return outs.map(o => `/export/panel/${encodeURIComponent(o.id.panel)}.${o.id.fmt}${search || ''}`);
        }""",
        Output({"type": ids.EXPORT_LINK, "panel": ALL, "fmt": ALL}, "href"),
        Input(ids.URL, "search"),
    )

    @access.callback(
        app, EXPORT,
        Output({"type": ids.EXPORT_JOB, "panel": MATCH}, "data"),
        Output({"type": ids.EXPORT_POLL, "panel": MATCH}, "disabled"),
        Output({"type": ids.EXPORT_STATUS, "panel": MATCH}, "children"),
        Output({"type": ids.EXPORT_PROGRESS, "panel": MATCH}, "hidden"),
        Output({"type": ids.EXPORT_PROGRESS, "panel": MATCH}, "value"),
        Output({"type": ids.EXPORT_FILE, "panel": MATCH}, "href"),
        Output({"type": ids.EXPORT_FILE, "panel": MATCH}, "hidden"),
        Input({"type": ids.EXPORT_START, "panel": MATCH, "kind": ALL}, "n_clicks"),
        Input({"type": ids.EXPORT_POLL, "panel": MATCH}, "n_intervals"),
        State({"type": ids.EXPORT_JOB, "panel": MATCH}, "data"),
        State(ids.URL, "search"),
        State(DRILL_STORE, "data"),
        prevent_initial_call=True,
    )
    def export_job(clicks: list, _n: int, job: dict | None, search: str | None, drill: Any):  # noqa: ANN202
        """A click starts a job; the interval polls it (one callback: each output has one writer)."""
        outs = dash.ctx.outputs_list
        if not isinstance(outs, list) or len(outs) != 7 or not all(isinstance(o, dict) for o in outs):
            raise PreventUpdate  # a post that names no panel's controls (never sent by the page)
        return job_step(services, dash.ctx.triggered_id, clicks, job, search, drill)

    # The finished file downloads by itself: click its link once per new href.
    app.clientside_callback(
        """function(href, clicked) {
            if (!href || href === clicked) { return dash_clientside.no_update; }
            const id = dash_clientside.callback_context.triggered_id
                || dash_clientside.callback_context.outputs_list.id;
            const key = JSON.stringify(id, Object.keys(id).sort());
            setTimeout(() => { const a = document.getElementById(key); if (a) { a.click(); } }, 50);
            return href;
        }""",
        Output({"type": ids.EXPORT_CLICKED, "panel": MATCH}, "data"),
        Input({"type": ids.EXPORT_FILE, "panel": MATCH}, "href"),
        State({"type": ids.EXPORT_CLICKED, "panel": MATCH}, "data"),
        prevent_initial_call=True,
    )
