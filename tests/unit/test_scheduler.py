"""One scheduler for the deployment (datasources/scheduler.py): a lease decides which process runs the
jobs; another takes over when it expires; the mode schedule switches at its boundaries and a manual switch
holds until the next one. Clocks are injected: nothing here waits on real time except the thread test,
which waits for an event, not a duration."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import text

from datasources import db
from datasources.access import audit
from datasources.access.roles import Principal
from datasources.operations.modes import switch_mode
from datasources.repository import Repository
from datasources.scheduler import Scheduler
from tests import live_db
from tests.conftest import AS_OF

# The fixtures of a database of the test's own (see tests/live_db.py).
fresh_url, sqlite_url, mini_template = live_db.fresh_url, live_db.sqlite_url, live_db.mini_template


class Wall:
    """A settable epoch clock shared by the schedulers of a test."""

    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def _lease(engine) -> tuple[str, int]:  # noqa: ANN001
    with engine.connect() as conn:
        return tuple(conn.execute(text("SELECT holder, expires_at FROM leases WHERE name = 'scheduler'")).one())


def test_of_two_schedulers_on_one_database_only_one_runs_the_jobs(fresh_url):
    engine = db.make_engine(fresh_url)
    wall = Wall()
    clock = lambda: AS_OF + timedelta(minutes=5)  # noqa: E731
    a = Scheduler(engine, "flood:11-01..11-30", ttl=30, wall=wall, clock=clock, holder="host-a:1:x")
    b = Scheduler(engine, "flood:11-01..11-30", ttl=30, wall=wall, clock=clock, holder="host-b:2:y")
    ra = a.run_once()
    rb = b.run_once()
    assert ra["leader"] is True and rb["leader"] is False
    assert ra["mode_switch"] == {"mode": "flood", "previous": "daily", "changed": True}  # AS_OF is in November
    assert rb["mode_switch"] is None and rb["reevaluated"] is None
    assert _lease(engine) == ("host-a:1:x", 1_000_030)
    wall.t += 10
    assert a.run_once()["leader"] is True and b.run_once()["leader"] is False  # renewed by its holder
    assert _lease(engine) == ("host-a:1:x", 1_000_040)
    assert [r["username"] for r in audit.search(engine, action="mode_switch")[0]] == ["schedule"]
    engine.dispose()


def test_another_process_takes_over_when_the_lease_expires_or_is_released(sqlite_url):
    engine = db.make_engine(sqlite_url)
    wall = Wall()
    a = Scheduler(engine, ttl=30, wall=wall, holder="a")
    b = Scheduler(engine, ttl=30, wall=wall, holder="b")
    assert a.try_lease() and not b.try_lease()
    wall.t += 30
    assert not b.try_lease()  # expires_at == now: not yet expired
    wall.t += 1  # a died: its lease ran out
    assert b.try_lease() and not a.try_lease()
    assert _lease(engine) == ("b", 1_000_061)
    b.release()
    assert a.try_lease()
    engine.dispose()


def test_the_schedule_switches_at_its_boundaries_and_a_manual_switch_holds_until_the_next(sqlite_url):
    engine = db.make_engine(sqlite_url)
    repo = Repository(engine)
    now = {"t": datetime(2026, 5, 31, 23, 50)}
    sched = Scheduler(engine, "flood:06-01..09-30", ttl=30, clock=lambda: now["t"], wall=Wall())

    def tick(at: datetime) -> dict:
        now["t"] = at
        sched.wall.t += 1
        return sched.run_once()

    assert tick(datetime(2026, 5, 31, 23, 50))["mode_switch"] is None  # daily is scheduled and current
    out = tick(datetime(2026, 6, 1, 0, 0, 15))
    assert out["mode_switch"] == {"mode": "flood", "previous": "daily", "changed": True}
    state = repo.mode_state()
    assert (state["mode"], state["by"], state["source"], state["since"]) == ("flood", "schedule", "schedule", datetime(2026, 6, 1, 0, 0, 15))
    switch_mode(engine, Principal("duty", "duty"), "emergency", clock=lambda: datetime(2026, 7, 1, 9))
    assert tick(datetime(2026, 7, 2))["mode_switch"] is None  # the manual switch holds inside the period
    assert repo.mode_state()["mode"] == "emergency"
    assert tick(datetime(2026, 10, 1, 0, 0, 10))["mode_switch"]["mode"] == "daily"  # the next boundary wins
    rows = audit.search(engine, action="mode_switch")[0]
    assert [(r["username"], r["detail"], r["ts"]) for r in rows] == [
        ("schedule", "emergency -> daily (schedule)", datetime(2026, 10, 1, 0, 0, 10)),
        ("duty", "flood -> emergency (manual)", datetime(2026, 7, 1, 9)),
        ("schedule", "daily -> flood (schedule)", datetime(2026, 6, 1, 0, 0, 15)),
    ]
    engine.dispose()


def test_a_manual_switch_before_the_first_run_holds(sqlite_url):
    engine = db.make_engine(sqlite_url)
    switch_mode(engine, Principal("duty", "duty"), "holiday", clock=lambda: AS_OF)
    out = Scheduler(engine, "flood:11-01..11-30", clock=lambda: AS_OF + timedelta(hours=1), wall=Wall()).run_once()
    assert out["mode_switch"] is None and Repository(engine).mode_state()["mode"] == "holiday"
    engine.dispose()


def test_a_quiet_reevaluation_does_not_bump_the_data_version(sqlite_url):
    engine = db.make_engine(sqlite_url)
    repo = Repository(engine)
    v0 = repo.data_version()
    out = Scheduler(engine, clock=lambda: AS_OF + timedelta(minutes=1), wall=Wall()).run_once()
    assert out["reevaluated"] == {} and out["data_version"] == v0 == repo.data_version()
    engine.dispose()


def test_the_thread_runs_ticks_and_stops_cleanly(sqlite_url, monkeypatch):
    engine = db.make_engine(sqlite_url)
    sched = Scheduler(engine, interval=0.01, ttl=30)
    ticked = threading.Event()
    real = sched.run_once

    def run_once() -> dict:
        out = real()
        ticked.set()
        return out

    monkeypatch.setattr(sched, "run_once", run_once)
    sched.start()
    assert ticked.wait(60)
    sched.stop()
    assert not sched.running
    assert _lease(engine) == (sched.holder, 0)  # released: another process may take over at once
    engine.dispose()


def test_create_app_starts_the_scheduler_only_when_configured(sqlite_url):
    from app import create_app

    off = create_app({"database_url": sqlite_url, "cache_type": "NullCache", "secret_key": "k" * 32, "scheduler": 0})
    assert "IOC_SCHEDULER" not in off.server.config
    on = create_app({"database_url": sqlite_url, "cache_type": "NullCache", "secret_key": "k" * 32, "scheduler": 1,
                     "mode_schedule": "flood:06-01..09-30"})
    sched = on.server.config["IOC_SCHEDULER"]
    assert sched.running and sched.schedule.mode_on(datetime(2026, 7, 1).date()) == "flood"
    sched.stop()
    assert not sched.running
