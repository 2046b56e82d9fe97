"""The events' ancestor columns (``area1_code``…``area3_code``): filled by the write layer and the
migration, and the area queries that read them give exactly what the closure-table queries gave."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event, text

from datasources import db, rollup
from datasources.ingest import Writer
from datasources.models import EVENT_AREA_LEVELS, OPEN_EVENTS_SQL, to_epoch
from datasources.repository import Repository
from datasources.rules import DONE_STATUSES, OPEN_STATUSES
from tests.conftest import AS_OF, pg_schema, sqlite_copy

# The ticker's query before the area columns: every event of the subtree through the closure table.
OLD_RECENT = (
    "SELECT e.id, e.source, e.category, e.theme, e.severity, e.title, e.status, e.region_code, "
    "e.reported_at, e.lon, e.lat, r.name AS region_name FROM events e "
    "JOIN region_closure c ON c.descendant_code = e.region_code JOIN regions r ON r.code = e.region_code "
    "WHERE c.ancestor_code = :a {cond} ORDER BY e.reported_at DESC, e.id DESC LIMIT :n"
)
CLOSURE_AREAS = (
    "SELECT e.id, r.level, c.ancestor_code FROM events e JOIN region_closure c ON c.descendant_code = e.region_code "
    "JOIN regions r ON r.code = c.ancestor_code WHERE r.level IN (1, 2, 3)"
)


def _areas_by_closure(conn) -> dict[tuple[int, int], str]:  # noqa: ANN001
    return {(i, lvl): a for i, lvl, a in conn.execute(text(CLOSURE_AREAS))}


def _stored_areas(conn) -> dict[tuple[int, int], str]:  # noqa: ANN001
    cols = ", ".join(f"area{k}_code" for k in EVENT_AREA_LEVELS)
    out = {}
    for row in conn.execute(text(f"SELECT id, {cols} FROM events")):
        for k, code in zip(EVENT_AREA_LEVELS, row[1:], strict=True):
            if code is not None:
                out[(row[0], k)] = code
    return out


def test_every_demo_event_carries_its_ancestors_as_the_closure_table_has_them(mini_url):
    with db.make_engine(mini_url).connect() as conn:
        assert _stored_areas(conn) == _areas_by_closure(conn)


@pytest.mark.parametrize("before", [None, datetime(2026, 3, 1, 12)])
def test_recent_events_equal_the_closure_query_in_every_area(mini_url, before):
    repo = Repository(db.make_engine(mini_url))
    with repo.engine.connect() as conn:
        areas = conn.execute(text("SELECT code FROM regions ORDER BY level, code")).scalars().all()
        for area in areas:
            params = {"a": area, "n": 25}
            cond = ""
            if before is not None:
                cond, params["b"] = "AND e.reported_at < :b", to_epoch(before)
            old = [dict(r) for r in conn.execute(text(OLD_RECENT.format(cond=cond)), params).mappings()]
            new = repo.recent_events(area, limit=25, before=before)
            assert [r["id"] for r in new] == [r["id"] for r in old], area
            assert [r["region_name"] for r in new] == [r["region_name"] for r in old], area


def test_event_windows_equal_the_closure_queries_in_every_area(mini_url):
    """Counts, rates and the heat grid over a window that is not whole months read raw events."""
    repo = Repository(db.make_engine(mini_url))
    start, end = datetime(2026, 6, 3, 8), datetime(2026, 9, 17)
    closure = "FROM events e JOIN region_closure c ON c.descendant_code = e.region_code WHERE c.ancestor_code = :a "
    window = "AND e.reported_at >= :s AND e.reported_at < :e"
    with repo.engine.connect() as conn:
        areas = conn.execute(text("SELECT code FROM regions ORDER BY level, code")).scalars().all()
        for area in areas:
            p = {"a": area, "s": to_epoch(start), "e": to_epoch(end)}
            by_status = dict(conn.execute(text(f"SELECT e.status, COUNT(*) {closure}{window} GROUP BY e.status"), p).all())
            assert repo.event_counts(area, start, end, "status") == by_status, area
            rates = repo.event_rates(area, start.date(), end.date())
            day = {"a": area, "s": to_epoch(datetime.combine(start.date(), datetime.min.time())),
                   "e": to_epoch(datetime.combine(end.date(), datetime.min.time()))}
            total, rated = conn.execute(text(f"SELECT COUNT(*), COUNT(e.satisfaction) {closure}{window}"), day).one()
            assert (rates["total"], rates["rated"]) == (total, rated), area
            cells = conn.execute(text(
                f"SELECT CAST(FLOOR(e.lon * 50) AS INTEGER), CAST(FLOOR(e.lat * 50) AS INTEGER), COUNT(*) {closure}{window} "
                "AND e.lon IS NOT NULL GROUP BY 1, 2"), p).all()
            heat = repo.event_density(area, start, end, cell_deg=0.02)
            assert sum(c["n"] for c in heat) == sum(n for _x, _y, n in cells), area
            assert len(heat) == len(cells), area


def test_written_events_get_the_ancestors_of_their_region(mini_pristine, tmp_path):
    url = sqlite_copy(mini_pristine, tmp_path / "w.db")
    engine = db.make_engine(url)
    with engine.connect() as conn:
        leaf, town = conn.execute(text(
            "SELECT r.code, r.parent_code FROM regions r WHERE r.level = 2 ORDER BY r.code LIMIT 1")).one()
    Writer(engine, clock=lambda: AS_OF).events([
        {"source": "hotline", "category": "consult", "theme": "governance", "severity": 4, "title": "a",
         "region_code": leaf, "reported_at": AS_OF, "status": "reported"},
        {"source": "hotline", "category": "consult", "theme": "governance", "severity": 4, "title": "b",
         "region_code": town, "reported_at": AS_OF, "status": "reported"},
    ])
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT title, area1_code, area2_code, area3_code FROM events WHERE title IN ('a', 'b') "
                                 "ORDER BY title")).all()
    assert [tuple(r) for r in rows] == [("a", town, leaf, None), ("b", town, None, None)]
    assert Repository(engine).recent_events(town, limit=2)[0]["title"] in {"a", "b"}


def _upgrade_from_0004(url: str) -> None:
    """Migrate an empty database to 0004, write one region tree and two events the 0004 way, then to head."""
    engine = db.make_engine(url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
        for code, level, parent in (("1", 0, None), ("11", 1, "1"), ("111", 2, "11")):
            conn.execute(text(
                "INSERT INTO regions (code, name, name_en, level, parent_code, population, area_km2, centroid_lon, "
                "centroid_lat, geometry, geometry_display) VALUES (:c, 'x', '', :l, :p, 0, 0, 0, 0, '', '')"),
                {"c": code, "l": level, "p": parent})
        for anc, desc, depth in (("1", "1", 0), ("11", "11", 0), ("111", "111", 0), ("1", "11", 1), ("11", "111", 1),
                                 ("1", "111", 2)):
            conn.execute(text("INSERT INTO region_closure (ancestor_code, descendant_code, depth) VALUES (:a, :d, :k)"),
                         {"a": anc, "d": desc, "k": depth})
        for k, region in enumerate(("111", "11")):
            conn.execute(text(
                "INSERT INTO events (source, category, theme, severity, title, description, region_code, reported_at, status) "
                "VALUES ('s', 'c', 'governance', 4, :t, '', :r, :at, 'reported')"),
                {"t": f"e{k}", "r": region, "at": to_epoch(datetime(2026, 1, 1 + k))})
    db.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT title, area1_code, area2_code, area3_code FROM events ORDER BY title")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("e0", "11", "111", None), ("e1", "11", None, None)]


def test_migration_fills_the_areas_of_stored_events_on_sqlite(tmp_path):
    _upgrade_from_0004(f"sqlite:///{tmp_path / 'old.db'}")


def test_migration_fills_the_areas_of_stored_events_on_postgresql():
    with pg_schema("ioc_areas") as url:
        _upgrade_from_0004(url)


# The map's open points before migration 0008: the open events of the subtree through the closure table.
OLD_OPEN = (
    "SELECT e.id FROM events e JOIN region_closure c ON c.descendant_code = e.region_code "
    f"WHERE c.ancestor_code = :a AND e.{OPEN_EVENTS_SQL} ORDER BY e.severity, e.reported_at DESC, e.id DESC LIMIT :n"
)


def _assert_open_events_equal_the_closure_query(repo: Repository) -> None:
    with repo.engine.connect() as conn:
        areas = conn.execute(text("SELECT code FROM regions ORDER BY level, code")).scalars().all()
        for area in areas:
            for n in (5, 300):  # a limit that cuts every area's list, and the map's
                old = conn.execute(text(OLD_OPEN), {"a": area, "n": n}).scalars().all()
                new = repo.open_events(area, limit=n)
                assert [r["id"] for r in new] == old, (area, n)
                assert all(r["status"] in OPEN_STATUSES for r in new)


def test_open_events_equal_the_closure_query_in_every_area(mini_url):
    _assert_open_events_equal_the_closure_query(Repository(db.make_engine(mini_url)))


# A five-level tree (root 0 … leaf 4), so that levels 1-3 read their area column and the leaf the closure table.
TREE = (("0", 0, None), ("01", 1, "0"), ("02", 1, "0"), ("011", 2, "01"), ("0111", 3, "011"), ("0112", 3, "011"),
        ("01111", 4, "0111"), ("01112", 4, "0111"), ("01121", 4, "0112"), ("021", 2, "02"))


def _open_events_in_a_deep_tree(url: str) -> None:
    engine = db.make_engine(url)
    db.reset_database(engine)
    with engine.begin() as conn:
        for code, level, parent in TREE:
            conn.execute(text(
                "INSERT INTO regions (code, name, name_en, level, parent_code, population, area_km2, centroid_lon, "
                "centroid_lat, geometry, geometry_display) VALUES (:c, :c, '', :l, :p, 0, 0, 0, 0, '', '')"),
                {"c": code, "l": level, "p": parent})
    with engine.begin() as conn:
        rollup.build_closure(conn)
    statuses = [*OPEN_STATUSES, *DONE_STATUSES]
    events = []
    for k in range(240):
        # Few distinct times and severities: many ties, which the id orders the same way in both queries.
        at, status = datetime(2026, 11, 1 + k % 3), statuses[(k // len(TREE)) % len(statuses)]
        steps = {"dispatched_at": at if status != "reported" else None, "resolved_at": at if status in DONE_STATUSES else None,
                 "closed_at": at if status == "closed" else None}
        events.append({"source": "hotline", "category": "consult", "theme": "governance", "severity": 1 + (k // 7) % 4, "title": f"e{k}",
                       "region_code": TREE[k % len(TREE)][0], "reported_at": at, "status": status} | steps)
    Writer(engine, clock=lambda: AS_OF).events(events)
    _assert_open_events_equal_the_closure_query(Repository(engine))
    engine.dispose()


def test_open_events_equal_the_closure_query_at_every_level_of_a_deep_tree_on_sqlite(tmp_path):
    _open_events_in_a_deep_tree(f"sqlite:///{tmp_path / 'deep.db'}")


def test_open_events_equal_the_closure_query_at_every_level_of_a_deep_tree_on_postgresql():
    with pg_schema("ioc_open") as url:
        _open_events_in_a_deep_tree(url)


def test_open_events_read_one_partial_index_range_on_sqlite(mini_sqlite):
    """The map's points come in index order: no sort of the area's open events (the root, levels 1 and 2)."""
    repo = Repository(db.make_engine(mini_sqlite))
    with repo.engine.connect() as conn:
        for level, index in ((0, "ix_events_open_severity"), (1, "ix_events_open_area1"), (2, "ix_events_open_area2")):
            area = conn.execute(text("SELECT code FROM regions WHERE level = :l ORDER BY code LIMIT 1"), {"l": level}).scalar_one()
            plan = " ".join(r[-1] for r in conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT e.id FROM events e "
                f"WHERE {repo._in_area(conn, area)} AND e.{OPEN_EVENTS_SQL} ORDER BY e.severity, e.reported_at DESC, e.id DESC LIMIT 300"
            ), {"a": area}))
            assert index in plan and "TEMP B-TREE" not in plan, (level, plan)


def test_fine_heat_grid_of_an_area_reads_only_its_area_index_on_sqlite(mini_sqlite):
    """A heat grid finer than event_cells counts raw events: their positions come from the area index
    (migration 0009), not from each event's row."""
    repo = Repository(db.make_engine(mini_sqlite))
    seen: list[tuple[str, object]] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        seen.append((statement, parameters))

    with repo.engine.connect() as conn:
        areas = {lvl: conn.execute(text("SELECT code FROM regions WHERE level = :l ORDER BY code LIMIT 1"), {"l": lvl}).scalar_one()
                 for lvl in (1, 2)}
    for level, area in areas.items():
        seen.clear()
        event.listen(repo.engine, "before_cursor_execute", before)
        try:
            repo.event_density(area, datetime(2026, 10, 1), datetime(2026, 11, 1), cell_deg=0.002)
        finally:
            event.remove(repo.engine, "before_cursor_execute", before)
        statement, params = next((s, p) for s, p in seen if "FLOOR(e.lon" in s)
        with repo.engine.connect() as conn:
            plan = " ".join(r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params))
        assert f"COVERING INDEX ix_events_area{level}_reported" in plan, plan


