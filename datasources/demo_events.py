"""Synthetic events, facilities and live readings for the demo city, calibrated to seed 001.

Everything is vectorised with numpy and drawn from seeded generators, so the same seed and as-of date
give the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import shapely

from datasources.catalog_loader import EventCategory, event_categories


# Published 2020 figures (seed 001, 彭州市): yearly volume, share closed/handled, satisfaction.
@dataclass(frozen=True)
class Source:
    id: str
    per_year: int  # at county scale
    done_rate: float  # share that reaches the done state of the published rate
    done_states: tuple[str, ...]  # states that count as "done" for the published rate
    satisfaction: float | None  # share of rated events scored >= 4
    rated_share: float  # share of done events that got a rating
    resolve_hours: float  # median time from dispatch to resolution
    # (category id, weight); name, theme, department and SLA come from catalog/event_categories.csv
    categories: tuple[tuple[str, float], ...]
    severity_p: tuple[float, float, float, float]  # P(I), P(II), P(III), P(IV)


SOURCES: tuple[Source, ...] = (
    Source(
        "hotline", 59_707, 1.0, ("closed",), 0.9372, 0.85, 30,
        (
            ("consult", 0.22),
            ("complaint_env", 0.14),
            ("complaint_noise", 0.08),
            ("social_security", 0.12),
            ("traffic", 0.09),
            ("housing", 0.13),
            ("labour", 0.08),
            ("market", 0.09),
            ("water_power", 0.05),
        ),
        (0.0, 0.0, 0.04, 0.96),
    ),
    Source(
        "city_management", 73_086, 0.9917, ("resolved", "closed"), None, 0.0, 10,
        (
            ("road_occupation", 0.24),
            ("garbage", 0.22),
            ("facility_damage", 0.16),
            ("illegal_ad", 0.12),
            ("parking", 0.14),
            ("greenery", 0.07),
            ("manhole", 0.05),
        ),
        (0.0, 0.0, 0.03, 0.97),
    ),
    Source(
        "grid", 524_462, 0.9846, ("closed",), None, 0.0, 20,
        (
            ("safety_hazard", 0.14),
            ("dispute", 0.12),
            ("sanitation", 0.22),
            ("public_order", 0.10),
            ("elderly_care", 0.16),
            ("fire_risk", 0.08),
            ("epidemic_check", 0.08),
            ("illegal_building", 0.10),
        ),
        (0.0, 0.001, 0.02, 0.979),
    ),
    Source(
        "emergency", 420, 0.99, ("resolved", "closed"), None, 0.0, 6,
        (
            ("flood", 0.30),
            ("landslide", 0.18),
            ("fire", 0.22),
            ("traffic_accident", 0.22),
            ("hazmat", 0.08),
        ),
        (0.01, 0.05, 0.25, 0.69),
    ),
    Source(
        "sensor", 5_200, 0.995, ("resolved", "closed"), None, 0.0, 3,
        (
            ("air_exceed", 0.45),
            ("water_exceed", 0.15),
            ("water_level", 0.25),
            ("smoke", 0.15),
        ),
        (0.0, 0.0, 0.3, 0.7),
    ),
)
SOURCE_ZH = {"hotline": "网络理政", "city_management": "数字城管", "grid": "网格化微治理", "emergency": "突发事件", "sensor": "感知报警"}

# Facility counts from seed 001 (cameras, stations, base stations, hospitals); the rest illustrative.
FACILITY_COUNTS = {
    "camera": 9_503,
    "air_station": 35,
    "water_station": 6,
    "pollution_camera": 223,
    "base_station": 3_097,
    "hospital": 29,
    "school": 118,
    "shelter": 64,
    "major_project": 48,
}
FACILITY_ZH = {
    "camera": "视频监控", "air_station": "空气微站", "water_station": "水质自动站", "pollution_camera": "污染源监控",
    "base_station": "通信基站", "hospital": "公立医疗机构", "school": "学校", "shelter": "应急避难场所",
    "major_project": "重大项目",
    # Topic kinds (datasources/demo_topics.py).
    "rain_gauge": "雨量站", "river_station": "水位站", "risk_point": "风险隐患点", "rescue_team": "救援队伍",
    "charging_station": "充电站",
}
FIVE_G_BASE_STATIONS = 420  # "建成5G基站400多个"
LIVE_KINDS = {"air_station": ("aqi", "pm25"), "water_station": ("water_level", "dissolved_oxygen")}

def demo_categories() -> dict[str, EventCategory]:
    """The catalog's categories of the demo's sources; fails when the two disagree on a category's source."""
    catalog = event_categories()
    for src in SOURCES:
        for cid, _w in src.categories:
            if cid not in catalog or catalog[cid].source != src.id:
                raise KeyError(f"demo category {cid!r} of source {src.id!r} is not in catalog/event_categories.csv under that source")
    return catalog


