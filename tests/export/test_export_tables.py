"""The CSV and the XLSX of a panel hold exactly the filtered rows: for several filter combinations they
equal an independent, hand-written SQL query of the database (SQLite and PostgreSQL). Bad filters are
a 400 naming the parameter; every export is in the audit log."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from urllib.parse import urlencode

import pytest
from openpyxl import load_workbook

from datasources.models import from_epoch, to_epoch

EVENT_SQL = """
SELECT e.id, e.reported_at, e.region_code, r.name, r.name_en, e.source, e.category, e.severity, e.status, e.title,
       e.department, e.closed_at
FROM events e JOIN regions r ON r.code = e.region_code
WHERE e.region_code IN (SELECT descendant_code FROM region_closure WHERE ancestor_code IN ({areas}))
  AND e.reported_at >= :start AND e.reported_at < :end {extra}
ORDER BY e.reported_at DESC, e.id DESC
"""

VALUE_SQL = """
SELECT v.indicator_code, i.name_zh, i.name_en, v.region_code, r.name, r.name_en, r.level, v.period, v.value, i.unit,
       i.unit_en, v.derived
FROM indicator_values v JOIN indicators i ON i.code = v.indicator_code JOIN regions r ON r.code = v.region_code
WHERE v.indicator_code IN ({inds})
  AND v.region_code IN (SELECT descendant_code FROM region_closure WHERE ancestor_code IN ({areas}))
  AND v.period >= :start AND v.period < :end
