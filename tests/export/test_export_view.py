""""Export what I see": the ZIP holds every panel's data (the same bytes as the panel's own export) and
image, and a manifest that describes the filters exactly; images carry title, areas and filters; a
township officer's export holds only the township; a job started by one worker is polled and
downloaded through another, and expires."""

from __future__ import annotations

import csv
import io
import json
import struct
import time
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from flask import g

from callbacks import export as export_routes
from callbacks import export_controls
from datasources.access.roles import Principal
from datasources.analysis.filters import AnalysisFilters, FilterCatalog
from datasources.analysis.panels import PANELS
from datasources.export import jobs
from datasources.models import from_epoch, to_epoch
from datasources.repository import ScopeError
from layouts import ids


def png_size(body: bytes) -> tuple[int, int]:
    assert body[:8] == b"\x89PNG\r\n\x1a\n" and body[12:16] == b"IHDR"
    return struct.unpack(">II", body[16:24])


def csv_region_codes(body: bytes, column: str = "区域代码") -> set[str]:
    return {r[column] for r in csv.DictReader(io.StringIO(body.decode("utf-8-sig")))}


def test_the_view_zip_holds_every_panel_and_a_manifest_with_the_exact_filters(city_sqlite):
    city = city_sqlite
    areas = [city.towns[0], city.children[city.towns[1]][0]]
    query = {"areas": ",".join(areas), "from": "2026-01", "to": "2026-06", "theme": "economy",
             "ind": "eco_gdp,eco_retail_sales", "src": "hotline", "sev": "1,2", "cmp": "mom"}
    client = city.client("analyst")
    resp = client.get(f"/export/view.zip?{urlencode(query)}")
    assert resp.status_code == 200 and int(resp.headers["Content-Length"]) == len(resp.data)
    zf = zipfile.ZipFile(io.BytesIO(resp.data))
    names = set(zf.namelist())
    for k, pid in enumerate(PANELS, start=1):
        assert {f"{k:02d}-{pid}.csv", f"{k:02d}-{pid}.xlsx"} <= names
        if PANELS[pid].figure is not None:
            assert {f"{k:02d}-{pid}.png", f"{k:02d}-{pid}.svg"} <= names
            assert png_size(zf.read(f"{k:02d}-{pid}.png"))[0] == 1200
        # The ZIP's data is exactly the panel's own export.
        assert zf.read(f"{k:02d}-{pid}.csv") == client.get(f"/export/panel/{pid}.csv?{urlencode(query)}").data, pid

    m = json.loads(zf.read("manifest.json"))
    catalog = FilterCatalog.from_repo(city.app.server.config["IOC_SERVICES"].base_repo)
    chosen = AnalysisFilters.from_query(query, catalog)
    assert AnalysisFilters.from_query(m["filters"], catalog) == chosen
    assert AnalysisFilters.from_query(dict(parse_qsl(m["filters_query"])), catalog) == chosen
    assert m["filters"] == query  # normalised filters round-trip to the very URL parameters
    assert [i["code"] for i in m["indicators"]] == ["eco_gdp", "eco_retail_sales"]
    names_db = dict(city.sql("SELECT code, name_zh FROM indicators WHERE code IN ('eco_gdp', 'eco_retail_sales')"))
    assert {i["code"]: i["name_zh"] for i in m["indicators"]} == names_db
    assert [[a["code"] for a in path] for path in m["drill_path"]] == [
        [city.root, city.towns[0]], [city.root, city.towns[1], areas[1]]]
    assert m["data_as_of"] == str(from_epoch(city.sql("SELECT MAX(reported_at) FROM events")[0][0]))
    assert m["data_version"] == int(city.sql("SELECT value FROM meta WHERE key = 'data_version'")[0][0])
    assert m["exported_by"] == "analyst" and m["scope"] is None
    assert abs(datetime.fromisoformat(m["exported_at"]) - datetime.now()) < timedelta(minutes=5)
    assert {p["id"] for p in m["panels"]} == set(PANELS)
    text = zf.read("manifest.txt").decode()
    assert "导出人：analyst" in text and "地区生产总值" in text and "时段: 2026-01 – 2026-06" in text