def test_heat_cells_of_a_month_equal_the_raw_event_grid_in_every_area(mini_url):
    """The roll-up path of event_density (whole months, a multiple of 0.005°; the root without the closure
    join) gives the grid of the area's raw events, at every level."""
    repo = Repository(db.make_engine(mini_url))
    start, end = datetime(2026, 10, 1), datetime(2026, 11, 1)
    with repo.engine.connect() as conn:
        areas = conn.execute(text("SELECT code FROM regions ORDER BY level, code")).scalars().all()
        for area in areas:
            raw = conn.execute(text(
                "SELECT CAST(FLOOR(e.lon * 200) AS INTEGER) AS gx, CAST(FLOOR(e.lat * 200) AS INTEGER) AS gy FROM events e "
                "JOIN region_closure c ON c.descendant_code = e.region_code WHERE c.ancestor_code = :a "
                "AND e.reported_at >= :s AND e.reported_at < :e AND e.lon IS NOT NULL"),
                {"a": area, "s": to_epoch(start), "e": to_epoch(end)}).all()
            grid: dict[tuple[int, int], int] = {}
            for gx, gy in raw:
                grid[(gx // 2, gy // 2)] = grid.get((gx // 2, gy // 2), 0) + 1
            heat = repo.event_density(area, start.date(), end.date(), cell_deg=0.01)
            assert {(round(c["lon"] / 0.01 - 0.5), round(c["lat"] / 0.01 - 0.5)): c["n"] for c in heat} == grid, area
            assert grid or area != areas[0]  # the root's month has events: the comparison is not of two empty grids