ORDER BY v.indicator_code, r.level, v.region_code, v.period
"""


def _in(values: list, prefix: str) -> tuple[str, dict]:
    """An IN list of bound parameters."""
    names = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{n}" for n in names), names


def expected_events(city, areas: list[str], start: date, end: date, **where: list) -> list[tuple]:  # noqa: ANN001
    area_sql, params = _in(areas, "a")
    extra = ""
    for col, values in where.items():
        sql, p = _in(values, col)
        extra += f" AND e.{col} IN ({sql})"
        params |= p
    rows = city.sql(EVENT_SQL.format(areas=area_sql, extra=extra), start=to_epoch(start), end=to_epoch(end), **params)
    return [(r[0], from_epoch(r[1]), *r[2:11], from_epoch(r[11])) for r in rows]


def expected_values(city, inds: list[str], areas: list[str], start: date, end: date) -> list[tuple]:  # noqa: ANN001
    ind_sql, p1 = _in(inds, "i")
    area_sql, p2 = _in(areas, "a")
    rows = city.sql(VALUE_SQL.format(inds=ind_sql, areas=area_sql), start=start, end=end, **p1, **p2)
    return [(*r[:7], date.fromisoformat(str(r[7])[:10]), *r[8:11], int(r[11])) for r in rows]


def _csv_text(v: object) -> str:
    """A value as the CSV should print it."""
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def read_csv(body: bytes) -> tuple[list[str], list[list[str]]]:
    assert body.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    return rows[0], rows[1:]


def read_xlsx(body: bytes) -> tuple[list[str], list[tuple]]:
    ws = load_workbook(io.BytesIO(body), read_only=False).worksheets[0]
    assert ws.freeze_panes == "A2", "the header row stays in view"
    rows = list(ws.iter_rows(values_only=True))
    return list(rows[0]), rows[1:]


def _xlsx_value(v: object) -> object:
    """A value as the workbook should hold it (dates as date cells, read back as datetimes)."""
    if isinstance(v, date) and not isinstance(v, datetime):
        return datetime(v.year, v.month, v.day)
    return v


def check_panel(city, panel: str, query: dict, expected: list[tuple], header_zh: list[str]) -> None:  # noqa: ANN001
    client = city.client()
    q = urlencode(query)
    resp = client.get(f"/export/panel/{panel}.csv?{q}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    head, rows = read_csv(resp.data)
    assert head == header_zh
    assert rows == [[_csv_text(v) for v in r] for r in expected]
    resp = client.get(f"/export/panel/{panel}.xlsx?{q}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert int(resp.headers["Content-Length"]) == len(resp.data)
    head, rows = read_xlsx(resp.data)
    assert head == header_zh
    assert [tuple(r) for r in rows] == [tuple(_xlsx_value(v) for v in r) for r in expected]


EVENT_HEAD = ["编号", "上报时间", "区域代码", "区域", "区域(英文)", "来源", "类别", "等级", "状态", "标题", "责任部门", "关闭时间"]
VALUE_HEAD = ["指标代码", "指标", "指标(英文)", "区域代码", "区域", "区域(英文)", "层级", "期间", "数值", "单位", "单位(英文)", "汇总值"]


def test_event_records_of_one_township_severe_only_equal_independent_sql(city):
    town = city.towns[0]
    expected = expected_events(city, [town], date(2026, 1, 1), date(2026, 4, 1), severity=[1, 2])
    assert expected, "the combination must select some events"
    check_panel(city, "events", {"areas": town, "from": "2026-01", "to": "2026-03", "sev": "1,2"}, expected, EVENT_HEAD)


def test_event_records_of_two_areas_one_source_and_status_equal_independent_sql(city):
    areas = [city.towns[1], city.children[city.towns[2]][0]]
    expected = expected_events(city, areas, date(2025, 6, 1), date(2026, 1, 1), source=["hotline"], status=["closed"])
    assert expected
    check_panel(city, "events", {"areas": ",".join(areas), "from": "2025-06", "to": "2025-12", "src": "hotline",
                                 "status": "closed"}, expected, EVENT_HEAD)


def test_indicator_values_by_quarter_equal_independent_sql(city):
    # Quarters snap the months outwards: 2025-02..2025-11 is Q1..Q4 2025.
    town = city.towns[1]
    inds = ["eco_gdp", "eco_retail_sales"]
    expected = expected_values(city, sorted(inds), [town], date(2025, 1, 1), date(2026, 1, 1))
    assert expected
    check_panel(city, "values", {"areas": town, "from": "2025-02", "to": "2025-11", "gran": "quarter", "theme": "economy",
                                 "ind": ",".join(inds)}, expected, VALUE_HEAD)


def test_category_breakdown_equals_counts_of_the_raw_events(city):
    town = city.towns[0]
    cur = dict(((s, c), n) for s, c, n in city.sql(
        "SELECT source, category, COUNT(*) FROM events WHERE region_code IN "
        "(SELECT descendant_code FROM region_closure WHERE ancestor_code = :t) AND reported_at >= :a AND reported_at < :b "
        "AND severity IN (2, 3) GROUP BY source, category",
        t=town, a=to_epoch(date(2026, 4, 1)), b=to_epoch(date(2026, 7, 1))))
    prev = dict(((s, c), n) for s, c, n in city.sql(
        "SELECT source, category, COUNT(*) FROM events WHERE region_code IN "
        "(SELECT descendant_code FROM region_closure WHERE ancestor_code = :t) AND reported_at >= :a AND reported_at < :b "
        "AND severity IN (2, 3) GROUP BY source, category",
        t=town, a=to_epoch(date(2025, 4, 1)), b=to_epoch(date(2025, 7, 1))))
    keys = sorted(set(cur) | set(prev), key=lambda k: (-cur.get(k, 0), k))
    expected = [[s, c, str(cur.get((s, c), 0)), str(prev.get((s, c), 0))] for s, c in keys]
    resp = city.client().get(f"/export/panel/categories.csv?areas={town}&from=2026-04&to=2026-06&sev=2,3")
    head, rows = read_csv(resp.data)
    assert head == ["来源", "类别", "本期事件数 (件)", "对比期事件数 (件)", "变化率"]
    assert [r[:4] for r in rows] == expected
    for (s, c), r in zip(keys, rows, strict=True):
        p = prev.get((s, c), 0)
        assert (r[4] == "") if not p else float(r[4]) == pytest.approx((cur.get((s, c), 0) - p) / p)


def test_english_headers_carry_the_unit(city_sqlite):
    resp = city_sqlite.client().get("/export/panel/categories.xlsx?lang=en&from=2026-01&to=2026-03")
    head, _rows = read_xlsx(resp.data)
    assert head == ["Source", "Category", "Events this period (events)", "Events compared period (events)", "Change"]


@pytest.mark.parametrize(("query", "param"), [
    ("sev=9", "sev"), ("from=2026-13", "from"), ("theme=nope", "theme"), ("ind=nope", "ind"), ("lang=fr", "lang"),
    ("from=2026-05&to=2026-01", "from"),
])
def test_a_bad_filter_is_a_400_naming_the_parameter(city_sqlite, query, param):
    resp = city_sqlite.client().get(f"/export/panel/events.csv?{query}")
    assert resp.status_code == 400 and resp.get_json()["parameter"] == param, resp.get_json()


def test_unknown_panel_or_format_is_refused(city_sqlite):
    client = city_sqlite.client()
    assert client.get("/export/panel/nope.csv").status_code == 404
    assert client.get("/export/panel/events.pdf").get_json()["parameter"] == "format"
    assert client.get("/export/panel/events.png").status_code == 404  # a records table has no chart


def test_every_export_is_in_the_audit_log(city_sqlite):
    town = city_sqlite.towns[0]
    before = city_sqlite.sql("SELECT COALESCE(MAX(id), 0) FROM audit_log")[0][0]
    city_sqlite.client("leader").get(f"/export/panel/events.xlsx?areas={town}&from=2026-02&to=2026-02&sev=1")
    n = len(expected_events(city_sqlite, [town], date(2026, 2, 1), date(2026, 3, 1), severity=[1]))
    rows = city_sqlite.sql("SELECT username, action, target, detail FROM audit_log WHERE id > :i AND action = 'export'", i=before)
    assert rows == [("leader", "export", "events.xlsx",
                     f"format=xlsx; rows={n}; filters=areas={town}&from=2026-02&to=2026-02&sev=1; scope=-")]


def test_an_anonymous_caller_gets_nothing(city_sqlite):
    client = city_sqlite.app.server.test_client()  # not signed in
    for url in ("/export/panel/events.csv", "/export/view.zip", "/export/jobs/0123/file"):
        resp = client.get(url)
        assert resp.status_code in (302, 401, 403) and b"\xef\xbb\xbf" not in resp.data, url
