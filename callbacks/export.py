"""Export routes: only for callers with the ``export`` permission, only within their scope, each one
written to the audit log.

- ``/export/kpis.csv?area&period&lang``: the cockpit's KPI cards.
- ``/export/panel/<panel>.<csv|xlsx|png|svg>?<filters>&lang``: one analyst panel's rows (streamed) or its
  figure rendered on the server with title, areas, filters and data time printed on it.
- ``/export/view.zip?<filters>&lang``: "export what I see" in one request (scripts; the page uses jobs).
- ``/export/jobs/<id>`` (progress as JSON) and ``/export/jobs/<id>/file`` (the finished file): the jobs the
  page's export buttons start (``callbacks/export_controls.py``; see ``datasources.export.jobs``).

The filters come from the URL through ``AnalysisFilters.from_query``: a bad one is a 400 naming the
parameter; an area unknown or outside the caller's scope is a 404 naming ``areas``. Each panel's query
is filtered by the caller's scope in SQL."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from urllib.parse import quote, urlencode

import dash
import flask
from flask import Blueprint, request

from callbacks import params
from callbacks.auth import client_ip
from callbacks.services import Services
from callbacks.state import ViewState
from config import INSTANCE
from datasources.access import audit
from datasources.access.roles import EXPORT, Principal
from datasources.analysis.filters import FilterError
from datasources.export import jobs, service, tabular
from datasources.export.images import ImageError
from datasources.repository import ScopeError
from datasources.rules import is_category
from layouts.i18n import pick, t

MIMETYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "png": "image/png",
    "svg": "image/svg+xml",
    "zip": "application/zip",
}
#: Parameters of an export URL that are not filters.
NON_FILTER_PARAMS = ("lang", "panel")


def kpis_href(state: ViewState) -> str:
    """Link of the KPI export of a view (area, period, language)."""
    q = {"area": state.area, "period": state.period, "lang": state.lang}
    return "/export/kpis.csv?" + "&".join(f"{k}={quote(v)}" for k, v in q.items() if v)


def kpi_table(services: Services, area: str, period: date, lang: str) -> tuple[list[str], list[list]]:
    """The KPI cards of an area and month as (header, rows) with readable headers (in ``lang``)."""
    region = services.cached("region", area)
    rows = services.cached("kpi_values", area, period)
    head = [t(f"export.{c}", lang) for c in ("area", "area_code", "code", "indicator", "period", "value", "unit",
                                             "previous", "change", "last_year", "yoy", "status")]
    name = pick(lang, region["name"], region["name_en"])
    data = [
        [name, area, k.code, pick(lang, k.name_zh, k.name_en), k.period.strftime("%Y-%m") if k.period else "",
         k.value, pick(lang, k.unit, k.unit_en), k.previous, _pct(k, k.previous), k.last_year,
         _pct(k, k.last_year), t(f"status.kpi.{k.status}", lang)]
        for k in rows
    ]
    return head, data


def _pct(k, other: float | None) -> float | None:  # noqa: ANN001 - a repository Kpi
    """The change in percent, as on the card; none for a category indicator (a grade has no percentage)."""
    x = None if is_category(k.unit) else k.change(other)
    return None if x is None else round(x * 100, 1)


def panels() -> Mapping[str, service.PanelLike]:
    """The analyst page's panels, by id."""
    from datasources.analysis.panels import PANELS

    return PANELS


def export_folder(services: Services) -> Path:
    """Where job files go (``Config.export_dir``, default ``instance/exports``)."""
    return Path(services.config.export_dir or INSTANCE / "exports")


def filter_query(args: Mapping[str, str]) -> dict[str, str]:
    """The filter parameters of a query (page and export parameters left out)."""
    return {k: v for k, v in args.items() if k not in NON_FILTER_PARAMS}


def filename(view: service.ExportView, stem: str, ext: str) -> str:
    """``<stem>-<first area>-<from>_<to>.<ext>``."""
    f = view.resolved
    period = "_".join(d.strftime("%Y%m") for d in (f.period_from, f.period_to) if d)
    return f"{stem}-{view.areas()[0]}{'-' + period if period else ''}.{ext}"


