"""The write path: incremental writes give exactly what a full rebuild gives; bad batches are rejected whole
with errors naming the record and field; an empty database with a catalog and a values file is a working
cockpit."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from callbacks.auth import StartupError
from callbacks.cockpit import cockpit_view
from callbacks.services import Services
from config import Config
from datasources import boundaries, db
from datasources.access.accounts import Accounts
from datasources.demo import OUTLINE
from datasources.ingest import IngestError, Writer
from datasources.repository import Repository
from tests import live_db, write_batches
from tests.conftest import AS_OF, login

NOW = AS_OF + timedelta(hours=1)
LAYERS = ["heat", "open", "camera", "base_station"]
# A copy of the mini demo per test (SQLite file, PostgreSQL database), made from templates built once.
fresh_url, mini_template = live_db.fresh_url, live_db.mini_template


def _services(url: str) -> Services:
    from app import create_app

    return create_app({"database_url": url, "cache_type": "NullCache", "secret_key": "k" * 32}).server.config["IOC_SERVICES"]


def _screen(url: str, areas: list[str]) -> dict:
    """What the cockpit shows for each area (map patch, KPI parts, event panel), as comparable JSON."""
    services = _services(url)
    out = {}
    version = services.repo.data_version()
    for area in areas:
        view = cockpit_view(services, f"?area={area}", LAYERS, None, {"w": 1000, "h": 760, "vh": 1080})
        out[area] = json.loads(json.dumps(
            {"figure": view["figure"].to_plotly_json(), "kpi": view["kpi"], "stats": view["event_stats"]},
            default=lambda o: o.to_plotly_json() if hasattr(o, "to_plotly_json") else str(o),
        ).replace(f"?v={version}", "?v=<version>"))  # the geometry URL names the data version
    return out


def _derived(url: str) -> dict[str, list]:
    """Every derived row, sorted: roll-ups, rule values, open alerts."""
    engine = db.make_engine(url)
    queries = {
        "event_monthly": "SELECT * FROM event_monthly ORDER BY 1, 2, 3, 4, 5, 6",
        "event_cells": "SELECT * FROM event_cells ORDER BY 1, 2, 3, 4",
        "indicator_values": "SELECT indicator_code, region_code, period, value, derived FROM indicator_values ORDER BY 1, 2, 3",
        "alerts": "SELECT rule, severity, region_code, indicator_code, event_id, message, started_at FROM alerts "
                  "WHERE cleared_at IS NULL ORDER BY 1, 3, 4, 5",
    }
    with engine.connect() as conn:
        out = {k: [tuple(r) for r in conn.execute(text(q))] for k, q in queries.items()}
    engine.dispose()
    return out


def _areas(url: str) -> list[str]:
    repo = Repository(db.make_engine(url))
    root = repo.root_code()
    town = repo.children(root)[1]["code"]
    return [root, town, repo.children(town)[0]["code"]]


def _append_then_compare_with_rebuild(url: str) -> dict:
    engine = db.make_engine(url)
    writer = Writer(engine, clock=lambda: NOW)
    events = write_batches.new_events(engine, 1000, NOW)
    r1 = writer.events(events)
    r2 = writer.event_updates(write_batches.lifecycle_steps(engine, 50, NOW))
    r3 = writer.values(write_batches.month_of_values(engine, NOW))
    areas = _areas(url)
    incremental = (_derived(url), _screen(url, areas))
    writer.rebuild()
    rebuilt = (_derived(url), _screen(url, areas))
    for table in incremental[0]:
        assert incremental[0][table] == rebuilt[0][table], table
    assert incremental[1] == rebuilt[1]
    return {"events": r1, "updates": r2, "values": r3}


def test_appending_events_steps_and_values_equals_a_full_rebuild(fresh_url):
    reports = _append_then_compare_with_rebuild(fresh_url)
    assert reports["events"].written == {"events": 1000}
    assert reports["updates"].written == {"event_updates": 50}
    # Each write is one transaction with one data-version bump.
    assert reports["updates"].data_version == reports["events"].data_version + 1


@pytest.mark.slow
def test_appending_to_the_county_demo_equals_a_full_rebuild(county_sqlite, tmp_path):
    src = Path(county_sqlite[0].removeprefix("sqlite:///"))
    dst = tmp_path / "county-copy.db"
    with db.make_engine(county_sqlite[0]).connect() as conn:  # fold the WAL into the file before copying
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(src, dst)
    reports = _append_then_compare_with_rebuild(f"sqlite:///{dst}")
    print(f"\ncounty: 1,000 events written and derived in {reports['events'].seconds:.2f} s, "
          f"a month of community values in {reports['values'].seconds:.2f} s")


def test_new_events_show_in_the_counts_and_the_open_layer(mini_sqlite, tmp_path):
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    shutil.copyfile(mini_sqlite.removeprefix("sqlite:///"), tmp_path / "copy.db")
    engine = db.make_engine(url)
    repo = Repository(engine)
    root = repo.root_code()
    leaf = write_batches.leaves(engine).iloc[0]
    before_open = repo.open_event_count(root)
    month = NOW.replace(day=1, hour=0, minute=0, second=0)
    before_month = sum(repo.event_counts(root, month.date(), (month + timedelta(days=32)).replace(day=1).date()).values())
    report = Writer(engine, clock=lambda: NOW).events([
        {"source": "hotline", "category": "consult", "theme": "public_service", "severity": 1, "title": "燃气泄漏",
         "lon": float(leaf["lon"]), "lat": float(leaf["lat"]), "reported_at": NOW - timedelta(minutes=5), "status": "reported"},
    ])
    assert report.written == {"events": 1}
    assert repo.open_event_count(root) == before_open + 1
    after_month = sum(repo.event_counts(root, month.date(), (month + timedelta(days=32)).replace(day=1).date()).values())
    assert after_month == before_month + 1
    newest = repo.recent_events(root, 1)[0]
    assert (newest["title"], newest["region_code"]) == ("燃气泄漏", leaf["code"])  # placed by point-in-polygon
    alerts = repo.recent_alerts(root, 50)
    assert any(a["rule"] == "severe_event" and a["message"] == "燃气泄漏" for a in alerts)
    # Dispatch, process, resolve: the severe-event alert clears when the event is no longer open.
    eid = newest["id"]
    w = Writer(engine, clock=lambda: NOW)
    for step in ("dispatched", "processing", "resolved"):
        w.event_updates([{"id": eid, "status": step, "at": NOW}])
    assert not any(a["rule"] == "severe_event" and a["message"] == "燃气泄漏" for a in repo.recent_alerts(root, 50))
    assert repo.open_event_count(root) == before_open


def _counts(engine) -> dict:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                for t in ("events", "indicator_values", "facilities", "readings", "alerts", "meta")} | {
            "version": conn.execute(text("SELECT value FROM meta WHERE key = 'data_version'")).scalar_one()}


@pytest.mark.parametrize(
    ("entry", "records", "record", "field", "reason"),
    [
        ("events", [{"source": "hotline", "category": "consult", "theme": "public_service", "severity": 5, "title": "x",
                     "region_code": "LEAF", "reported_at": "2026-11-20 10:00", "status": "reported"}], 0, "severity", "at most 4"),
        ("events", [{"source": "hotline", "category": "consult", "theme": "public_service", "severity": 3, "title": "x",
                     "region_code": "nowhere", "reported_at": "2026-11-20 10:00", "status": "reported"}], 0, "region_code", "unknown region"),
        ("events", [{"source": "hotline", "category": "consult", "theme": "public_service", "severity": 3, "title": "x",
                     "region_code": "LEAF", "reported_at": "2026-11-20 10:00", "status": "closed"}], 0, "dispatched_at", "required"),
        ("events", [{"source": "hotline", "category": "consult", "theme": "public_service", "severity": 3, "title": "x",
                     "region_code": "LEAF", "reported_at": "yesterday", "status": "reported"}], 0, "reported_at", "date-time"),
        ("events", [{"source": "hotline", "category": "consult", "theme": "public_service", "severity": 3, "title": "x",
                     "lon": 0.0, "lat": 0.0, "reported_at": "2026-11-20 10:00", "status": "reported"}], 0, "lon", "no region contains"),
        ("values", [{"indicator": "env_aqi", "region": "LEAF", "period": "2026-13", "value": 3}], 0, "period", "month"),
        ("values", [{"indicator": "env_aqi", "region": "TOWN", "period": "2026-10", "value": "high"}], 0, "value", "number"),
        ("values", [{"indicator": "gov_hotline_demands", "region": "LEAF", "period": "2026-10", "value": 3}], 0, "indicator", "rule"),
        ("values", [{"indicator": "no_such", "region": "LEAF", "period": "2026-10", "value": 3}], 0, "indicator", "unknown indicator"),
        ("event_updates", [{"id": 1, "status": "reported"}], 0, "status", "cannot go from"),
        ("readings", [{"facility_id": 1, "metric": "aqi", "ts": "2026-11-20 10:00", "value": 50}], 0, "facility_id", "live"),
    ],
)
def test_a_bad_record_rejects_the_whole_batch_naming_record_and_field(mini_sqlite, tmp_path, entry, records, record, field, reason):
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    shutil.copyfile(mini_sqlite.removeprefix("sqlite:///"), tmp_path / "copy.db")
    engine = db.make_engine(url)
    leaf = write_batches.leaves(engine).iloc[0]["code"]
    town = Repository(engine).children(Repository(engine).root_code())[0]["code"]
    good = {"events": {"source": "grid", "category": "dispute", "theme": "governance", "severity": 4, "title": "ok",
                       "region_code": leaf, "reported_at": "2026-11-20 09:00", "status": "reported"},
            "values": {"indicator": "env_aqi", "region": town, "period": "2026-09", "value": 50},
            "event_updates": {"id": 2, "status": "dispatched"},
            "readings": {"facility_id": 99999, "metric": "aqi", "ts": "2026-11-20 10:00", "value": 50}}[entry]
    batch = [good] + [{k: (leaf if v == "LEAF" else town if v == "TOWN" else v) for k, v in r.items()} for r in records]
    before = _counts(engine)
    with pytest.raises(IngestError) as err:
        getattr(Writer(engine, clock=lambda: NOW), entry)(batch)
    problems = [p for p in err.value.problems if p.record == record + 1 and p.field == field]
    assert problems and reason in problems[0].reason, str(err.value)
    assert f"record {record + 1}, field '{field}'" in str(err.value)
    assert _counts(engine) == before  # nothing written, not even the good record


def test_unknown_fields_are_an_error_not_ignored(mini_sqlite):
    with pytest.raises(IngestError, match="field 'colour': unknown field"):
        Writer(db.make_engine(mini_sqlite)).values([{"indicator": "env_aqi", "region": "x", "period": "2026-01", "value": 1,
                                                      "colour": "red"}])


def test_init_catalog_and_a_values_file_give_a_working_cockpit_without_demo_data(tmp_path):
    from app import create_app, init_database, load_catalog_command

    url = f"sqlite:///{tmp_path / 'city.db'}"
    cfg = Config(database_url=url, cache_type="NullCache")
    assert "indicators added" in init_database(cfg)
    engine = db.make_engine(url)
    # The city's own boundaries: the real outline (repaired on load) split into two townships.
    outline, _ = boundaries.load_outline(OUTLINE)
    minx, miny, maxx, maxy = outline.bounds
    mid = (minx + maxx) / 2
    west = outline.intersection(shapely.box(minx - 1, miny - 1, mid, maxy + 1))
    east = outline.intersection(shapely.box(mid, miny - 1, maxx + 1, maxy + 1))
    regions = [
        {"code": "510182", "name": "彭州市", "level": 0, "geometry": outline, "population": 780000},
        {"code": "510182001", "name": "西区", "level": 1, "parent_code": "510182", "geometry": west, "population": 300000},
        {"code": "510182002", "name": "东区", "level": 1, "parent_code": "510182", "geometry": east, "population": 480000},
    ]
    Writer(engine).regions(regions, [(0, "市", "city"), (1, "镇街", "township")])
    # A values file in long form, as a statistics office exports it.
    values = tmp_path / "values.csv"
    values.write_text("indicator,region,period,value\n"
                      "eco_gdp,510182001,2026-09,41.5\neco_gdp,510182002,2026-09,58.25\n"
                      "env_aqi,510182001,2026-10,52\nenv_aqi,510182002,2026-10,71\n", encoding="utf-8-sig")
    Writer(engine).values(pd.read_csv(values, encoding="utf-8-sig", dtype={"region": str}))
    repo = Repository(engine)
    assert repo.meta().get("demo") is None
    city = {k.code: k for k in repo.kpi_values("510182", repo.periods()[0], codes=["eco_gdp", "env_aqi"])}
    assert city["eco_gdp"].value == pytest.approx(99.75)  # sum rule: 41.5 + 58.25
    assert city["env_aqi"].value == pytest.approx(61.5)  # mean rule: (52 + 71) / 2
    view = cockpit_view(_services(url), "?indicator=env_aqi", ["open"], None, {"w": 1000, "h": 760, "vh": 1080})
    ops = {tuple(o["location"]): o["params"].get("value") for o in view["figure"].to_plotly_json()["operations"]}
    assert ops[("data", 1, "z")] == [52.0, 71.0]  # the two townships on the map
    with pytest.raises(StartupError, match="IOC_SECRET_KEY is required outside demo mode"):
        create_app({"database_url": url, "cache_type": "NullCache"})
    Accounts(engine).create_user("chief", "chief-pass-1", "leader")
    client = create_app({"database_url": url, "cache_type": "NullCache", "secret_key": "k" * 32}).server.test_client()
    assert client.get("/").status_code == 302  # to the login page: no demo accounts outside demo mode
    login(client, "chief", "chief-pass-1")
    assert client.get("/").status_code == 200 and client.get("/_dash-layout").status_code == 200
    # An edited catalog reaches the database; a removed indicator is reported, then pruned on request.
    edited = tmp_path / "catalog"
    shutil.copytree(Path(__file__).resolve().parents[2] / "datasources" / "catalog", edited)
    lines = (edited / "indicators.csv").read_text(encoding="utf-8").splitlines()
    kept = [ln for ln in lines if not ln.startswith("eco_gdp,")]
    (edited / "indicators.csv").write_text("\n".join(kept) + "\n", encoding="utf-8")
    profile = (edited / "demo_profile.csv").read_text(encoding="utf-8").splitlines()
    (edited / "demo_profile.csv").write_text("\n".join(p for p in profile if not p.startswith("eco_gdp,")) + "\n", encoding="utf-8")
    assert load_catalog_command(cfg, str(edited), prune=False) == 0
    assert repo.kpi_values("510182", repo.periods()[0], codes=["eco_gdp"])  # kept with its values
    assert load_catalog_command(cfg, str(edited), prune=True) == 0
    assert repo.kpi_values("510182", repo.periods()[0], codes=["eco_gdp"]) == []


def test_catalog_load_reports_removed_indicators(tmp_path, capsys):
    from app import init_database, load_catalog_command

    cfg = Config(database_url=f"sqlite:///{tmp_path / 'c.db'}")
    init_database(cfg)
    edited = tmp_path / "catalog"
    shutil.copytree(Path(__file__).resolve().parents[2] / "datasources" / "catalog", edited)
    lines = (edited / "indicators.csv").read_text(encoding="utf-8").splitlines()
    (edited / "indicators.csv").write_text("\n".join(ln for ln in lines if not ln.startswith("env_pm10,")) + "\n", encoding="utf-8")
    assert load_catalog_command(cfg, str(edited), prune=False) == 0
    out = capsys.readouterr().out
    assert "1 indicator(s) kept" in out and "- env_pm10" in out


def test_migration_from_the_baseline_converts_timestamps_to_epoch_seconds(tmp_path):
    from alembic import command
    from alembic.config import Config as AlembicConfig

    engine = db.make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.exec_driver_sql("INSERT INTO regions (code, name, name_en, level, population, area_km2, centroid_lon, "
                             "centroid_lat, geometry, geometry_display) VALUES ('1', 'c', '', 0, 0, 0, 0, 0, '', '')")
        conn.exec_driver_sql("INSERT INTO events (source, category, theme, severity, title, description, region_code, "
                             "reported_at, status) VALUES ('s', 'c', 't', 4, 'x', '', '1', '2026-11-20 18:00:00.000000', 'reported')")
    db.upgrade(engine)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT reported_at, typeof(reported_at) FROM events").one()
    assert tuple(stored) == (int(datetime(2026, 11, 20, 18).timestamp() - datetime(1970, 1, 1).timestamp()), "integer")


@pytest.mark.parametrize(
    ("indicator", "kind", "generation"),
    [("gov_video_cameras", "camera", None), ("eco_base_stations", "base_station", None),
     ("eco_5g_base_stations", "base_station", "5G"), ("env_pollution_source_cameras", "pollution_camera", None)],
)
def test_facility_count_indicators_equal_the_facilities_on_the_map(mini_url, indicator, kind, generation):
    """One quantity, one number: the KPI is computed from the same facilities the map layer draws."""
    repo = Repository(db.make_engine(mini_url))
    root = repo.root_code()
    town = repo.children(root)[0]["code"]
    for area in (root, town):
        kpi = repo.kpi_values(area, repo.periods()[0], codes=[indicator])[0]
        if generation is None:
            expected = repo.facility_counts(area)[kind]
        else:
            with repo.engine.connect() as conn:
                attrs = conn.execute(text(
                    "SELECT f.attributes FROM facilities f JOIN region_closure c ON c.descendant_code = f.region_code "
                    "WHERE c.ancestor_code = :a AND f.kind = :k"), {"a": area, "k": kind}).scalars().all()
            expected = sum(json.loads(a).get("generation") == generation for a in attrs)
        assert kpi.value == expected > 0, (area, indicator)
        assert kpi.period == repo.periods()[0]  # the stock now, not a month-old figure
        assert kpi.sparkline[0] <= kpi.value  # grew into today's count as facilities were commissioned


def test_facility_batch_mixes_new_and_updated_rows_but_not_duplicate_ids(mini_sqlite, tmp_path):
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    shutil.copyfile(mini_sqlite.removeprefix("sqlite:///"), tmp_path / "copy.db")
    engine = db.make_engine(url)
    leaf = write_batches.leaves(engine).iloc[0]
    new = {"kind": "shelter", "name": "新避难场所", "lon": float(leaf["lon"]), "lat": float(leaf["lat"])}
    writer = Writer(engine, clock=lambda: NOW)
    # Two new facilities (no id) and one update: ids missing on new rows are not duplicates.
    assert writer.facilities([new, new | {"name": "另一处"}, new | {"id": 1, "name": "改名"}]).written == {"facilities": 3}
    with pytest.raises(IngestError, match="record 1, field 'id': duplicate facility id"):
        writer.facilities([new | {"id": 1}, new | {"id": 1}])
