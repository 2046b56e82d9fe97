"""Alert rules kept as data (datasources/catalog/alert_rules.csv, datasources/ingest/alerting.py): each
kind fires and clears on crafted data with hand-checked numbers; the surge rule stays quiet on the demo's
normal seasonal peaks; every alert has a position; the catalog files are validated naming file, line
and field."""

from __future__ import annotations

import csv
import shutil
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from datasources import db
from datasources.access.roles import Principal
from datasources.catalog_loader import (
    ALERT_RULES_FILE,
    CATALOG_DIR,
    LAYER_KEYS,
    MODE_IDS,
    MODES_FILE,
    CatalogError,
    load_catalog,
)
from datasources.ingest import Writer
from datasources.ingest.alerting import surge_counts
from datasources.models import to_epoch
from datasources.operations.modes import switch_mode
from datasources.repository import Repository
from datasources.rules import (
    is_surge,
    poisson_surge_count,
    reading_severity,
    surge_baseline,
    surge_offsets,
    surge_threshold,
)
from tests import live_db
from tests.conftest import AS_OF

# The fixtures of a database of the test's own (see tests/live_db.py).
fresh_url, sqlite_url, mini_template = live_db.fresh_url, live_db.sqlite_url, live_db.mini_template

NOW = AS_OF + timedelta(hours=1)
DUTY = Principal("duty", "duty")


def _rows(url: str, sql: str, **params) -> list[dict]:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        out = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    engine.dispose()
    return out


def _alerts(url: str, rule: str) -> list[dict]:
    return _rows(url, "SELECT * FROM alerts WHERE rule = :r ORDER BY id", r=rule)


# ---------------------------------------------------------------------------------------------- pure rules


def test_surge_threshold_by_hand():
    # Quiet area: baseline 0.5 → P(X >= 8) = 6.2e-8 <= 1e-6 < P(X >= 7) = 1.0e-6 + …; max(10, 2, 8) = 10.
    assert poisson_surge_count(0.5) == 8
    assert surge_threshold(0.5, 4, 10) == 10
    # Busy area: baseline 9 → Poisson count 27; max(10, 36, 27) = 36 (the factor rules).
    assert surge_threshold(9, 4, 10) == 36
    # Low factor: baseline 16, factor 1.5 → max(3, 24, 39) = 39 (ordinary variation reaches 38).
    assert surge_threshold(16, 1.5, 3) == 39
    assert is_surge(39, 16, 1.5, 3) and not is_surge(38, 16, 1.5, 3)
    # Baseline: 4 recent windows held 8 events (mean 2), the 9 year-ago windows 27 (mean 3): the larger.
    assert surge_baseline(8, 27, 4) == 3
    assert surge_baseline(12, 9, 4) == 3  # recent mean 3 > year-ago mean 1
    assert surge_baseline(0, 0, 4) == 1 / 13  # no history: one event over the 13 windows
    offsets = surge_offsets(2)
    assert offsets == [(0, 0), (1, 7), (1, 14), (2, 350), (2, 357), (2, 364), (2, 371), (2, 378)]


@pytest.mark.parametrize("mean", [1 / 13, 0.25, 0.5, 2, 9, 16, 100, 1000])
def test_poisson_surge_count_agrees_with_scipy(mean):
    stats = pytest.importorskip("scipy.stats")
    k = poisson_surge_count(mean)
    assert stats.poisson.sf(k - 1, mean) <= 1e-6 < stats.poisson.sf(k - 2, mean)


@pytest.mark.parametrize(("status", "expected"), [("alarm", 2), ("warn", 3), ("ok", None), ("none", None)])
def test_reading_severity_one_grade_lower_beyond_warn(status, expected):
    assert reading_severity(status, 2) == expected
    assert reading_severity("warn", 4) == 4  # IV is the lowest grade


# ---------------------------------------------------------------------------------------------- reading rules