def attachment(resp: flask.Response, name: str) -> flask.Response:
    """Mark a response as a download named ``name`` (UTF-8 safe), never cached."""
    resp.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def record(services: Services, principal: Principal, what: str, view: service.ExportView | None, fmt: str, rows: int,
           outcome: str = "ok", ip: str | None = None, note: str = "") -> None:
    """The audit entry of an export: who, which panel, the filters, how many rows, which format."""
    query = urlencode(view.filters.to_query()) if view is not None else ""
    detail = f"format={fmt}; rows={rows}; filters={query or '-'}; scope={principal.scope or '-'}" + (f"; {note}" if note else "")
    audit.record(services.base_repo.engine, "export", principal.name, outcome=outcome, target=f"{what}.{fmt}",
                 ip=client_ip() if ip is None else ip, detail=detail)


def export_lang(args: Mapping[str, str]) -> str:
    """``lang`` of an export query: zh (default) or en; anything else is a 400 naming it."""
    raw = args.get("lang") or "zh"
    if raw not in ("zh", "en"):
        raise params.ParamError("lang", "one of zh, en")
    return raw


def open_view(services: Services, principal: Principal, args: Mapping[str, str]) -> service.ExportView:
    """The caller's view from a URL query (FilterError / ScopeError for bad or outside input)."""
    return service.open_view(services.repo, principal.name, filter_query(args), export_lang(args))


def start_job(services: Services, principal: Principal, kind: str, panel_id: str | None, query: Mapping[str, str],
              background: bool = True, drill: Mapping | None = None) -> str:
    """Start an export job (kind zip, or csv/xlsx of ``panel_id``) for the caller's view (``drill``: the
    page's drill store, which narrows its records table); returns its id. Raises FilterError / ScopeError /
    KeyError (unknown panel) before anything starts."""
    view = service.open_view(services.repo, principal.name, filter_query(query), export_lang(query), drill)
    engine = services.base_repo.engine
    ip = client_ip() if flask.has_request_context() else ""
    if kind == "zip":
        chosen = list(panels().values())
        total = service.bundle_total(view, chosen)
        name = filename(view, "view", "zip")

        def work(path: Path, progress) -> int:  # noqa: ANN001
            return service.write_bundle(view, chosen, path, progress)
        what = "view"
    elif kind in service.TABLE_FORMATS:
        panel = panels()[panel_id]
        total = service.count(view, panel)
        name = filename(view, panel.id, kind)

        def work(path: Path, progress) -> int:  # noqa: ANN001
            return service.write_panel_file(view, panel, kind, str(path), progress)
        what = panel.id
    else:
        raise ValueError(f"unknown export kind {kind!r}")

    def finished(state: jobs.JobState) -> None:
        record(services, principal, what, view, kind, state.rows_done, "ok" if state.status == "done" else "failed",
               ip=ip, note=f"job={state.id}" + (f"; error={state.error}" if state.error else ""))

    return jobs.start(
        engine, export_folder(services), username=principal.name, scope=principal.scope, kind=kind, panel=panel_id,
        query=urlencode(view.filters.to_query()), lang=view.lang, filename=name, rows_total=total, work=work,
        on_finish=finished, background=background,
    )