def _rng(seed: int, stage: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stage]))


def sample_points(polygons: list, per_polygon: int, rng: np.random.Generator) -> np.ndarray:
    """``per_polygon`` random points inside each polygon: array of shape (n_polygons, per_polygon, 2)."""
    out = np.empty((len(polygons), per_polygon, 2))
    for k, poly in enumerate(polygons):
        minx, miny, maxx, maxy = poly.bounds
        got = np.empty((0, 2))
        shapely.prepare(poly)
        while len(got) < per_polygon:
            cand = np.column_stack([rng.uniform(minx, maxx, per_polygon * 4), rng.uniform(miny, maxy, per_polygon * 4)])
            got = np.vstack([got, cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]])
        out[k] = got[:per_polygon]
    return out


def generate_events(
    leaves: list[dict], as_of: datetime, seed: int, scale_factor: float = 1.0, years: int = 3
) -> Iterator[pd.DataFrame]:
    """Events for ``years`` years up to ``as_of`` over the leaf regions, one DataFrame per calendar month
    (every source, in order of ``reported_at``) with the write layer's ``events`` fields; timestamps as
    datetime64, NaT where a step has not happened.

    Each (source, month) draws from its own seeded generator, so memory stays at one month at any scale
    and the rows do not depend on how the stream is cut. ``leaves`` are dicts with code, name,
    population, geometry and hotspot (a factor >= 1)."""
    catalog = demo_categories()
    rng = _rng(seed, 10)
    start = (as_of - timedelta(days=365 * years)).replace(hour=0, minute=0, second=0, microsecond=0)
    days = np.arange(np.datetime64(start.date()), np.datetime64(as_of.date()) + 1)
    doy = (days - days.astype("datetime64[Y]")).astype(int)
    weekday = (days.astype(int) + 3) % 7  # 1970-01-01 was a Thursday
    years_from_asof = (days - np.datetime64(as_of.date())).astype(int) / 365.25
    pop = np.array([lf["population"] for lf in leaves], dtype=float)
    hot = np.array([lf["hotspot"] for lf in leaves], dtype=float)
    pools = sample_points([lf["geometry"] for lf in leaves], 64, rng)
    names = np.array([lf["name"] for lf in leaves], dtype=object)
    codes = np.array([lf["code"] for lf in leaves], dtype=object)
    season = 1 + 0.12 * np.cos(2 * np.pi * (doy - 196) / 365.25)  # summer peak (floods, outdoor work)
    work = np.where(weekday >= 5, 0.75, 1.1)
    trend = (1.015) ** years_from_asof
    rates = []  # expected events per day, per source (calibrated to the published yearly volume)
    for src in SOURCES:
        lam = src.per_year * scale_factor / 365.25 * season * work * trend
        lam *= src.per_year * scale_factor * years / lam.sum() * (len(days) / (365.25 * years))
        rates.append(lam)
    month_of_day = days.astype("datetime64[M]")
    for m_idx, month in enumerate(np.unique(month_of_day)):
        in_month = np.flatnonzero(month_of_day == month)
        frames = [
            _source_month(src, s_idx, rates[s_idx][in_month], days[in_month], catalog, pools, pop, hot, names, codes,
                          as_of, np.random.default_rng(np.random.SeedSequence([seed, 10, s_idx, m_idx])))
            for s_idx, src in enumerate(SOURCES)
        ]
        out = pd.concat(frames, ignore_index=True)
        yield out.sort_values("reported_at", kind="stable", ignore_index=True)


_HOURS = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4.5, 6, 6.2, 5.8, 4.5, 4.8, 5.6, 5.8, 5.5, 5, 4, 3.4, 3, 2.6, 2, 1.4])
_HOURS = _HOURS / _HOURS.sum()


