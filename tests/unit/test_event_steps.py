"""Event lifecycle steps: the Writer records each step (actor, time, department, note), skips a replayed
step, refuses a bad transition naming both statuses, and sets due times from the category's SLA; the
use cases check permission, scope and write the audit log. Each test writes into its own copy of the
mini demo (SQLite file or PostgreSQL schema), never into the session fixtures other tests read."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from datasources import db
from datasources.access.roles import AccessDenied, Principal
from datasources.catalog_loader import CatalogError, event_categories, load_event_categories
from datasources.demo_events import SOURCES
from datasources.ingest import IngestError, Writer
from datasources.operations import events as ops
from tests.conftest import AS_OF, pg_copy, sqlite_copy

NOW = AS_OF + timedelta(minutes=30)
DUTY = Principal("duty", "duty")


@pytest.fixture(scope="module")
def mini_template(mini_pristine) -> str:
    """The session's pristine mini demo SQLite database, which tests copy."""
    return mini_pristine


def own_sqlite(template: str, tmp_path: Path):  # noqa: ANN201
    return db.make_engine(sqlite_copy(template, tmp_path / "own.db"))


@pytest.fixture
def own_pg(mini_pg_template):  # noqa: ANN201
    """A PostgreSQL database of this test's own holding the mini demo (dropped afterwards)."""
    with pg_copy(mini_pg_template) as url:
        engine = db.make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, mini_template, tmp_path):  # noqa: ANN201
    if request.param == "sqlite":
        return own_sqlite(mini_template, tmp_path)
    return request.getfixturevalue("own_pg")


def reported_event(engine, offset: int = 0) -> dict:  # noqa: ANN001
    with engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT id, category, department, region_code, reported_at FROM events WHERE status = 'reported' ORDER BY id LIMIT 1 OFFSET :o"
        ), {"o": offset}).mappings().one())


def steps_of(engine, event_id: int) -> list[dict]:  # noqa: ANN001
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT at, from_status, to_status, actor, department, note, external_id FROM event_steps WHERE event_id = :e ORDER BY id"
        ), {"e": event_id}).mappings()]


# ---------------------------------------------------------------------------------------------- the Writer
def test_each_step_is_recorded_with_actor_time_department_and_note(engine):
    ev = reported_event(engine)
    w = Writer(engine, clock=lambda: NOW)
    w.event_updates([{"id": ev["id"], "status": "dispatched", "department": "市城管局", "note": "去现场"}], actor="duty")
    w.event_updates([{"id": ev["id"], "status": "processing", "at": "2026-11-20 18:10:00"}])
    steps = steps_of(engine, ev["id"])
    assert [(s["from_status"], s["to_status"], s["actor"]) for s in steps] == [
        ("reported", "dispatched", "duty"), ("dispatched", "processing", "system")]
    assert steps[0]["department"] == "市城管局" and steps[0]["note"] == "去现场"
    assert steps[1]["department"] == "市城管局"  # the event's department carries over
    assert steps[0]["at"] == int(NOW.timestamp()) - int(datetime(1970, 1, 1).timestamp())  # epoch of the city's wall clock
    with engine.connect() as conn:
        status, disp = conn.execute(text("SELECT status, dispatched_at FROM events WHERE id = :i"), {"i": ev["id"]}).one()
    assert status == "processing" and disp == steps[0]["at"]


def test_a_replayed_step_is_skipped_and_reported_not_refused_nor_doubled(engine):
    ev = reported_event(engine)
    w = Writer(engine, clock=lambda: NOW)
    step = {"id": ev["id"], "status": "dispatched", "external_id": "feed-step-1"}
    first = w.event_updates([step], actor="token:feed")
    assert first.written["event_updates"] == 1 and first.skipped == []
    again = w.event_updates([step], actor="token:feed")  # the event is dispatched now: a fresh step would be refused
    assert again.written["event_updates"] == 0
    assert again.skipped == [{"record": 0, "id": ev["id"], "external_id": "feed-step-1"}]
    assert len(steps_of(engine, ev["id"])) == 1