def test_panel_images_carry_title_areas_filters_and_data_time(city_sqlite, tmp_path):
    city = city_sqlite
    town = city.towns[0]
    name = city.sql("SELECT name FROM regions WHERE code = :c", c=town)[0][0]
    client = city.client("analyst")
    q = f"areas={town}&from=2026-01&to=2026-03&theme=economy&ind=eco_gdp&sev=1,2"
    svg = client.get(f"/export/panel/ranking.svg?{q}")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    text = svg.get_data(as_text=True)
    assert text.startswith("<svg")
    for expected in (f"区域排名 — {name}", f"区域: {name}", "时段: 2026-01 – 2026-03", "指标: 地区生产总值", "事件等级: I、II",
                     "数据截至 ", "analyst 导出于"):
        assert expected in text, expected
    assert "http" not in text.replace("http://www.w3.org", "")  # nothing to fetch from outside
    png = client.get(f"/export/panel/trend.png?{q}&lang=en")
    assert png.status_code == 200 and png.mimetype == "image/png"
    w, h = png_size(png.data)
    assert w == 1200 and h >= 700
    (tmp_path / "trend.png").write_bytes(png.data)  # looked at by hand: title, caption and Chinese legend


def test_a_township_officer_exports_only_the_township(city):
    own, other = city.towns[0], city.towns[1]
    client = city.client("township")
    for q in (f"areas={other}", f"areas={city.root}", f"areas={own},{other}", f"areas={city.children[other][0]}"):
        resp = client.get(f"/export/panel/events.csv?{q}")
        assert resp.status_code == 404 and resp.get_json()["parameter"] == "areas", q
        assert "outside your scope" in resp.get_json()["error"]
    resp = client.get("/export/panel/events.csv?from=2026-01&to=2026-06")
    codes = csv_region_codes(resp.data)
    assert codes and codes <= city.subtree(own)
    n = city.sql("SELECT COUNT(*) FROM events WHERE region_code IN (SELECT descendant_code FROM region_closure "
                 "WHERE ancestor_code = :t) AND reported_at >= :a AND reported_at < :b", t=own,
                 a=to_epoch(date(2026, 1, 1)), b=to_epoch(date(2026, 7, 1)))[0][0]
    assert len(resp.data.decode("utf-8-sig").splitlines()) - 1 == n
    values = client.get("/export/panel/values.csv?from=2026-01&to=2026-03&theme=economy")
    assert csv_region_codes(values.data) <= city.subtree(own)


def _start(app, principal: Principal, kind: str, panel: str | None, query: dict) -> str:  # noqa: ANN001
    with app.server.test_request_context("/analyst"):
        g.ioc_principal = principal
        return export_routes.start_job(app.server.config["IOC_SERVICES"], principal, kind, panel, query)


