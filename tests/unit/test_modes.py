"""Operating modes and the alert lifecycle by hand (datasources/operations/): every switch and every step
recorded with who and when, in the audit log too; permission and scope refused with clear errors."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text

from datasources import db
from datasources.access import audit
from datasources.access.roles import AccessDenied, Principal
from datasources.ingest import Writer
from datasources.operations.alerts import AlertStepError, acknowledge_alert, clear_alert
from datasources.operations.modes import ModeError, parse_schedule, switch_mode
from datasources.repository import Repository, ScopeError
from tests import live_db
from tests.conftest import AS_OF

# The fixtures of a database of the test's own (see tests/live_db.py).
fresh_url, sqlite_url, mini_template = live_db.fresh_url, live_db.sqlite_url, live_db.mini_template

T1, T2, T3 = (AS_OF + timedelta(minutes=m) for m in (10, 20, 30))
DUTY, LEADER, ANALYST = Principal("duty", "duty"), Principal("leader", "leader"), Principal("analyst", "analyst")


def _audit(engine, action: str) -> list[dict]:  # noqa: ANN001
    rows, _ = audit.search(engine, action=action, limit=50)
    return rows


# ---------------------------------------------------------------------------------------------- modes


def test_a_mode_switch_is_stored_for_every_screen_bumps_the_version_and_is_audited(fresh_url):
    engine = db.make_engine(fresh_url)
    repo = Repository(engine)
    v0 = repo.data_version()
    out = switch_mode(engine, LEADER, "flood", ip="10.0.0.7", clock=lambda: T1)
    assert out == {"mode": "flood", "previous": "daily", "changed": True}
    state = repo.mode_state()
    assert {k: state[k] for k in ("mode", "since", "by", "source", "refresh_seconds", "name_zh", "name_en")} == {
        "mode": "flood", "since": T1, "by": "leader", "source": "manual", "refresh_seconds": 3, "name_zh": "汛期",
        "name_en": "Flood season"}
    assert state["layers"][:3] == ["alerts", "rain_gauge", "river_station"]
    assert repo.data_version() == v0 + 1
    [row] = _audit(engine, "mode_switch")
    assert (row["username"], row["ts"], row["target"], row["ip"], row["detail"]) == ("leader", T1, "flood", "10.0.0.7", "daily -> flood (manual)")
    # The same mode again changes nothing and records nothing.
    assert switch_mode(engine, DUTY, "flood", clock=lambda: T2)["changed"] is False
    assert len(_audit(engine, "mode_switch")) == 1 and repo.mode_state()["by"] == "leader"
    switch_mode(engine, DUTY, "emergency", clock=lambda: T3)
    assert repo.mode_state()["refresh_seconds"] == 2
    assert [(r["username"], r["target"]) for r in _audit(engine, "mode_switch")] == [("duty", "emergency"), ("leader", "flood")]
    engine.dispose()


def test_mode_switch_refused_without_permission_for_a_scoped_caller_or_an_unknown_mode(sqlite_url):
    engine = db.make_engine(sqlite_url)
    with pytest.raises(AccessDenied, match="user 'analyst' \\(analyst\\) may not switch_mode"):
        switch_mode(engine, ANALYST, "flood", clock=lambda: T1)
    with pytest.raises(ScopeError, match="the operating mode is city-wide"):
        switch_mode(engine, Principal("duty2", "duty", scope="510182001"), "flood", clock=lambda: T1)
    with pytest.raises(ModeError, match="mode 'typhoon': unknown mode"):
        switch_mode(engine, DUTY, "typhoon", clock=lambda: T1)
    assert Repository(engine).mode_state()["mode"] == "daily"
    denied = _audit(engine, "access_denied")
    assert [(r["username"], r["outcome"], r["ts"]) for r in denied] == [("duty2", "denied", T1), ("analyst", "denied", T1)]
    engine.dispose()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("flood", "expected mode:MM-DD..MM-DD"),
        ("typhoon:06-01..09-30", "unknown mode 'typhoon'"),
        ("flood:06-31..09-30", "'06-31' is not a month-day"),
        ("flood:06-01..09-30;holiday:09-30..10-07", "09-30 is in both flood and holiday"),
    ],
)
def test_a_bad_schedule_is_rejected_naming_the_entry(spec, message):
    with pytest.raises(ModeError, match=message):
        parse_schedule(spec)


def test_schedule_days_and_periods():
    s = parse_schedule("flood:06-01..09-30; holiday:12-30..01-02")
    assert [s.mode_on(date(2026, m, d)) for m, d in ((5, 31), (6, 1), (9, 30), (10, 1), (12, 30), (1, 2), (1, 3))] == [
        "daily", "flood", "flood", "daily", "holiday", "holiday", "daily"]
    assert s.period(date(2026, 7, 15)) == "flood@2026-06-01"
    assert s.period(date(2026, 10, 5)) == "daily@2026-10-01"
    assert s.period(date(2027, 1, 1)) == "holiday@2026-12-30"
    assert parse_schedule("").entries == ()


# ---------------------------------------------------------------------------------------------- alert steps


def _open_alert(url: str, region_prefix: str | None = None) -> dict:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, rule, region_code FROM alerts WHERE cleared_at IS NULL ORDER BY id")).mappings().all()
    engine.dispose()
    return next(dict(r) for r in rows if region_prefix is None or r["region_code"].startswith(region_prefix))


def test_acknowledge_then_clear_records_who_and_when(fresh_url):
    engine = db.make_engine(fresh_url)
    alert = _open_alert(fresh_url)
    v0 = Repository(engine).data_version()
    a = acknowledge_alert(engine, DUTY, alert["id"], ip="10.0.0.9", clock=lambda: T1)
    assert (a["acknowledged_by"], a["acknowledged_at"], a["cleared_at"]) == ("duty", T1, None)
    assert Repository(engine).data_version() == v0 + 1
    shown = next(r for r in Repository(engine).open_alerts(alert["region_code"]) if r["id"] == alert["id"])
    assert (shown["acknowledged_by"], shown["acknowledged_at"]) == ("duty", T1)
    with pytest.raises(AlertStepError, match=f"alert {alert['id']}: the alert is already acknowledged"):
        acknowledge_alert(engine, DUTY, alert["id"], clock=lambda: T2)
    c = clear_alert(engine, Principal("admin", "admin"), alert["id"], clock=lambda: T2)
    assert (c["acknowledged_by"], c["cleared_by"], c["cleared_at"]) == ("duty", "admin", T2)
    assert alert["id"] not in {r["id"] for r in Repository(engine).open_alerts(alert["region_code"])}
    with pytest.raises(AlertStepError, match="the alert is already cleared \\(by admin\\)"):
        clear_alert(engine, DUTY, alert["id"], clock=lambda: T3)
    with pytest.raises(AlertStepError, match="the alert is already cleared"):
        acknowledge_alert(engine, DUTY, alert["id"], clock=lambda: T3)
    assert [(r["username"], r["ts"], r["target"], r["ip"]) for r in _audit(engine, "alert_ack")] == [("duty", T1, f"alert {alert['id']}", "10.0.0.9")]
    assert [(r["username"], r["ts"]) for r in _audit(engine, "alert_clear")] == [("admin", T2)]
    engine.dispose()


def test_clearing_needs_an_acknowledgement_and_an_existing_alert(sqlite_url):
    engine = db.make_engine(sqlite_url)
    alert = _open_alert(sqlite_url)
    with pytest.raises(AlertStepError, match="acknowledge the alert before clearing it"):
        clear_alert(engine, DUTY, alert["id"], clock=lambda: T1)
    with pytest.raises(AlertStepError, match="alert 999999: no such alert"):
        acknowledge_alert(engine, DUTY, 999999, clock=lambda: T1)
    engine.dispose()


def test_steps_refused_without_permission_or_outside_the_scope(sqlite_url):
    engine = db.make_engine(sqlite_url)
    towns = [c["code"] for c in Repository(engine).children(Repository(engine).root_code())]
    alert = _open_alert(sqlite_url, towns[0])
    with pytest.raises(AccessDenied, match="user 'leader' \\(leader\\) may not dispatch"):
        acknowledge_alert(engine, LEADER, alert["id"], clock=lambda: T1)
    other = Principal("township2", "township", scope=towns[1])
    with pytest.raises(ScopeError, match=f"alert {alert['id']} is in region {alert['region_code']}, outside the scope '{towns[1]}'"):
        acknowledge_alert(engine, other, alert["id"], clock=lambda: T1)
    own = Principal("township1", "township", scope=towns[0])
    assert acknowledge_alert(engine, own, alert["id"], clock=lambda: T2)["acknowledged_by"] == "township1"
    denied = _audit(engine, "access_denied")
    assert [(r["username"], r["ts"]) for r in denied] == [("township2", T1), ("leader", T1)]
    engine.dispose()


def test_a_step_is_one_transaction_with_its_audit_row(sqlite_url):
    """A bad batch of steps writes nothing: not the good step, not an audit row."""
    engine = db.make_engine(sqlite_url)
    alert = _open_alert(sqlite_url)
    with pytest.raises(Exception, match="unknown alert"):
        Writer(engine, clock=lambda: T1).alert_steps([
            {"id": alert["id"], "step": "acknowledge", "by": "duty"}, {"id": 999999, "step": "acknowledge", "by": "duty"}])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT acknowledged_at FROM alerts WHERE id = :i"), {"i": alert["id"]}).scalar() is None
    engine.dispose()