def register(app: dash.Dash, services: Services) -> None:
    """The export routes."""
    server = app.server
    bp = Blueprint("export", __name__, url_prefix="/export")

    @bp.errorhandler(FilterError)
    def bad_filter(exc: FilterError):  # noqa: ANN202
        return flask.jsonify(error=str(exc), parameter=exc.param), 400

    @bp.errorhandler(params.ParamError)
    def bad_param(exc: params.ParamError):  # noqa: ANN202
        return flask.jsonify(error=exc.description, parameter=exc.parameter), 400

    @bp.errorhandler(ScopeError)
    def outside(_exc: ScopeError):  # noqa: ANN202
        return flask.jsonify(error="an area of the filters is unknown or outside your scope: nothing exported",
                             parameter="areas"), 404

    @bp.get("/kpis.csv")
    def kpis_csv():  # noqa: ANN202
        principal = services.require(EXPORT)
        lang = params.choice("lang", "zh", ("zh", "en"))
        area = params.area(services.repo.root_code())
        periods = services.cached("periods")
        period = params.period(periods[0] if periods else None)
        if period is None:
            return flask.jsonify(error="no data yet"), 404
        head, data = kpi_table(services, area, period, lang)
        audit.record(services.base_repo.engine, "export", principal.name, target=f"kpis.csv {area} {period:%Y-%m}",
                     ip=client_ip(), detail=f"format=csv; rows={len(data)}; area={area}; period={period:%Y-%m}; lang={lang}")
        resp = flask.Response(tabular.csv_bytes(head, data), mimetype="text/csv")
        return attachment(resp, f"kpi-{area}-{period:%Y-%m}.csv")

    @bp.get("/panel/<panel_id>.<fmt>")
    def panel_export(panel_id: str, fmt: str):  # noqa: ANN202
        principal = services.require(EXPORT)
        if fmt not in service.FORMATS:
            raise params.ParamError("format", f"one of {', '.join(service.FORMATS)}")
        panel = panels().get(panel_id)
        if panel is None:
            return flask.jsonify(error=f"unknown panel {panel_id[:64]!r}", parameter="panel"), 404
        view = open_view(services, principal, request.args)
        name = filename(view, panel.id, fmt)
        if fmt == "csv":
            n = service.count(view, panel)
            record(services, principal, panel.id, view, fmt, n)
            resp = flask.Response(service.csv_chunks(view, panel), mimetype=MIMETYPES[fmt])
            return attachment(resp, name)
        if fmt == "xlsx":
            folder = jobs.export_dir(export_folder(services))
            with tempfile.NamedTemporaryFile(dir=folder, suffix=".xlsx", delete=False) as tmp:
                path = Path(tmp.name)
            try:
                n = service.write_panel_file(view, panel, fmt, str(path))
                record(services, principal, panel.id, view, fmt, n)
                return attachment(_file_response(path, MIMETYPES[fmt], delete=True), name)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        try:
            body = service.panel_image(view, panel, fmt)
        except service.NoFigure:
            return flask.jsonify(error=f"panel {panel.id!r} has no chart to export as {fmt}", parameter="format"), 404
        except ImageError as exc:
            return flask.jsonify(error=str(exc)), 503
        record(services, principal, panel.id, view, fmt, 0)
        return attachment(flask.Response(body, mimetype=MIMETYPES[fmt]), name)

    @bp.get("/view.zip")
    def view_zip():  # noqa: ANN202
        principal = services.require(EXPORT)
        args = dict(request.args)
        job_id = start_job(services, principal, "zip", None, args, background=False)
        state = jobs.get(services.base_repo.engine, job_id, principal.name)
        if state is None or state.status != "done":
            return flask.jsonify(error=f"export failed: {state.error if state else 'job lost'}"), 500
        return attachment(_file_response(Path(state.path), MIMETYPES["zip"]), state.filename)

    @bp.get("/jobs/<job_id>")
    def job_state(job_id: str):  # noqa: ANN202
        principal = services.require(EXPORT)
        state = jobs.get(services.base_repo.engine, job_id[:32], principal.name)
        if state is None:
            return flask.jsonify(error="no such export (expired, or started by someone else)"), 404
        return {"id": state.id, "status": state.status, "rows_done": state.rows_done, "rows_total": state.rows_total,
                "fraction": state.fraction, "filename": state.filename, "size": state.size, "error": state.error,
                "file": f"/export/jobs/{state.id}/file" if state.status == "done" else None}

    @bp.get("/jobs/<job_id>/file")
    def job_file(job_id: str):  # noqa: ANN202
        principal = services.require(EXPORT)
        state = jobs.get(services.base_repo.engine, job_id[:32], principal.name)
        if state is None or state.status != "done" or not Path(state.path).is_file():
            return flask.jsonify(error="no such export file (not finished, expired, or started by someone else)"), 404
        ext = Path(state.filename).suffix.lstrip(".")
        return attachment(_file_response(Path(state.path), MIMETYPES.get(ext, "application/octet-stream")), state.filename)

    server.register_blueprint(bp)

    from callbacks import export_controls  # its callbacks use this module's start_job

    export_controls.register(app, services)


def _file_response(path: Path, mimetype: str, delete: bool = False) -> flask.Response:
    """A file streamed from disk with its Content-Length (deleted once sent when ``delete``)."""
    size = path.stat().st_size
    f = path.open("rb")

    def chunks():  # noqa: ANN202
        try:
            while block := f.read(256 * 1024):
                yield block
        finally:
            f.close()
            if delete:
                path.unlink(missing_ok=True)

    resp = flask.Response(chunks(), mimetype=mimetype, direct_passthrough=True)
    resp.headers["Content-Length"] = str(size)
    return resp