def test_reading_rule_opens_escalates_and_clears(fresh_url):
    """river_level: warn 5 m, alarm 5.5 m, severity II, above is bad."""
    station = _rows(fresh_url, "SELECT id, name, lon, lat, region_code FROM facilities WHERE kind = 'water_station' ORDER BY id")[0]
    engine = db.make_engine(fresh_url)

    def level(value: float, at: datetime) -> None:
        Writer(engine, clock=lambda: at).readings([{"facility_id": station["id"], "metric": "water_level", "ts": at, "value": value}])

    level(5.0, NOW)  # exactly on warn: still acceptable
    assert _alerts(fresh_url, "river_level") == []
    level(5.2, NOW + timedelta(hours=1))  # beyond warn: severity III
    [a] = _alerts(fresh_url, "river_level")
    assert (a["severity"], a["value"], a["facility_id"], a["region_code"]) == (3, 5.2, station["id"], station["region_code"])
    assert (a["lon"], a["lat"]) == (station["lon"], station["lat"])
    assert a["message"] == f"{station['name']} 河道水位超警 5.2 高于预警值 5"
    assert a["started_at"] == to_epoch(NOW + timedelta(hours=1)) and a["cleared_at"] is None
    level(5.8, NOW + timedelta(hours=2))  # beyond alarm: the same alert, severity II
    [b] = _alerts(fresh_url, "river_level")
    assert (b["id"], b["severity"], b["value"], b["started_at"]) == (a["id"], 2, 5.8, a["started_at"])
    assert b["message"] == f"{station['name']} 河道水位超警 5.8 高于报警值 5.5"
    level(4.1, NOW + timedelta(hours=3))  # back within limits: cleared by the rule
    [c] = _alerts(fresh_url, "river_level")
    assert (c["cleared_by"], c["cleared_at"]) == ("system", to_epoch(NOW + timedelta(hours=3)))
    engine.dispose()


def test_a_rule_for_a_metric_no_station_has_yet_opens_only_in_its_modes(sqlite_url):
    """rainfall_hourly (modes flood;emergency, warn 20, alarm 50 mm/h): a new rain gauge reads 60 mm.
    Daily: nothing; flood: an alert at the gauge; daily again: cleared by 'mode'."""
    engine = db.make_engine(sqlite_url)
    leaf = _rows(sqlite_url, "SELECT code, centroid_lon, centroid_lat FROM regions WHERE level = 2 ORDER BY code")[0]
    writer = Writer(engine, clock=lambda: NOW)
    writer.facilities([{"kind": "rain_gauge", "name": "测试雨量站", "lon": leaf["centroid_lon"], "lat": leaf["centroid_lat"], "live": True}])
    gauge = _rows(sqlite_url, "SELECT id FROM facilities WHERE name = '测试雨量站'")[0]["id"]
    writer.readings([{"facility_id": gauge, "metric": "rainfall_mm", "ts": NOW, "value": 60}])
    assert _alerts(sqlite_url, "rainfall_hourly") == []
    switch_mode(engine, DUTY, "flood", clock=lambda: NOW + timedelta(minutes=5))
    [a] = _alerts(sqlite_url, "rainfall_hourly")
    assert (a["severity"], a["value"], a["facility_id"], a["lon"], a["lat"]) == (2, 60.0, gauge, leaf["centroid_lon"], leaf["centroid_lat"])
    assert a["started_at"] == to_epoch(NOW + timedelta(minutes=5))
    switch_mode(engine, DUTY, "daily", clock=lambda: NOW + timedelta(minutes=9))
    [b] = _alerts(sqlite_url, "rainfall_hourly")
    assert (b["cleared_by"], b["cleared_at"]) == ("mode", to_epoch(NOW + timedelta(minutes=9)))
    engine.dispose()


# ---------------------------------------------------------------------------------------------- surge rules