def _source_month(
    src: Source, s_idx: int, lam: np.ndarray, days: np.ndarray, catalog: dict[str, EventCategory], pools: np.ndarray,
    pop: np.ndarray, hot: np.ndarray, names: np.ndarray, codes: np.ndarray, as_of: datetime, rng: np.random.Generator,
) -> pd.DataFrame:
    """One source's events on ``days`` (expected ``lam`` per day), drawn from ``rng``."""
    as_of64 = np.datetime64(as_of, "us")
    per_day = rng.poisson(lam)
    n = int(per_day.sum())
    day_idx = np.repeat(np.arange(len(days)), per_day)
    secs = rng.choice(24, n, p=_HOURS) * 3600 + rng.integers(0, 3600, n)
    reported = days[day_idx].astype("datetime64[us]") + secs.astype("timedelta64[s]")
    keep = reported <= as_of64
    reported, n = reported[keep], int(keep.sum())
    reported.sort()
    weights = pop * hot ** (1.6 if src.id != "hotline" else 1.0)
    leaf = rng.choice(len(pop), n, p=weights / weights.sum())
    pt = pools[leaf, rng.integers(0, pools.shape[1], n)]
    cat_w = np.array([c[1] for c in src.categories])
    cat = rng.choice(len(src.categories), n, p=cat_w / cat_w.sum())
    sev = rng.choice(4, n, p=np.array(src.severity_p) / sum(src.severity_p)) + 1
    # Lifecycle: dispatch after minutes, resolve after hours to days, close a day later.
    d_disp = rng.exponential(0.6, n) * 3600
    d_res = rng.lognormal(np.log(src.resolve_hours * 3600), 0.8, n)
    d_close = rng.exponential(18, n) * 3600
    disp = reported + d_disp.astype("timedelta64[s]")
    res = disp + d_res.astype("timedelta64[s]")
    clo = res + d_close.astype("timedelta64[s]")
    # Whether the event ever reaches the published done state, and (if done state is 'resolved or
    # closed') whether it also gets closed.
    done = rng.random(n) < src.done_rate
    stuck_at = rng.choice(np.array(["processing", "resolved"], dtype=object), n, p=[0.6, 0.4])
    status = np.full(n, "closed", dtype=object)
    if src.done_states == ("closed",):
        status[~done] = stuck_at[~done]
    else:  # done = resolved or closed; the undone stay in processing
        status[~done] = "processing"
    res_never = status == "processing"  # stuck before resolution: never gets a resolved time
    clo_never = status != "closed"
    nat = np.datetime64("NaT", "us")
    res = np.where(res_never, nat, res)
    clo = np.where(clo_never, nat, clo)
    # Events still in flight at as_of.
    status = np.where(disp > as_of64, "reported", status)
    status = np.where((disp <= as_of64) & (res > as_of64) & ~res_never, "processing", status)
    status = np.where((res <= as_of64) & (clo > as_of64) & ~clo_never, "resolved", status)
    disp = np.where(disp > as_of64, nat, disp)
    res = np.where(res > as_of64, nat, res)
    clo = np.where(clo > as_of64, nat, clo)
    status = np.where((status == "processing") & (rng.random(n) < 0.25) & ~np.isnat(disp) & np.isnat(res), "dispatched", status)
    rated = (status == "closed") & (rng.random(n) < src.rated_share) if src.satisfaction else np.zeros(n, bool)
    happy = rng.random(n) < (src.satisfaction or 0)
    score = np.where(happy, rng.choice([4, 5], n, p=[0.3, 0.7]), rng.choice([1, 2, 3], n, p=[0.3, 0.3, 0.4]))
    cats = [catalog[c[0]] for c in src.categories]
    sla_s = np.array([int(c.sla_hours * 3600) for c in cats])[cat]
    due = reported + sla_s.astype("timedelta64[s]")
    cat_zh = np.array([c.name_zh for c in cats], dtype=object)[cat]
    titles = cat_zh + "·" + names[leaf]
    return pd.DataFrame({
        "source": np.full(n, src.id, dtype=object),
        "category": np.array([c.category for c in cats], dtype=object)[cat],
        "theme": np.array([c.theme for c in cats], dtype=object)[cat],
        "severity": sev,
        "title": titles,
        "lon": np.round(pt[:, 0], 6),
        "lat": np.round(pt[:, 1], 6),
        "region_code": codes[leaf],
        "reported_at": reported,
        "status": status,
        "department": np.array([c.department for c in cats], dtype=object)[cat],
        "dispatched_at": disp,
        "resolved_at": res,
        "closed_at": clo,
        "satisfaction": np.where(rated, score, np.nan),
        "due_at": due,
    })


# Share of each kind commissioned during the last three years (the rest predates the records): the
# facility-count indicators grow over the months and end at the seed's counts.
NEW_SHARE = {"camera": 0.25, "base_station": 0.2, "pollution_camera": 0.3, "air_station": 0.4, "water_station": 0.2,
             "hospital": 0.03, "school": 0.03, "shelter": 0.15, "major_project": 0.6}
