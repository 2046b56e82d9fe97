"""The seeded demo city: regions, catalog, indicator values, events, facilities, readings — written
through the write layer (:mod:`datasources.ingest`) like any other data, in one transaction whose derive
computes roll-ups, rule indicators and alerts.

``build_demo(engine, scale, seed, as_of)`` wipes the database and fills it; the same arguments always
give the same rows. Values are synthetic but shaped like a real county: population-driven, with
trends, seasons, differences between areas and a few hot spots.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from dateutil.relativedelta import relativedelta
from sqlalchemy import Engine, text

from datasources import boundaries, db, demo_events, demo_geography, demo_topics
from datasources.catalog_loader import load_catalog, load_demo_profile
from datasources.ingest import Writer

GEODATA = Path(__file__).resolve().parent.parent / "geodata"
OUTLINE = GEODATA / "pengzhou_outline.geojson"
MONTHS = 36
# Population multiplier of the scales relative to the county (events and facilities scale with it).
SCALE_FACTOR = {"county": 1.0, "prefecture": 15.0, "mini": 0.02}
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
    db.reset_database(engine)
    outline, repair = boundaries.load_outline(OUTLINE)
    say("regions", 5)
    regions = demo_geography.build_demo_regions(outline, scale=scale, seed=seed)
    records = regions.to_dict("records")
    max_level = int(regions["level"].max())
    for level in range(max_level + 1):
        idx = [k for k, r in enumerate(records) if r["level"] == level]
        simplified = boundaries.simplify_level([records[k]["geometry"] for k in idx], boundaries.display_tolerance(level, max_level))
        for k, g in zip(idx, simplified, strict=True):
            records[k]["geometry_display"] = g
    catalog = load_catalog()
    profiles = load_demo_profile(catalog=catalog)
    hot = _hotspots(records, max_level, seed)
    by_code = {r["code"]: r for r in records}
    leaves = [
        r | {"hotspot": hot.get(r["code"], 1.0), "township": _ancestor_at(r, by_code, max_level - 1)}
        for r in records
        if r["level"] == max_level
    ]
    townships = [r for r in records if r["level"] == max_level - 1]
    region_fields = ["code", "name", "name_en", "level", "parent_code", "population", "area_km2", "centroid_lon",
                     "centroid_lat", "geometry", "geometry_display"]

    writer = Writer(engine, clock=lambda: as_of)
    with writer.batch() as batch:
        batch.set_meta({"demo": "1", "scale": scale, "seed": seed, "as_of": as_of.isoformat(sep=" "), "outline_repair": repair})
        batch.catalog(catalog, level_shift=max_level - 2)
        batch.regions([{k: r[k] for k in region_fields} for r in records], demo_geography.level_names(scale))
        say("indicator values", 15)
        values = _indicator_values(catalog, profiles, records, hot, as_of, seed, max_level)
        batch.values(values)
        batch.events_bulk(_with_progress(demo_events.generate_events(leaves, as_of, seed, SCALE_FACTOR[scale]), say))
        say("facilities", 75)
        facilities = demo_topics.add_project_schedule(
            demo_events.generate_facilities(leaves, townships, seed, as_of, SCALE_FACTOR[scale]), seed)
        # The topic kinds come after the others, so the others keep their ids.
        totals = {code: demo_topics.newest_by_region(values, code)
                  for code in (*demo_topics.RISK_INDICATORS.values(), demo_topics.CHARGING_INDICATOR)}
        topic = demo_topics.generate_topic_facilities(leaves, townships, seed, as_of, totals)
        batch.facilities(pd.concat([facilities, topic], ignore_index=True))
        live = batch.conn.execute(text("SELECT id, kind, attributes FROM facilities WHERE live = :t ORDER BY id"), {"t": True}).all()
        batch.readings(demo_events.generate_readings([(i, k) for i, k, _a in live if k in demo_events.LIVE_KINDS], as_of, seed))
        batch.readings(demo_topics.generate_topic_readings(
            [(i, k, json.loads(a)) for i, k, a in live if k in demo_topics.TOPIC_LIVE_KINDS], as_of, seed))
        say("roll-ups, rules and alerts", 80)
    _analyze(engine)
    with engine.connect() as conn:
        counts = {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in (
            "regions", "region_closure", "indicators", "events", "event_monthly", "event_cells", "facilities", "readings", "alerts")}
        counts["indicator_values_loaded"] = conn.execute(text("SELECT COUNT(*) FROM indicator_values WHERE derived = :f"), {"f": False}).scalar_one()
        counts["indicator_values_derived"] = conn.execute(text("SELECT COUNT(*) FROM indicator_values WHERE derived = :t"), {"t": True}).scalar_one()
    say("done", 100)
    return DemoReport(scale, seed, as_of, repair, counts, time.perf_counter() - t0)


def _with_progress(chunks: Iterator[pd.DataFrame], say: Progress) -> Iterator[pd.DataFrame]:
    """Pass the event chunks (one per month) through, reporting each (25 % … 75 %)."""
    for k, chunk in enumerate(chunks):
        say(f"events {chunk['reported_at'].iat[0]:%Y-%m}" if len(chunk) else "events", 25 + min(50, k * 50 // (MONTHS + 1)))
        yield chunk


def _analyze(engine: Engine) -> None:
    """Fresh planner statistics after a bulk load (not a data write); on PostgreSQL also the visibility map,
    without which no index-only scan skips the heap (the area heat grid, migration 0009) until autovacuum
    gets to the new rows, or never where it is off."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))




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