def _sanitation(region: str, lon: float, lat: float, times: list[datetime]) -> list[dict]:
    return [
        {"source": "grid", "category": "sanitation", "theme": "environment", "severity": 4, "title": f"测试垃圾堆放 {k}",
         "lon": lon, "lat": lat, "region_code": region, "reported_at": t, "status": "reported"}
        for k, t in enumerate(times)
    ]


def _window_count(url: str, region: str, end: datetime, hours: int) -> int:
    return _rows(
        url, "SELECT COUNT(*) AS n FROM events WHERE category = 'sanitation' AND region_code = :r AND reported_at > :lo "
        "AND reported_at <= :hi", r=region, lo=to_epoch(end - timedelta(hours=hours)), hi=to_epoch(end),
    )[0]["n"]


def test_surge_fires_on_a_burst_and_clears_when_its_window_has_passed(fresh_url):
    """surge_sanitation: a community's sanitation reports in 24 h against its own baseline; factor 4,
    min_count 10. The crafted burst brings the window to exactly 9 (no alert), then 10 (alert)."""
    # The baseline, counted here one window at a time (independently of the rule's single SQL pass), of
    # the first community quiet enough for min_count to set the threshold.
    for leaf in _rows(fresh_url, "SELECT code, name, centroid_lon, centroid_lat FROM regions WHERE level = 2 ORDER BY code"):
        recent = sum(_window_count(fresh_url, leaf["code"], NOW - timedelta(days=7 * k), 24) for k in range(1, 5))
        year = sum(_window_count(fresh_url, leaf["code"], NOW - timedelta(days=364 + 7 * j), 24) for j in range(-4, 5))
        baseline = max(recent / 4, year / 9, 1 / 13)
        if surge_threshold(baseline, 4, 10) == 10:
            break
    assert surge_threshold(baseline, 4, 10) == 10
    before = _window_count(fresh_url, leaf["code"], NOW, 24)
    engine = db.make_engine(fresh_url)
    writer = Writer(engine, clock=lambda: NOW)
    # The window is (now - 24 h, now]: one report exactly 24 h ago is outside, one 23 h 58 min ago inside.
    edges = [NOW - timedelta(hours=24), NOW - timedelta(hours=23, minutes=58)]
    burst = [NOW - timedelta(minutes=20 * k + 2) for k in range(10 - before - 2)]
    writer.events(_sanitation(leaf["code"], leaf["centroid_lon"], leaf["centroid_lat"], edges + burst))
    assert _window_count(fresh_url, leaf["code"], NOW, 24) == 9
    assert _alerts(fresh_url, "surge_sanitation") == []
    writer.events(_sanitation(leaf["code"], leaf["centroid_lon"], leaf["centroid_lat"], [NOW - timedelta(minutes=1)]))
    [a] = _alerts(fresh_url, "surge_sanitation")
    assert (a["region_code"], a["category"], a["value"], a["severity"]) == (leaf["code"], "sanitation", 10.0, 3)
    assert (a["lon"], a["lat"], a["started_at"]) == (leaf["centroid_lon"], leaf["centroid_lat"], to_epoch(NOW))
    assert a["message"].startswith(f"{leaf['name']} 环境卫生事件激增：24小时 10 起（常态 {baseline:.1f} 起")
    # A day later the burst has left the window: the scheduler's re-evaluation clears the alert.
    later = NOW + timedelta(hours=25)
    report = Writer(engine, clock=lambda: later).reevaluate()
    [b] = _alerts(fresh_url, "surge_sanitation")
    assert (b["cleared_by"], b["cleared_at"]) == ("system", to_epoch(later))
    assert report.derived["surge_alerts"] == 1
    engine.dispose()


def _surge_rules() -> list[dict]:
    return [
        {"id": r.id, "target": r.target, "window_hours": r.window_hours, "baseline_weeks": r.baseline_weeks,
         "factor": r.factor, "min_count": r.min_count, "level": r.level}
        for r in load_catalog().alert_rules if r.kind == "surge"
    ]


