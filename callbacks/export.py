"""Exports of what a screen shows, as files: only for callers with the ``export`` permission, only within
their scope, each one written to the audit log. CSV is UTF-8 with a BOM so that Excel opens Chinese
text; cells that a spreadsheet would run as a formula are quoted."""

from __future__ import annotations

from urllib.parse import quote

import dash
import flask
import pandas as pd

from callbacks import params
from callbacks.auth import client_ip
from callbacks.services import Services
from callbacks.state import ViewState
from datasources.access import audit
from datasources.access.roles import EXPORT
from layouts.i18n import pick, t

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def kpis_href(state: ViewState) -> str:
    """Link of the KPI export of a view (area, period, language)."""
    q = {"area": state.area, "period": state.period, "lang": state.lang}
    return "/export/kpis.csv?" + "&".join(f"{k}={quote(v)}" for k, v in q.items() if v)


def kpi_table(services: Services, area: str, period, lang: str) -> pd.DataFrame:  # noqa: ANN001
    """The KPI cards of an area and month as a table with readable headers (in ``lang``)."""
    region = services.cached("region", area)
    rows = services.cached("kpi_values", area, period)
    cols = [t(f"export.{c}", lang) for c in ("area", "area_code", "code", "indicator", "period", "value", "unit",
                                             "previous", "change", "last_year", "yoy", "status")]
    name = pick(lang, region["name"], region["name_en"])
    data = [
        [name, area, k.code, pick(lang, k.name_zh, k.name_en), k.period.strftime("%Y-%m") if k.period else "",
         k.value, pick(lang, k.unit, k.unit_en), k.previous, _pct(k.change(k.previous)), k.last_year,
         _pct(k.change(k.last_year)), t(f"status.kpi.{k.status}", lang)]
        for k in rows
    ]
    return pd.DataFrame(data, columns=cols)


def csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV in UTF-8 with BOM; text cells that start like a formula get a leading apostrophe."""
    safe = df.copy()
    for col in safe.columns:
        if safe[col].dtype == object:
            safe[col] = safe[col].map(lambda v: f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_START) else v)
    return safe.to_csv(index=False).encode("utf-8-sig")


def _pct(x: float | None) -> float | None:
    return None if x is None else round(x * 100, 1)


def register(app: dash.Dash, services: Services) -> None:
    """The export routes."""

    @app.server.get("/export/kpis.csv")
    def kpis_csv():  # noqa: ANN202
        principal = services.require(EXPORT)
        lang = params.choice("lang", "zh", ("zh", "en"))
        area = params.area(services.repo.root_code())
        periods = services.cached("periods")
        period = params.period(periods[0] if periods else None)
        if period is None:
            return flask.jsonify(error="no data yet"), 404
        df = kpi_table(services, area, period, lang)
        audit.record(services.base_repo.engine, "export", principal.name, target=f"kpis.csv {area} {period:%Y-%m}",
                     ip=client_ip(), detail=f"{len(df)} rows, lang={lang}")
        filename = f"kpi-{area}-{period:%Y-%m}.csv"
        resp = flask.Response(csv_bytes(df), mimetype="text/csv")
        resp.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        resp.headers["Cache-Control"] = "no-store"
        return resp