def test_a_step_id_of_another_event_is_refused(engine):
    a, b = reported_event(engine, 0), reported_event(engine, 1)
    w = Writer(engine, clock=lambda: NOW)
    w.event_updates([{"id": a["id"], "status": "dispatched", "external_id": "x-1"}])
    with pytest.raises(IngestError, match="already used by a step of event"):
        w.event_updates([{"id": b["id"], "status": "dispatched", "external_id": "x-1"}])


def test_a_bad_transition_is_refused_naming_both_statuses_and_nothing_is_written(engine):
    ev, other = reported_event(engine, 0), reported_event(engine, 1)
    w = Writer(engine, clock=lambda: NOW)
    with pytest.raises(IngestError) as err:
        w.event_updates([{"id": other["id"], "status": "dispatched"}, {"id": ev["id"], "status": "closed"}])
    assert "record 1, field 'status': cannot go from reported to closed" in str(err.value)
    assert steps_of(engine, ev["id"]) == [] and steps_of(engine, other["id"]) == []


def test_due_time_is_report_time_plus_the_category_sla_unless_given(engine):
    sla = event_categories()["fire"].sla_hours
    assert sla == 24
    region = reported_event(engine)["region_code"]
    base = {"source": "emergency", "category": "fire", "theme": "emergency", "severity": 2, "title": "t", "status": "reported",
            "region_code": region, "reported_at": "2026-11-20 08:00:00"}
    Writer(engine, clock=lambda: NOW).events([base | {"title": "no due"}, base | {"title": "due", "due_at": "2026-11-20 12:00:00"},
                                             base | {"title": "unknown", "category": "not_in_catalog"}])
    with engine.connect() as conn:
        due = dict(conn.execute(text("SELECT title, due_at FROM events WHERE title IN ('no due', 'due', 'unknown')")).all())
    epoch = datetime(1970, 1, 1)
    assert due["no due"] == int((datetime(2026, 11, 21, 8, 0) - epoch).total_seconds())  # 08:00 + 24 h
    assert due["due"] == int((datetime(2026, 11, 20, 12, 0) - epoch).total_seconds())
    assert due["unknown"] is None


# ---------------------------------------------------------------------------------------------- use cases
def test_dispatch_goes_to_the_suggested_department_and_writes_the_audit(engine):
    ev = reported_event(engine)
    state = ops.dispatch(engine, DUTY, ev["id"], note="一键调度", ip="10.0.0.5", clock=lambda: NOW)
    assert state["status"] == "dispatched" and state["dispatched_at"] == NOW
    assert state["department"] == event_categories()[ev["category"]].department
    assert state["last_step"]["actor"] == "duty" and state["last_step"]["note"] == "一键调度"
    with engine.connect() as conn:
        row = conn.execute(text("SELECT action, username, outcome, target, ip FROM audit_log ORDER BY id DESC LIMIT 1")).one()
    assert tuple(row) == ("dispatch", "duty", "ok", f"event {ev['id']}", "10.0.0.5")
    state = ops.advance(engine, DUTY, ev["id"], "processing", note="到场", department="市应急局", clock=lambda: NOW)
    assert (state["status"], state["department"]) == ("processing", "市应急局")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT action FROM audit_log ORDER BY id DESC LIMIT 1")).scalar() == "event_step"


def test_resolve_then_reopen_then_close(engine):
    ev = reported_event(engine)
    for status in ("processing", "resolved"):
        if status == "processing":
            ops.dispatch(engine, DUTY, ev["id"], clock=lambda: NOW)
        state = ops.advance(engine, DUTY, ev["id"], status, clock=lambda: NOW)
    assert state["resolved_at"] == NOW
    state = ops.advance(engine, DUTY, ev["id"], "processing", note="退回重办", clock=lambda: NOW)
    assert state["status"] == "processing" and state["resolved_at"] is None
    ops.advance(engine, DUTY, ev["id"], "resolved", clock=lambda: NOW)
    state = ops.advance(engine, DUTY, ev["id"], "closed", satisfaction=5, clock=lambda: NOW)
    assert (state["status"], state["satisfaction"]) == ("closed", 5)
    assert [s["to_status"] for s in steps_of(engine, ev["id"])] == ["dispatched", "processing", "resolved", "processing", "resolved", "closed"]