def _fires(url: str, times: list[datetime]) -> list[tuple]:
    """Every (rule, time, area, count, baseline) where a surge rule (in any mode) would fire."""
    return [f for rule in _surge_rules() for f in _fires_one(url, rule, times)]


def test_surges_stay_quiet_on_the_mini_demo_through_a_year_of_seasons(mini_sqlite):
    """Every surge rule at 400 times over the last year (every 22 h, so every time of day and weekday):
    the demo's summer peaks and weekday rhythm are in the baseline, so nothing fires."""
    times = [AS_OF - timedelta(hours=22 * k) for k in range(400)]
    assert _fires(mini_sqlite, times) == []


@pytest.mark.slow
def test_surges_stay_quiet_on_the_county_demo_in_its_busiest_month(county_sqlite):
    """At county scale (300 communities, ~650,000 events a year) in the busiest month of each rule's
    category, every 5 hours: no surge fires."""
    url, _ = county_sqlite
    fired = []
    for rule in _surge_rules():
        busiest = _rows(url, "SELECT month, SUM(n) AS n FROM event_monthly WHERE category = :c AND region_code = "
                        "(SELECT code FROM regions WHERE level = 0) GROUP BY month ORDER BY 2 DESC", c=rule["target"])
        month = datetime.fromisoformat(str(busiest[0]["month"])[:10])
        if month < AS_OF - timedelta(days=365 + 7 * rule["baseline_weeks"]) or month + timedelta(days=31) > AS_OF:
            # The busiest full month with a year-ago baseline behind it.
            month = datetime.fromisoformat(str(next(
                r["month"] for r in busiest
                if AS_OF - timedelta(days=365 + 30) > datetime.fromisoformat(str(r["month"])[:10]) > AS_OF - timedelta(days=730)
            ))[:10])
        times = [month + timedelta(hours=5 * k + 3) for k in range(144)]
        fired += _fires_one(url, rule, times)
    assert fired == []


def _fires_one(url: str, rule: dict, times: list[datetime]) -> list[tuple]:
    engine = db.make_engine(url)
    out = []
    with engine.connect() as conn:
        level = conn.execute(text("SELECT MAX(level) FROM regions")).scalar() if rule["level"] is None else rule["level"]
        for t in times:
            for row in surge_counts(conn, rule, t, level):
                b = surge_baseline(row.n_recent, row.n_year, rule["baseline_weeks"])
                if is_surge(row.n_now, b, rule["factor"], rule["min_count"]):
                    out.append((rule["id"], t, row.area, row.n_now, round(b, 2)))
    engine.dispose()
    return out


# ---------------------------------------------------------------------------------------------- indicator rules


def test_an_indicator_rule_limits_threshold_alerts_to_its_modes_with_its_severity(fresh_url):
    """river_margin: emg_river_warning_margin (alarm below 0.3 m) alerts only in flood season and
    emergencies, with severity I (threshold alerts without a rule have II)."""
    town = _rows(fresh_url, "SELECT code, centroid_lon, centroid_lat FROM regions WHERE level = 1 ORDER BY code")[0]
    engine = db.make_engine(fresh_url)
    Writer(engine, clock=lambda: NOW).values([{"indicator": "emg_river_warning_margin", "region": town["code"], "period": "2026-11", "value": 0.1}])
    rule = "threshold:emg_river_warning_margin"
    assert _alerts(fresh_url, rule) == []
    switch_mode(engine, DUTY, "flood", clock=lambda: NOW + timedelta(minutes=1))
    opened = [a for a in _alerts(fresh_url, rule) if a["region_code"] == town["code"]]
    assert [(a["severity"], a["value"], a["lon"], a["lat"]) for a in opened] == [(1, 0.1, town["centroid_lon"], town["centroid_lat"])]
    assert all(a["severity"] == 1 for a in _alerts(fresh_url, rule))
    switch_mode(engine, DUTY, "daily", clock=lambda: NOW + timedelta(minutes=2))
    assert {(a["cleared_by"], a["cleared_at"]) for a in _alerts(fresh_url, rule)} == {("mode", to_epoch(NOW + timedelta(minutes=2)))}
    # An indicator without a rule is untouched by the switch: the demo's threshold alerts stay open.
    assert _rows(fresh_url, "SELECT COUNT(*) AS n FROM alerts WHERE rule LIKE 'threshold:%' AND cleared_at IS NULL")[0]["n"] == 67  # the mini demo as built (seed 1)
    engine.dispose()