def _wait(client, job_id: str, timeout: float = 60) -> dict:  # noqa: ANN001
    """Poll the job until it is no longer running (the condition), at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        state = client.get(f"/export/jobs/{job_id}").get_json()
        if state["status"] != "running" or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def test_a_job_started_on_one_worker_is_polled_and_downloaded_through_another(city_sqlite, mini_sqlite, tmp_path):
    from app import create_app

    city = city_sqlite
    own = city.towns[0]
    other_worker = create_app({"database_url": mini_sqlite, "cache_type": "NullCache",
                               "export_dir": city.app.server.config["IOC_SERVICES"].config.export_dir})
    township = Principal("township", "township", own)
    job = _start(city.app, township, "zip", None, {"from": "2026-01", "to": "2026-03"})
    poller = other_worker.server.test_client()
    from tests.conftest import login

    login(poller, "township")
    state = _wait(poller, job)
    assert state["status"] == "done", state
    assert state["rows_done"] == state["rows_total"] > 0 and state["fraction"] == 1.0
    resp = poller.get(state["file"])
    assert resp.status_code == 200 and int(resp.headers["Content-Length"]) == len(resp.data) == state["size"]
    assert "attachment" in resp.headers["Content-Disposition"]
    zf = zipfile.ZipFile(io.BytesIO(resp.data))
    assert csv_region_codes(zf.read("06-events.csv")) <= city.subtree(own)
    assert csv_region_codes(zf.read("07-values.csv")) <= city.subtree(own)
    assert json.loads(zf.read("manifest.json"))["scope"] == own
    # Nobody else polls or downloads it.
    stranger = login(other_worker.server.test_client(), "analyst")
    assert stranger.get(f"/export/jobs/{job}").status_code == 404
    assert stranger.get(f"/export/jobs/{job}/file").status_code == 404
    # The audit log has it, with its rows.
    detail = city.sql("SELECT detail FROM audit_log WHERE action = 'export' AND target = 'view.zip' AND detail LIKE :j",
                      j=f"%job={job}%")
    assert detail and f"rows={state['rows_done']}" in detail[0][0] and f"scope={own}" in detail[0][0]
    # It expires: the row and the file are gone.
    path = Path(jobs.get(city.engine, job).path)
    assert path.is_file()
    jobs.cleanup(city.engine, city.app.server.config["IOC_SERVICES"].config.export_dir, now=datetime.now() + jobs.TTL * 2)
    assert jobs.get(city.engine, job) is None and not path.exists()
    assert poller.get(f"/export/jobs/{job}").status_code == 404


def test_the_controls_callback_starts_a_job_reports_progress_and_offers_the_file(city_sqlite):
    city = city_sqlite
    services = city.app.server.config["IOC_SERVICES"]
    analyst = Principal("analyst", "analyst", None)
    trig = {"type": ids.EXPORT_START, "panel": "events", "kind": "csv"}
    with city.app.server.test_request_context("/analyst"):
        g.ioc_principal = analyst
        out = export_controls.job_step(services, trig, [1, 0, 0], None, f"?areas={city.towns[0]}&from=2026-01&to=2026-02")
        store, disabled, status, hidden = out[:4]
        assert store["id"] and disabled is False and hidden is False and status.startswith("正在导出")
        deadline = time.monotonic() + 60
        while True:
            out = export_controls.job_step(services, {"type": ids.EXPORT_POLL, "panel": "events"}, None, store, None)
            if out[1] is True or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        _, disabled, status, _hidden, value, href, file_hidden = out
        assert disabled is True and value == "1" and href == f"/export/jobs/{store['id']}/file" and file_hidden is False
        assert status.startswith("导出完成：events-") and "行" in status
        bad = export_controls.job_step(services, trig, [1, 0, 0], None, "?sev=7")
        assert bad[0] is None and "sev" in bad[2]
        outside = export_controls.job_step(services, trig, [1, 0, 0], None, "?areas=NOPE")
        assert outside[0] is None and "无权查看" in outside[2]


def test_a_drilled_records_table_exports_the_drilled_rows(city_sqlite):
    city = city_sqlite
    town = city.towns[0]
    child = city.children[town][0]
    analyst = Principal("analyst", "analyst", None)
    drill = {"records": "events", "area": child, "month": "2026-02", "ignored": "<script>"}
    job = _start_with_drill(city.app, analyst, "events", {"areas": town, "from": "2026-01", "to": "2026-06"}, drill)
    client = city.client("analyst")
    state = _wait(client, job)
    assert state["status"] == "done", state
    body = client.get(state["file"]).data
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    n = city.sql("SELECT COUNT(*) FROM events WHERE region_code IN (SELECT descendant_code FROM region_closure "
                 "WHERE ancestor_code = :c) AND reported_at >= :a AND reported_at < :b", c=child,
                 a=to_epoch(date(2026, 2, 1)), b=to_epoch(date(2026, 3, 1)))[0][0]
    assert n > 0 and len(rows) == n
    assert {r["区域代码"] for r in rows} <= city.subtree(child)
    assert {r["上报时间"][:7] for r in rows} == {"2026-02"}
    # The other records table is not drilled; a drill outside the scope is refused like an outside area.
    township = Principal("township", "township", town)
    outside = {"records": "events", "area": city.towns[1]}
    try:
        _start_with_drill(city.app, township, "events", {}, outside)
        raise AssertionError("a drill outside the scope started an export")
    except ScopeError:
        pass


def _start_with_drill(app, principal: Principal, panel: str, query: dict, drill: dict) -> str:  # noqa: ANN001
    with app.server.test_request_context("/analyst"):
        g.ioc_principal = principal
        return export_routes.start_job(app.server.config["IOC_SERVICES"], principal, "csv", panel, query, drill=drill)
