"""The demo's data for the topic pages (datasources/demo_topics.py): rain gauges and river stations with
readings, risk points and charging piles that agree with the catalog indicators, rescue teams, and major
projects whose delays follow their progress against plan. Checked on the mini demo (4 townships)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import text

from datasources import db
from datasources.catalog_loader import load_catalog
from datasources.demo_events import FACILITY_ZH
from datasources.demo_topics import RESCUE_SPECIALTIES_CITY, generate_topic_readings
from datasources.ingest import Writer
from layouts.i18n import MESSAGES
from tests import live_db
from tests.conftest import AS_OF

sqlite_url, mini_template = live_db.sqlite_url, live_db.mini_template

TOPIC_KINDS = ("rain_gauge", "river_station", "risk_point", "rescue_team", "charging_station")


def _facilities(url: str, kind: str) -> list[dict]:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT f.id, f.name, f.live, f.attributes, f.region_code, r.parent_code AS township FROM facilities f "
            "JOIN regions r ON r.code = f.region_code WHERE f.kind = :k ORDER BY f.id"), {"k": kind}).mappings().all()
    engine.dispose()
    return [dict(r) | {"attributes": json.loads(r["attributes"])} for r in rows]


def _newest_loaded(url: str, indicator: str) -> dict[str, float]:
    """The newest loaded (not rolled-up) value of ``indicator`` per region."""
    engine = db.make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT v.region_code, v.value FROM indicator_values v WHERE v.indicator_code = :i AND v.derived = :f "
            "AND v.period = (SELECT MAX(w.period) FROM indicator_values w WHERE w.indicator_code = v.indicator_code "
            "AND w.region_code = v.region_code AND w.derived = :f)"), {"i": indicator, "f": False}).all()
    engine.dispose()
    return {code: float(v) for code, v in rows}


def _scalar(url: str, sql: str, **params) -> object:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        out = conn.execute(text(sql), params).scalar_one()
    engine.dispose()
    return out


def test_every_topic_kind_is_in_the_demo_with_names_in_both_languages(mini_sqlite):
    for kind in TOPIC_KINDS:
        rows = _facilities(mini_sqlite, kind)
        assert rows, kind
        assert all(FACILITY_ZH[kind] in r["name"] for r in rows), kind
        assert MESSAGES[f"layer.{kind}"]["en"] and MESSAGES[f"facility.{kind}"]["en"], kind
    assert {bool(r["live"]) for r in _facilities(mini_sqlite, "rain_gauge") + _facilities(mini_sqlite, "river_station")} == {True}
    # Added after the other kinds: every older facility keeps its id.
    newest_old = _scalar(mini_sqlite, "SELECT MAX(id) FROM facilities WHERE kind NOT IN :k".replace(":k", str(TOPIC_KINDS)))
    oldest_new = _scalar(mini_sqlite, "SELECT MIN(id) FROM facilities WHERE kind IN :k".replace(":k", str(TOPIC_KINDS)))
    assert newest_old < oldest_new


@pytest.mark.parametrize(("risk_type", "indicator"), [("geohazard", "emg_geohazard_sites"), ("waterlogging", "emg_waterlogging_points")])
def test_risk_points_per_township_equal_the_indicator(mini_sqlite, risk_type, indicator):
    points = [r for r in _facilities(mini_sqlite, "risk_point") if r["attributes"]["risk_type"] == risk_type]
    expected = _newest_loaded(mini_sqlite, indicator)
    assert len(expected) == 4 and sum(expected.values()) > 0
    assert Counter(r["township"] for r in points) == Counter({k: int(v) for k, v in expected.items() if v})
    assert {r["attributes"]["risk_level"] for r in points} <= {1, 2, 3, 4}


def test_charging_piles_per_township_equal_the_indicator(mini_sqlite):
    stations = _facilities(mini_sqlite, "charging_station")
    piles: dict[str, int] = defaultdict(int)
    for s in stations:
        assert s["attributes"]["piles"] >= 1
        piles[s["township"]] += s["attributes"]["piles"]
    assert dict(piles) == {k: int(v) for k, v in _newest_loaded(mini_sqlite, "ps_charging_points").items() if v}
    # Seed 000's ratio: 12 centralised stations per 1,755 piles, each rounded per township.
    centralised = sum(s["attributes"]["centralised"] for s in stations)
    assert abs(centralised - sum(piles.values()) * 12 / 1755) <= 4


def test_rescue_teams_one_per_township_and_the_city_specialists(mini_sqlite):
    teams = _facilities(mini_sqlite, "rescue_team")
    assert len(teams) == 4 + len(RESCUE_SPECIALTIES_CITY)
    assert Counter(t["attributes"]["specialty"] for t in teams)["综合应急"] == 4
    assert {t["attributes"]["specialty"] for t in teams if t["attributes"].get("city_level")} == set(RESCUE_SPECIALTIES_CITY)
    assert all(isinstance(t["attributes"]["members"], int) and 15 <= t["attributes"]["members"] <= 80 for t in teams)


def test_major_projects_are_delayed_exactly_when_behind_plan(mini_sqlite):
    projects = [p["attributes"] for p in _facilities(mini_sqlite, "major_project")]
    assert len(projects) == 48
    behind = [p for p in projects if p["progress"] < p["planned_progress"]]
    assert 5 <= len(behind) <= 30  # about a third
    for p in projects:
        assert (p["delay_days"] > 0) == (p["progress"] < p["planned_progress"]), p
        assert 0 <= p["planned_progress"] <= 100
        assert 0 < p["investment_done_yi"] <= p["investment_yi"]
        assert abs(p["investment_done_yi"] / p["investment_yi"] - p["progress"] / 100) <= 0.08 * p["progress"] / 100 + 0.01


def test_station_readings_cover_the_week_and_reading_rules_have_data(mini_sqlite):
    engine = db.make_engine(mini_sqlite)
    with engine.connect() as conn:
        per_metric = dict(conn.execute(text(
            "SELECT r.metric, COUNT(*) FROM readings r JOIN facilities f ON f.id = r.facility_id "
            "WHERE f.kind IN ('rain_gauge', 'river_station') GROUP BY r.metric")).all())
        rain = [v for (v,) in conn.execute(text("SELECT value FROM readings WHERE metric = 'rainfall_mm'"))]
        metrics = set(conn.execute(text("SELECT DISTINCT metric FROM readings")).scalars())
    engine.dispose()
    rivers = len(_facilities(mini_sqlite, "river_station"))
    assert per_metric == {"rainfall_mm": 168 * len(_facilities(mini_sqlite, "rain_gauge")),
                          "water_level_m": 168 * rivers, "over_warning_m": 168 * rivers}
    assert min(rain) == 0 and np.mean(np.array(rain) == 0) > 0.6  # mostly dry hours
    assert max(rain) > 0  # but it rained this week
    # Every reading rule watches a metric the demo's stations report (a renamed metric would go silent).
    assert {r.target for r in load_catalog().alert_rules if r.kind == "reading"} <= metrics


def test_river_levels_stay_below_warning_out_of_the_flood_season(mini_sqlite):
    engine = db.make_engine(mini_sqlite)
    with engine.connect() as conn:
        newest = dict(conn.execute(text(
            "SELECT r.facility_id, r.value FROM readings r WHERE r.metric = 'water_level_m' "
            "AND r.ts = (SELECT MAX(ts) FROM readings q WHERE q.facility_id = r.facility_id AND q.metric = r.metric)")).all())
    engine.dispose()
    stations = _facilities(mini_sqlite, "river_station")
    assert len(newest) == len(stations)
    for s in stations:  # November (AS_OF): at least a metre below the warning level
        assert newest[s["id"]] <= s["attributes"]["warning_level_m"] - 1, s


def test_in_the_flood_season_it_pours_and_marked_stations_run_near_warning():
    stations = [(k, "river_station", {"warning_level_m": 5.0, "near_warning": k < 3}) for k in range(10)]
    stations += [(100 + k, "rain_gauge", {}) for k in range(20)]
    df = generate_topic_readings(stations, datetime(2026, 7, 20, 18), seed=1)
    last = df[df["metric"] == "water_level_m"].groupby("facility_id")["value"].last()
    over = df[df["metric"] == "over_warning_m"].groupby("facility_id")["value"].last()
    assert (over - (last - 5.0)).abs().max() < 1e-9  # the level above the station's warning level (5 m)
    assert all(4.4 <= last[k] <= 5.0 for k in range(3)), last
    assert all(last[k] <= 3.9 for k in range(3, 10)), last
    rain = df[df["metric"] == "rainfall_mm"]["value"]
    assert rain.max() >= 20 and rain.max() <= 100  # a short heavy shower, never absurd
    assert (rain == 0).mean() > 0.5
    # The same seed gives the same readings.
    assert df.equals(generate_topic_readings(stations, datetime(2026, 7, 20, 18), seed=1))


def test_a_river_station_above_its_warning_level_raises_an_alert(sqlite_url):
    """river_over_warning (severity II, warn 0, alarm 0.5 m above the station's own warning level): 0.2 m
    above is severity III, 0.8 m above severity II, back below clears it."""
    [station] = _facilities(sqlite_url, "river_station")[:1]
    warning = station["attributes"]["warning_level_m"]
    engine = db.make_engine(sqlite_url)

    def level(above: float, hour: int) -> list[dict]:
        at = AS_OF.replace(minute=0) + timedelta(hours=hour)
        Writer(engine, clock=lambda: at).readings([
            {"facility_id": station["id"], "metric": "water_level_m", "ts": at, "value": round(warning + above, 2)},
            {"facility_id": station["id"], "metric": "over_warning_m", "ts": at, "value": above}])
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(
                "SELECT severity, value, cleared_at, message FROM alerts WHERE rule = 'river_over_warning'")).mappings()]

    assert level(-0.3, 1) == []
    [a] = level(0.2, 2)
    assert (a["severity"], a["value"], a["cleared_at"]) == (3, 0.2, None)
    assert a["message"] == f"{station['name']} 河道水位超警戒 0.2 高于预警值 0"
    [b] = level(0.8, 3)
    assert (b["severity"], b["value"]) == (2, 0.8)
    [c] = level(-0.1, 4)
    assert c["cleared_at"] is not None
    engine.dispose()