# ---------------------------------------------------------------------------------------------- positions, reads


def test_every_alert_has_a_position_and_severe_events_sit_at_the_event(sqlite_url):
    engine = db.make_engine(sqlite_url)
    leaf = _rows(sqlite_url, "SELECT code FROM regions WHERE level = 2 ORDER BY code")[3]["code"]
    Writer(engine, clock=lambda: NOW).events([
        {"source": "emergency", "category": "hazmat", "theme": "emergency", "severity": 1, "title": "测试危化品泄漏",
         "lon": 103.9, "lat": 31.1, "region_code": leaf, "reported_at": NOW - timedelta(minutes=3), "status": "reported"},
    ])
    assert _rows(sqlite_url, "SELECT COUNT(*) AS n FROM alerts WHERE lon IS NULL OR lat IS NULL")[0]["n"] == 0
    [a] = _alerts(sqlite_url, "severe_event")
    assert (a["lon"], a["lat"], a["severity"]) == (103.9, 31.1, 1)
    engine.dispose()


def test_open_alerts_most_severe_first_within_the_area(fresh_url):
    repo = Repository(db.make_engine(fresh_url))
    root = repo.root_code()
    station = _rows(fresh_url, "SELECT id, region_code FROM facilities WHERE kind = 'water_station' ORDER BY id")[0]
    Writer(repo.engine, clock=lambda: NOW).readings([{"facility_id": station["id"], "metric": "water_level", "ts": NOW, "value": 6}])
    rows = repo.open_alerts(root, limit=100)
    assert len(rows) == 68
    assert rows[0]["rule"] == "river_level" and rows[0]["kind"] == "reading" and rows[0]["value"] == 6.0
    assert [r["severity"] for r in rows] == sorted(r["severity"] for r in rows)
    assert {r["kind"] for r in rows} == {"reading", "indicator"}
    town = [c["code"] for c in repo.children(root) if c["code"] != station["region_code"][:9]][0]
    assert all(r["region_code"].startswith(town) for r in repo.scoped(town).open_alerts(town))
    assert "river_level" not in {r["rule"] for r in repo.scoped(town).open_alerts(town)}
    assert repo.open_alert_count(root) == 68 and len(repo.recent_alerts(root, 100)) == 68
    repo.engine.dispose()


# ---------------------------------------------------------------------------------------------- catalog files


def test_the_shipped_rules_and_modes_load():
    cat = load_catalog()
    assert {r.kind for r in cat.alert_rules} == {"reading", "surge", "indicator"}
    assert {m.mode for m in cat.modes} == set(MODE_IDS)
    assert next(m for m in cat.modes if m.mode == "emergency").refresh_seconds <= 5
    assert {r.target for r in cat.alert_rules if r.kind == "reading"} >= {"water_level", "rainfall_mm", "aqi"}


def test_layer_keys_and_modes_match_the_screens():
    from callbacks.state import MODES
    from layouts.map_layers import LAYER_KEYS as REGISTERED

    assert tuple(LAYER_KEYS) == tuple(REGISTERED)
    assert tuple(MODE_IDS) == tuple(MODES)


def _edit(tmp_path, name: str, line: int, field: str, value: str):  # noqa: ANN202
    folder = tmp_path / "cat"
    shutil.copytree(CATALOG_DIR, folder)
    path = folder / name
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    rows[line - 1][rows[0].index(field)] = value
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return folder