@pytest.mark.parametrize("role", ["leader", "analyst"])
def test_roles_without_dispatch_are_refused_and_audited(engine, role):
    ev = reported_event(engine)
    with pytest.raises(AccessDenied, match="may not dispatch"):
        ops.dispatch(engine, Principal(role, role), ev["id"])
    with engine.connect() as conn:
        row = conn.execute(text("SELECT action, username, outcome FROM audit_log ORDER BY id DESC LIMIT 1")).one()
    assert tuple(row) == ("access_denied", role, "denied")
    assert steps_of(engine, ev["id"]) == []


def test_a_township_officer_may_dispatch_inside_the_township_only(engine):
    with engine.connect() as conn:
        towns = conn.execute(text("SELECT code FROM regions WHERE level = 1 ORDER BY code")).scalars().all()
        first_reported = {t: conn.execute(text(
            "SELECT e.id FROM events e JOIN region_closure c ON c.descendant_code = e.region_code "
            "WHERE c.ancestor_code = :t AND e.status = 'reported' ORDER BY e.id LIMIT 1"), {"t": t}).scalar() for t in towns}
        towns = [t for t in towns if first_reported[t] is not None]  # townships with an event still to dispatch
        inside, outside = (first_reported[t] for t in towns[:2])
    officer = Principal("township", "township", towns[0])
    with pytest.raises(ops.StepRefused, match="unknown event"):
        ops.dispatch(engine, officer, outside)
    assert steps_of(engine, outside) == []
    assert ops.dispatch(engine, officer, inside, clock=lambda: NOW)["status"] == "dispatched"


def test_a_refused_transition_names_current_and_requested_status(engine):
    ev = reported_event(engine)
    with pytest.raises(ops.StepRefused, match="cannot go from reported to resolved"):
        ops.advance(engine, DUTY, ev["id"], "resolved")
    with pytest.raises(ops.StepRefused, match="must be one of processing, resolved, closed"):
        ops.advance(engine, DUTY, ev["id"], "dispatched")


# ---------------------------------------------------------------------------------------------- the catalog
def test_the_demo_sources_agree_with_the_category_catalog():
    cats = event_categories()
    demo = {cid: src.id for src in SOURCES for cid, _w in src.categories}
    assert set(demo) == set(cats)
    assert all(cats[c].source == s for c, s in demo.items())
    # The published SLAs per source (hours): the demo's numbers must not move.
    sla = {s: {cats[c].sla_hours for c, src in demo.items() if src == s} for s in set(demo.values())}
    assert sla == {"hotline": {120}, "city_management": {48}, "grid": {72}, "emergency": {24}, "sensor": {12}}
    assert all(len(c.sop_zh) == len(c.sop_en) >= 3 for c in cats.values())


@pytest.mark.parametrize(("cell", "value", "message"), [
    ("sla_hours", "0", "line 3, field 'sla_hours': 0 is outside"),
    ("sla_hours", "abc", "line 3, field 'sla_hours': 'abc' is not a number"),
    ("theme", "sports", "line 3, field 'theme': unknown theme 'sports'"),
    ("sop_en", "a|b", "line 3, field 'sop_en': 2 steps, but sop_zh has 5"),
    ("sop_zh", "a||b", "line 3, field 'sop_zh': step 2 of 'a||b' is empty"),
    ("category", "consult", "line 3, field 'category': duplicate category 'consult' (first on line 2)"),
])
def test_a_bad_category_row_names_file_line_and_field(tmp_path, cell, value, message):
    import csv

    from datasources.catalog_loader import CATALOG_DIR

    for name in ("pages.csv", "indicators.csv", "rules.csv"):
        shutil.copy(CATALOG_DIR / name, tmp_path / name)
    rows = list(csv.DictReader((CATALOG_DIR / "event_categories.csv").open(encoding="utf-8")))
    rows[1][cell] = value
    with (tmp_path / "event_categories.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(CatalogError) as err:
        load_event_categories(tmp_path)
    assert str(err.value).startswith("event_categories.csv " + message), str(err.value)