NEW_SHARE_5G = 0.85


def generate_facilities(
    leaves: list[dict], townships: list[dict], seed: int, as_of: datetime, scale_factor: float = 1.0
) -> pd.DataFrame:
    """Facilities with the seed's counts (times ``scale_factor``), as the write layer's ``facilities``
    fields. Cameras, base stations and schools follow population; stations are spread over townships;
    projects favour the urban core. ``since``: commissioning date within the last three years for a
    share of each kind (None = before the records)."""
    rng = _rng(seed, 20)
    pop = np.array([lf["population"] for lf in leaves], dtype=float)
    pools = sample_points([lf["geometry"] for lf in leaves], 48, rng)
    twp_index = {t["code"]: k for k, t in enumerate(townships)}
    leaf_twp = np.array([twp_index.get(lf["township"], 0) for lf in leaves])
    rows: list[dict] = []
    for kind, count in FACILITY_COUNTS.items():
        n = max(1, round(count * scale_factor)) if kind in ("camera", "base_station", "school", "pollution_camera") else count
        if kind in ("air_station", "water_station"):
            # One station per township first (round robin), then population-weighted.
            twp_order = np.arange(n) % len(townships)
            leaf = np.array([rng.choice(np.flatnonzero(leaf_twp == t)) for t in twp_order])
        else:
            w = pop ** (1.3 if kind in ("hospital", "major_project") else 1.0)
            leaf = rng.choice(len(leaves), n, p=w / w.sum())
        pt = pools[leaf, rng.integers(0, pools.shape[1], n)]
        five_g = set(rng.choice(n, min(FIVE_G_BASE_STATIONS, n), replace=False).tolist()) if kind == "base_station" else set()
        new_draw = rng.random(n)
        age_days = rng.uniform(0, 3 * 365, n)
        for k in range(n):
            lf = leaves[leaf[k]]
            attrs: dict = {}
            if kind == "base_station":
                attrs["generation"] = "5G" if k in five_g else "4G"
            elif kind == "major_project":
                attrs = {"investment_yi": round(float(rng.lognormal(1.6, 0.7)), 1), "progress": int(rng.integers(5, 100))}
            elif kind == "shelter":
                attrs["capacity"] = int(rng.integers(5, 60)) * 100
            share = NEW_SHARE_5G if k in five_g else NEW_SHARE[kind]
            since = (as_of - timedelta(days=float(age_days[k]))).date() if new_draw[k] < share else None
            rows.append({
                "kind": kind, "name": f"{lf['name']}{FACILITY_ZH[kind]}{k + 1:04d}", "lon": round(float(pt[k, 0]), 6),
                "lat": round(float(pt[k, 1]), 6), "region_code": lf["code"], "attributes": json.dumps(attrs, ensure_ascii=False),
                "live": kind in LIVE_KINDS, "since": since,
            })
    return pd.DataFrame(rows)


def generate_readings(stations: list[tuple[int, str]], as_of: datetime, seed: int, hours: int = 168) -> pd.DataFrame:
    """Hourly readings of the live stations for the last ``hours`` hours: (facility_id, kind) pairs in."""
    rng = _rng(seed, 30)
    end = as_of.replace(minute=0, second=0, microsecond=0)
    ts = np.array([end - timedelta(hours=h) for h in range(hours - 1, -1, -1)], dtype="datetime64[us]")
    hod = ts.astype("datetime64[h]").astype(int) % 24
    frames = []
    for fid, kind in stations:
        for metric in LIVE_KINDS[kind]:
            if metric == "aqi":
                base = rng.uniform(45, 95)
                v = base * (1 + 0.25 * np.cos(2 * np.pi * (hod - 8) / 24)) + np.cumsum(rng.normal(0, 3, hours))
            elif metric == "pm25":
                base = rng.uniform(25, 60)
                v = base * (1 + 0.3 * np.cos(2 * np.pi * (hod - 8) / 24)) + np.cumsum(rng.normal(0, 2, hours))
            elif metric == "water_level":
                v = rng.uniform(2.0, 4.5) + np.cumsum(rng.normal(0, 0.03, hours))
            else:
                v = rng.uniform(6.5, 8.5) + 0.4 * np.sin(2 * np.pi * (hod - 14) / 24) + rng.normal(0, 0.1, hours)
            v = np.round(np.clip(v, 0, None), 2)
            frames.append(pd.DataFrame({"facility_id": fid, "metric": metric, "ts": ts, "value": v}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["facility_id", "metric", "ts", "value"])
