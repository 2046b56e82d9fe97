"""The records table's server-side paging, sorting and filtering equals plain SQL over the raw events."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from datasources import db
from datasources.analysis import records
from datasources.analysis.filters import AnalysisFilters
from datasources.analysis.panels import PANELS
from datasources.analysis.records import ColumnFilter, RecordsError, parse_filter_query
from datasources.repository import Repository

TOWN = "510182002"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def repo(request):
    engine = db.make_engine(request.getfixturevalue("mini_sqlite" if request.param == "sqlite" else "mini_pg"))
    yield Repository(engine)
    engine.dispose()


def _ids(repo: Repository, where: str, order: str, params: dict) -> list[int]:
    with repo.engine.connect() as conn:
        return [r[0] for r in conn.execute(text(
            "SELECT e.id FROM events e JOIN regions r ON r.code = e.region_code WHERE e.region_code IN "
            f"(SELECT descendant_code FROM region_closure WHERE ancestor_code = :t) AND {where} ORDER BY {order}"), params | {"t": TOWN})]


def _page(repo, sort=(), offset=0, limit=20, filters=(), f=None):  # noqa: ANN001, ANN202
    f = f or repo.resolve_filters(AnalysisFilters(areas=(TOWN,)))
    stmt = repo.panel_query("events", f)
    return records.page(repo, stmt, sort, offset, limit, filters, total=PANELS["events"].count(None, f))


def _window(repo: Repository) -> dict:
    from datetime import datetime

    from datasources.models import to_epoch

    start, end = repo.resolve_filters(AnalysisFilters()).window()
    return {"s": to_epoch(datetime(start.year, start.month, 1)), "e": to_epoch(datetime(end.year, end.month, 1))}


def test_pages_walk_every_row_in_order(repo):
    w = _window(repo)
    expected = _ids(repo, "e.reported_at >= :s AND e.reported_at < :e", "e.reported_at DESC, e.id DESC", w)
    first, third = _page(repo), _page(repo, offset=40)
    assert first.total == len(expected) > 60
    assert [r["id"] for r in first.rows] == expected[:20]
    assert [r["id"] for r in third.rows] == expected[40:60]


@pytest.mark.parametrize(("key", "desc", "order"), [
    ("severity", False, "e.severity, e.reported_at, e.id"),
    ("severity", True, "e.severity DESC, e.reported_at DESC, e.id DESC"),
    ("reported_at", False, "e.reported_at, e.reported_at, e.id"),
    ("region_name", False, "r.name, e.reported_at, e.id"),
])
def test_sorted_pages_equal_sql_order(repo, key, desc, order):
    expected = _ids(repo, "e.reported_at >= :s AND e.reported_at < :e", order, _window(repo))
    got = _page(repo, sort=[(key, desc)], offset=100, limit=30)
    assert [r["id"] for r in got.rows] == expected[100:130]


def test_column_filters_equal_sql_where(repo):
    w = _window(repo)
    flt = parse_filter_query('{severity} <= 2 && {title} contains "村" && {status} = closed', PANELS["events"].keys)
    expected = _ids(repo, "e.reported_at >= :s AND e.reported_at < :e AND e.severity <= 2 AND e.title LIKE :t2 "
                          "AND e.status = 'closed'", "e.reported_at DESC, e.id DESC", w | {"t2": "%村%"})
    got = _page(repo, filters=flt, limit=1000)
    assert got.total == len(expected) > 0
    assert [r["id"] for r in got.rows] == expected


def test_time_filters_read_dates(repo):
    from datetime import datetime

    from datasources.models import to_epoch

    w = _window(repo)
    expected = _ids(repo, "e.reported_at >= :s AND e.reported_at < :e AND e.reported_at >= :d", "e.reported_at DESC, e.id DESC",
                    w | {"d": to_epoch(datetime(2026, 11, 1))})
    got = _page(repo, filters=parse_filter_query("{reported_at} >= 2026-11-01", PANELS["events"].keys), limit=1000)
    assert got.total == len(expected) > 0 and [r["id"] for r in got.rows] == expected[:1000]
    with pytest.raises(RecordsError):
        _page(repo, filters=parse_filter_query("{reported_at} >= yesterday", PANELS["events"].keys))


def test_contains_treats_wildcards_as_text(repo):
    got = _page(repo, filters=[ColumnFilter("title", "contains", "%")])
    assert got.total == 0 and got.rows == []


def test_aggregated_panel_pages_and_filters(repo):
    f = repo.resolve_filters(AnalysisFilters())
    stmt = repo.panel_query("categories", f)
    whole = records.page(repo, stmt, limit=1000)
    top = records.page(repo, stmt, sort=[("current", True)], limit=3)
    assert [r["category"] for r in top.rows] == [r["category"] for r in sorted(whole.rows, key=lambda r: -r["current"])][:3]
    grid = records.page(repo, stmt, column_filters=[ColumnFilter("source", "=", "grid")], limit=1000)
    assert grid.total == sum(r["source"] == "grid" for r in whole.rows) > 0


@pytest.mark.parametrize(("query", "column"), [
    ("{nope} = 1", "nope"),
    ("severity = 1", "filter_query"),
    ("{severity} = high", "severity"),
])
def test_bad_filters_name_the_column(repo, query, column):
    with pytest.raises(RecordsError) as err:
        _page(repo, filters=parse_filter_query(query, PANELS["events"].keys))
    assert err.value.column == column


def test_bad_sort_names_the_column(repo):
    with pytest.raises(RecordsError) as err:
        _page(repo, sort=[("password", False)])
    assert err.value.column == "password"