def _indicator_values(catalog, profiles, records, hot, as_of: datetime, seed: int, max_level: int) -> pd.DataFrame:  # noqa: ANN001
    """Loaded values (the write layer's indicator, region, period, value, reported_at) at each indicator's
    lowest level: base × area factor × trend × season × noise, with hot spots and a few stale feeds.
    Indicators computed by a catalog rule (event counts and rates, facility counts) are not generated."""
    months = _months(as_of.date(), MONTHS)
    month_idx = np.array([(m.year - as_of.year) * 12 + m.month - as_of.month for m in months])  # <= 0
    month_of_year = np.array([m.month for m in months])
    by_level: dict[int, list[dict]] = {}
    for r in records:
        by_level.setdefault(r["level"], []).append(r)
    stale = _stale_codes(catalog, seed)
    computed = {r.indicator for r in catalog.rules}
    frames = []
    for ind in catalog.indicators:
        if ind.code in computed:
            continue
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
        # Reported a few days after the month ends, never after as_of.
        month_end = np.array([np.datetime64(m + relativedelta(months=1)) - np.timedelta64(1, "D") for m in months], dtype="datetime64[s]")
        reported = month_end[None, :] + (delay * 86400 + delay * 3600).astype("timedelta64[s]")
        reported = np.minimum(reported, np.datetime64(as_of, "s"))
        cols = np.flatnonzero(keep)
        frames.append(pd.DataFrame({
            "indicator": ind.code,
            "region": np.repeat([r["code"] for r in regs], len(cols)),
            "period": np.tile(np.array(months, dtype=object)[cols], len(regs)),
            "value": values[:, cols].ravel(),
            "reported_at": reported[:, cols].ravel(),
        }))
    return pd.concat(frames, ignore_index=True)


def _stale_codes(catalog, seed: int) -> set[str]:  # noqa: ANN001
    """Three monthly indicators (one of them a headline) whose feed stopped: the screens must show it."""
    rng = _rng(seed, 3)
    computed = {r.indicator for r in catalog.rules}
    monthly = [i for i in catalog.indicators if i.frequency == "monthly" and i.code not in computed]
    heads = sorted(i.code for i in monthly if i.headline)
    others = sorted(i.code for i in monthly if not i.headline)
    picked = set(rng.choice(heads, 1).tolist()) if heads else set()
    picked |= set(rng.choice(others, min(2, len(others)), replace=False).tolist())
    return picked
