"""The seeded demo city: regions, catalog, indicator values, events, facilities, readings, alerts.

``build_demo(engine, scale, seed, as_of)`` wipes the database and fills it; the same arguments always
give the same rows. Values are synthetic but shaped like a real county: population-driven, with
trends, seasons, differences between areas and a few hot spots.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from dateutil.relativedelta import relativedelta
from sqlalchemy import Engine, bindparam, text

from datasources import db, demo_events, geography
from datasources.catalog_loader import load_catalog, load_demo_profile
from datasources.loader import load_regions, reset_database, store_catalog
from datasources.models import Event, Facility, IndicatorValue, Reading
from datasources.repository import Repository
from datasources.rollup import rollup_event_cells, rollup_events_monthly, rollup_indicator_values
from datasources.rules import threshold_status

GEODATA = Path(__file__).resolve().parent.parent / "geodata"
OUTLINE = GEODATA / "pengzhou_outline.geojson"
MONTHS = 36
# Population multiplier of the scales relative to the county (events and facilities scale with it).
SCALE_FACTOR = {"county": 1.0, "prefecture": 15.0, "mini": 0.02}
CITY_NAMES = {"county": "彭州市", "prefecture": "演示市", "mini": "彭州市"}
Progress = Callable[[str, int], None]  # (step description, percent done)


@dataclass(frozen=True)
class DemoReport:
    """What a build produced (printed by the command line, checked by tests)."""

    scale: str
    seed: int
    as_of: datetime
    outline_repair: str
    counts: dict[str, int]
    seconds: float


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def _months(as_of: date, n: int) -> list[date]:
    first = date(as_of.year, as_of.month, 1)
    return [first - relativedelta(months=k) for k in range(n - 1, -1, -1)]


def build_demo(
    engine: Engine,
    scale: str = "county",
    seed: int = 1,
    as_of: datetime | None = None,
    progress: Progress | None = None,
) -> DemoReport:
    """Wipe the database and build the demo city in it. ``as_of`` defaults to now (whole seconds)."""
    if scale not in SCALE_FACTOR:
        raise ValueError(f"parameter 'scale' must be one of {', '.join(SCALE_FACTOR)}, not {scale!r}")
    t0 = time.perf_counter()
    as_of = (as_of or datetime.now()).replace(microsecond=0)
    say = progress or (lambda _msg, _pct: None)
    say("schema", 0)
    reset_database(engine)
    outline, repair = geography.load_outline(OUTLINE)
    say("regions", 5)
    regions = geography.build_demo_regions(outline, scale=scale, seed=seed)
    records = regions.to_dict("records")
    max_level = int(regions["level"].max())
    for level in range(max_level + 1):
        idx = [k for k, r in enumerate(records) if r["level"] == level]
        simplified = geography.simplify_level([records[k]["geometry"] for k in idx], geography.display_tolerance(level, max_level))
        for k, g in zip(idx, simplified, strict=True):
            records[k]["geometry_display"] = g
    catalog = load_catalog()
    profiles = load_demo_profile()
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        counts["regions"] = len(records)
        counts["region_closure"] = load_regions(conn, records, geography.level_names(scale))
        store_catalog(conn, catalog, level_shift=max_level - 2)
        counts["indicators"] = len(catalog.indicators)

    hot = _hotspots(records, max_level, seed)
    by_code = {r["code"]: r for r in records}
    leaves = [
        r | {"hotspot": hot.get(r["code"], 1.0), "township": _ancestor_at(r, by_code, max_level - 1)}
        for r in records
        if r["level"] == max_level
    ]
    townships = [r for r in records if r["level"] == max_level - 1]

    say("indicator values", 15)
    with engine.begin() as conn:
        rows = _indicator_rows(catalog, profiles, records, hot, as_of, seed, max_level)
        counts["indicator_values_loaded"] = db.bulk_insert(conn, IndicatorValue.__table__, VALUE_COLUMNS, rows)

    say("events", 30)
    cols, rows = demo_events.generate_events(leaves, as_of, seed, SCALE_FACTOR[scale])
    with engine.begin() as conn:
        counts["events"] = db.bulk_insert(conn, Event.__table__, cols, rows)
    del rows
    say("event roll-up", 75)
    with engine.begin() as conn:
        counts["event_monthly"] = rollup_events_monthly(conn)
        counts["event_cells"] = rollup_event_cells(conn)
        say("indicator roll-ups", 80)
        _counts_from_events(conn, as_of)
        counts["indicator_values_derived"] = rollup_indicator_values(conn)

    say("facilities", 85)
    cols, rows = demo_events.generate_facilities(leaves, townships, seed, SCALE_FACTOR[scale])
    stations = [(r[0], r[1]) for r in rows if r[1] in demo_events.LIVE_KINDS]
    with engine.begin() as conn:
        counts["facilities"] = db.bulk_insert(conn, Facility.__table__, cols, rows)
        cols, rows = demo_events.generate_readings(stations, as_of, seed)
        counts["readings"] = db.bulk_insert(conn, Reading.__table__, cols, rows)
        say("alerts", 92)
        counts["alerts"] = _threshold_alerts(conn, as_of, max_level)
        _write_meta(conn, scale, seed, as_of, repair, CITY_NAMES[scale])
        Repository.bump_data_version(conn)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    say("done", 100)
    return DemoReport(scale, seed, as_of, repair, counts, time.perf_counter() - t0)


VALUE_COLUMNS = ["indicator_code", "region_code", "period", "value", "reported_at", "derived"]
_TS = "%Y-%m-%d %H:%M:%S.%f"


# Indicators that count events: their values come from the events table itself (whole months only, as a
# statistics office publishes them), so the KPI cards and the event panel tell the same story.
EVENT_COUNT_INDICATORS = {
    "gov_citizen_demands": ("hotline", "city_management", "grid"),
    "gov_hotline_demands": ("hotline",),
    "gov_grid_events": ("grid",),
    "gov_citymgmt_cases": ("city_management",),
    "emg_emergencies": ("emergency",),
}


def _counts_from_events(conn, as_of: datetime) -> None:  # noqa: ANN001
    """Replace the generated values of the event-count indicators by counts from ``event_monthly``."""
    current = date(as_of.year, as_of.month, 1)
    for code, sources in EVENT_COUNT_INDICATORS.items():
        params = {"code": code, "f": False, "cur": current}
        conn.execute(text("DELETE FROM indicator_values WHERE indicator_code = :code AND period >= :cur"), params)
        conn.execute(
            text(
                "UPDATE indicator_values SET value = COALESCE((SELECT SUM(m.n) FROM event_monthly m "
                "WHERE m.region_code = indicator_values.region_code AND m.month = indicator_values.period "
                "AND m.source IN :sources), 0) WHERE indicator_code = :code AND derived = :f"
            ).bindparams(bindparam("sources", expanding=True)),
            params | {"sources": list(sources)},
        )


def _ancestor_at(region: dict, by_code: dict[str, dict], level: int) -> str:
    r = region
    while r["level"] > level:
        r = by_code[r["parent_code"]]
    return r["code"]


def _hotspots(records: list[dict], max_level: int, seed: int) -> dict[str, float]:
    """A few areas with more trouble than their size explains: two townships (level max-1) and a
    handful of their communities. Factor >= 1 multiplies 'bad' values and event rates."""
    rng = _rng(seed, 1)
    towns = sorted(r["code"] for r in records if r["level"] == max_level - 1)
    leaves = [r for r in records if r["level"] == max_level]
    hot: dict[str, float] = {}
    for code in rng.choice(towns, size=min(2, len(towns)), replace=False):
        kids = sorted(lf["code"] for lf in leaves if lf["parent_code"] == code)
        for k in rng.choice(kids, size=min(3, len(kids)), replace=False):
            hot[str(k)] = float(rng.uniform(1.6, 2.2))
    for k in rng.choice([lf["code"] for lf in leaves], size=min(4, len(leaves)), replace=False):
        hot.setdefault(str(k), float(rng.uniform(1.3, 1.6)))
    return hot


def _indicator_rows(catalog, profiles, records, hot, as_of: datetime, seed: int, max_level: int):  # noqa: ANN001
    """Yield (indicator, region, period, value, reported_at, derived=False) at each indicator's lowest
    level: base × area factor × trend × season × noise, with hot spots and a few stale feeds."""
    months = _months(as_of.date(), MONTHS)
    month_idx = np.array([(m.year - as_of.year) * 12 + m.month - as_of.month for m in months])  # <= 0
    month_of_year = np.array([m.month for m in months])
    by_level: dict[int, list[dict]] = {}
    for r in records:
        by_level.setdefault(r["level"], []).append(r)
    stale = _stale_codes(catalog, seed)
    for ind in catalog.indicators:
        prof = profiles[ind.code]
        level = ind.level + (max_level - 2 if ind.level > 0 else 0)
        regs = by_level[level]
        rng = _rng(seed, 2, zlib.crc32(ind.code.encode()))
        pop = np.array([r["population"] for r in regs], dtype=float)
        area_factor = rng.lognormal(0, prof.cv, len(regs))
        area_factor /= area_factor.mean()
        if ind.aggregation == "sum":
            area_factor *= pop / pop.mean() if pop.mean() > 0 else 1
        bad = np.array([hot.get(r["code"], 1.0) for r in regs])
        area_factor *= bad ** (-0.15 * ind.polarity * 2) if ind.unit == "%" else bad ** (-0.5 * ind.polarity)
        trend = (1 + prof.trend) ** (month_idx / 12)
        season = 1 + prof.season * np.cos(2 * np.pi * (month_of_year - 7) / 12)
        keep = np.ones(len(months), bool)
        if ind.frequency == "quarterly":
            keep = month_of_year % 3 == 0
        elif ind.frequency == "yearly":
            keep = month_of_year == 12
        if ind.code in stale:
            keep &= month_idx <= -4  # the feed stopped four months ago
        values = prof.base * area_factor[:, None] * (trend * season)[None, :] * rng.normal(1, 0.035, (len(regs), len(months)))
        if ind.unit == "%":
            values = np.clip(values, 0, 100)
        values = np.round(values, prof.decimals)
        delay = rng.integers(2, 20, (len(regs), len(months)))
        for j, m in enumerate(months):
            if not keep[j]:
                continue
            # Reported a few days after the month ends (never after as_of); strings in SQLAlchemy's format.
            stamp = datetime(m.year, m.month, 1) + relativedelta(months=1) + timedelta(days=-1)
            period = m.isoformat()
            for i, r in enumerate(regs):
                rep = min(stamp + timedelta(days=int(delay[i, j]), hours=int(delay[i, j])), as_of)
                yield (ind.code, r["code"], period, float(values[i, j]), rep.strftime(_TS), False)


def _stale_codes(catalog, seed: int) -> set[str]:  # noqa: ANN001
    """Three monthly indicators (one of them a headline) whose feed stopped: the screens must show it."""
    rng = _rng(seed, 3)
    monthly = [i for i in catalog.indicators if i.frequency == "monthly"]
    heads = sorted(i.code for i in monthly if i.headline)
    others = sorted(i.code for i in monthly if not i.headline)
    picked = set(rng.choice(heads, 1).tolist()) if heads else set()
    picked |= set(rng.choice(others, min(2, len(others)), replace=False).tolist())
    return picked


def _threshold_alerts(conn, as_of: datetime, max_level: int) -> int:  # noqa: ANN001
    """Open an alert for every township-or-lower value at the latest period that breaches a threshold
    (the same rule the cards colour by), and one per open severe (I–II) event."""
    latest = conn.execute(text("SELECT MAX(period) FROM indicator_values")).scalar()
    rows = conn.execute(
        text(
            "SELECT i.code, i.name_zh, i.polarity, i.warn, i.alarm, v.region_code, v.value, r.name FROM indicator_values v "
            "JOIN indicators i ON i.code = v.indicator_code JOIN regions r ON r.code = v.region_code "
            "WHERE v.period = :p AND r.level >= 1 AND i.warn IS NOT NULL AND i.alarm IS NOT NULL "
            "AND ((i.polarity > 0 AND v.value < i.warn) OR (i.polarity < 0 AND v.value > i.warn))"
        ),
        {"p": latest},
    ).all()
    alerts = []
    for r in rows:
        status = threshold_status(r.value, r.polarity, r.warn, r.alarm)
        if status == "alarm" or max_level - 1 == 0:
            alerts.append({"rule": f"threshold:{r.code}", "severity": 2, "region_code": r.region_code, "indicator_code": r.code,
                           "message": f"{r.name} {r.name_zh} {r.value:g} {'低于' if r.polarity > 0 else '高于'}报警阈值 {r.alarm:g}",
                           "started_at": as_of})
    severe = conn.execute(
        text("SELECT id, severity, region_code, title, reported_at FROM events WHERE severity <= 2 AND status IN ('reported', 'dispatched', 'processing')")
    ).all()
    for e in severe:
        alerts.append({"rule": "severe_event", "severity": e.severity, "region_code": e.region_code, "indicator_code": None,
                       "message": e.title, "started_at": e.reported_at if isinstance(e.reported_at, datetime) else datetime.fromisoformat(str(e.reported_at))})
    if alerts:
        conn.execute(text("INSERT INTO alerts (rule, severity, region_code, indicator_code, message, started_at) "
                          "VALUES (:rule, :severity, :region_code, :indicator_code, :message, :started_at)"), alerts)
    return len(alerts)


def _write_meta(conn, scale: str, seed: int, as_of: datetime, repair: str, city: str) -> None:  # noqa: ANN001
    facts = {"demo": "1", "scale": scale, "seed": str(seed), "as_of": as_of.isoformat(sep=" "), "outline_repair": repair,
             "city_name": city, "data_version": "0"}
    conn.execute(text("DELETE FROM meta"))
    conn.execute(text("INSERT INTO meta (key, value) VALUES (:k, :v)"), [{"k": k, "v": v} for k, v in facts.items()])