@pytest.mark.parametrize(
    ("name", "line", "field", "value", "reason"),
    [
        (ALERT_RULES_FILE, 2, "kind", "sensor", "unknown kind 'sensor'"),
        (ALERT_RULES_FILE, 2, "severity", "5", "outside 1 (I, most severe) .. 4 (IV)"),
        (ALERT_RULES_FILE, 2, "alarm", "4", "alarm 4 is below warn 5"),
        (ALERT_RULES_FILE, 2, "warn", "", "a reading rule needs both warn and alarm"),
        (ALERT_RULES_FILE, 2, "window_hours", "24", "not used by a reading rule"),
        (ALERT_RULES_FILE, 3, "modes", "flood;typhoon", "unknown mode 'typhoon'"),
        (ALERT_RULES_FILE, 6, "factor", "0.5", "must be at least 1"),
        (ALERT_RULES_FILE, 6, "min_count", "", "is not a non-negative integer"),
        (ALERT_RULES_FILE, 6, "baseline_weeks", "40", "40 is above 26"),
        (ALERT_RULES_FILE, 13, "target", "eco_gdp", "has no warn/alarm thresholds"),
        (ALERT_RULES_FILE, 13, "target", "no_such", "unknown indicator 'no_such'"),
        (ALERT_RULES_FILE, 3, "id", "river_level", "duplicate id 'river_level' (first on line 2)"),
        (ALERT_RULES_FILE, 2, "id", "severe_event", "built-in alert rule"),
        (MODES_FILE, 6, "refresh_seconds", "30", "too slow for an emergency"),
        (MODES_FILE, 3, "layers", "water_station;river", "unknown map layer 'river'"),
        (MODES_FILE, 3, "panels", "emergency;nothing", "neither a page id nor an indicator code"),
        (MODES_FILE, 3, "mode", "typhoon", "unknown mode 'typhoon'"),
        (MODES_FILE, 3, "mode", "daily", "duplicate mode 'daily' (first on line 2)"),
    ],
)
def test_bad_rule_and_mode_rows_are_rejected_naming_file_line_and_field(tmp_path, name, line, field, value, reason):
    folder = _edit(tmp_path, name, line, field, value)
    with pytest.raises(CatalogError) as err:
        load_catalog(folder)
    assert (err.value.file, err.value.row, err.value.field) == (name, line, field)
    assert reason in err.value.message


def test_catalog_load_replaces_rules_and_clears_the_alerts_of_a_removed_rule(sqlite_url, tmp_path):
    engine = db.make_engine(sqlite_url)
    station = _rows(sqlite_url, "SELECT id FROM facilities WHERE kind = 'water_station' ORDER BY id")[0]["id"]
    Writer(engine, clock=lambda: NOW).readings([{"facility_id": station, "metric": "water_level", "ts": NOW, "value": 6}])
    assert len(_alerts(sqlite_url, "river_level")) == 1
    folder = tmp_path / "cat"
    shutil.copytree(CATALOG_DIR, folder)
    lines = (folder / ALERT_RULES_FILE).read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / ALERT_RULES_FILE).write_text("".join(ln for ln in lines if not ln.startswith("river_level,")), encoding="utf-8")
    report = Writer(engine, clock=lambda: NOW + timedelta(minutes=1)).catalog(load_catalog(folder))
    assert report.catalog.alert_rules == len(lines) - 2
    [a] = _alerts(sqlite_url, "river_level")
    assert (a["cleared_by"], a["cleared_at"]) == ("system", to_epoch(NOW + timedelta(minutes=1)))
    engine.dispose()


def test_modes_profile_order_is_the_file_order(sqlite_url):
    state = Repository(db.make_engine(sqlite_url)).mode_state()
    assert [m["mode"] for m in state["modes"]] == list(MODE_IDS)
    assert (state["mode"], state["source"], state["refresh_seconds"], state["layers"]) == ("daily", "default", 5, ["heat", "open", "alerts"])
    assert state["panels"] == ["economy", "governance", "emergency", "public_service", "environment"]
