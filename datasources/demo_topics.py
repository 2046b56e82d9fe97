"""Demo data for the topic pages (防汛, 新基建, 重大项目): rain gauges and river stations with hourly
readings, risk points, rescue teams, charging stations, and the schedule of the major projects.

Every draw here comes from generator stages of its own (21 facilities, 22 project schedules, 31 readings),
so adding these kinds left every row the demo built before them unchanged. Counts that the catalog also
holds as indicators are taken from the indicator values the demo generated, so the map and the KPI cards
agree: risk points per township = the township's newest ``emg_geohazard_sites`` /
``emg_waterlogging_points``; charging piles per township = its newest ``ps_charging_points``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from datasources.demo_events import FACILITY_ZH, sample_points

#: Live kinds added for the topics and the metrics their stations report (units in the names).
# A river station reports its level and, as hydrological feeds do (超警戒水位), the level above its own
# warning level (negative below it): alert rules have one threshold per metric, not one per station.
TOPIC_LIVE_KINDS = {"rain_gauge": ("rainfall_mm",), "river_station": ("water_level_m", "over_warning_m")}
#: Indicator whose newest township value gives the count (or pile total) of a kind.
RISK_INDICATORS = {"geohazard": "emg_geohazard_sites", "waterlogging": "emg_waterlogging_points"}
CHARGING_INDICATOR = "ps_charging_points"
# Seed 000 (彭山, 465 km²) counts 21 flash-flood rain monitoring points and 22 regional automatic weather
# stations: 43 gauges, scaled by area to 彭州's 1,421 km² ≈ 131 for the county's 20 townships.
RAIN_GAUGES_PER_TOWNSHIP = 43 * 1421 / 465 / 20
RIVER_STATIONS_PER_TOWNSHIP = 0.8  # 16 gauges on 湔江, 青白江, 人民渠 … for the county (illustrative)
# Seed 000: one charging station with 24 piles at the end of 2020 and 11 more stations with 1,731
# dispersed piles planned by 2023, i.e. 12 stations per 1,755 piles. The demo keeps that ratio of
# centralised stations to piles (the pile total itself is the catalog indicator's); the rest of the
# piles stand in car parks and residential compounds in groups of 2-20.
SEED000_STATIONS_PER_PILE = 12 / (24 + 1731)
RISK_LEVEL_P = (0.06, 0.19, 0.40, 0.35)  # risk_level 1 (特大, most severe) … 4 (小型), like severity I-IV
RESCUE_SPECIALTIES_CITY = ("森林消防", "水上救援", "山地救援", "危化品救援", "医疗救护", "电力抢修")
RESCUE_SPECIALTY_TOWNSHIP = "综合应急"
FLOOD_SEASON = range(6, 10)  # 汛期: June to September


def _rng(seed: int, stage: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stage]))


def newest_by_region(values: pd.DataFrame, indicator: str) -> dict[str, float]:
    """The newest loaded value of ``indicator`` per region from the demo's value frame (indicator, region,
    period, value); a stale feed gives its last value."""
    rows = values[values["indicator"] == indicator]
    if rows.empty:
        return {}
    newest = rows.sort_values("period").groupby("region", sort=True)["value"].last()
    return {str(k): float(v) for k, v in newest.items()}


def generate_topic_facilities(
    leaves: list[dict], townships: list[dict], seed: int, as_of: datetime, totals: Mapping[str, Mapping[str, float]],
) -> pd.DataFrame:
    """Rain gauges, river stations, risk points, rescue teams and charging stations as the write layer's
    ``facilities`` fields. ``totals``: indicator code -> township code -> newest value (see
    :func:`newest_by_region`); a township missing there gets none of that kind."""
    rng = _rng(seed, 21)
    pools = sample_points([lf["geometry"] for lf in leaves], 32, rng)
    by_twp: dict[str, list[int]] = {}
    for k, lf in enumerate(leaves):
        by_twp.setdefault(lf["township"], []).append(k)
    twp_codes = [t["code"] for t in townships if t["code"] in by_twp]
    pop = np.array([lf["population"] for lf in leaves], dtype=float)
    lat = np.array([lf["centroid_lat"] for lf in leaves], dtype=float)
    # 彭州's mountains are in the north: geohazards and rain favour high latitudes, waterlogging the towns.
    north = (lat - lat.min()) / max(float(np.ptp(lat)), 1e-9) + 0.05
    rows: list[dict] = []
    serial: dict[str, int] = {}

    def add(kind: str, leaf: int, attrs: dict, live: bool = False) -> None:
        lf = leaves[leaf]
        serial[kind] = serial.get(kind, 0) + 1
        pt = pools[leaf, rng.integers(0, pools.shape[1])]
        rows.append({
            "kind": kind, "name": f"{lf['name']}{FACILITY_ZH[kind]}{serial[kind]:04d}", "lon": round(float(pt[0]), 6),
            "lat": round(float(pt[1]), 6), "region_code": lf["code"], "attributes": json.dumps(attrs, ensure_ascii=False),
            "live": live, "since": None,
        })

    def pick(twp: str, weight: np.ndarray) -> int:
        idx = np.array(by_twp[twp])
        w = weight[idx]
        return int(rng.choice(idx, p=w / w.sum()))

    def spread(n: int, weight: np.ndarray) -> list[str]:
        """``n`` townships: each once (round robin) first, then by the township's summed weight."""
        first = [twp_codes[k % len(twp_codes)] for k in range(min(n, len(twp_codes)))]
        tw = np.array([weight[by_twp[c]].sum() for c in twp_codes])
        rest = rng.choice(len(twp_codes), max(0, n - len(first)), p=tw / tw.sum())
        return first + [twp_codes[k] for k in rest]

    flood_season = as_of.month in FLOOD_SEASON
    for twp in spread(max(1, round(RAIN_GAUGES_PER_TOWNSHIP * len(twp_codes))), north):
        add("rain_gauge", pick(twp, north), {"purpose": "山洪预警" if rng.random() < 0.5 else "区域自动站"}, live=True)
    for twp in spread(max(1, round(RIVER_STATIONS_PER_TOWNSHIP * len(twp_codes))), np.ones(len(leaves))):
        warning = round(float(rng.uniform(3.0, 6.5)), 2)
        # In the flood season a few stations run close to their warning level (see the readings).
        near = bool(flood_season and rng.random() < 0.25)
        add("river_station", pick(twp, np.ones(len(leaves))), {
            "warning_level_m": warning, "guaranteed_level_m": round(warning + float(rng.uniform(0.5, 1.2)), 2),
            "near_warning": near,
        }, live=True)
    for risk_type, code in RISK_INDICATORS.items():
        weight = north ** 2 if risk_type == "geohazard" else pop / pop.mean() * (1.05 - north)
        for twp in twp_codes:
            for _ in range(int(round(totals.get(code, {}).get(twp, 0)))):
                add("risk_point", pick(twp, weight), {
                    "risk_type": risk_type, "risk_level": int(rng.choice(4, p=RISK_LEVEL_P)) + 1,
                    "households": int(rng.integers(2, 60)) if risk_type == "geohazard" else 0,
                })
    for twp in twp_codes:
        add("rescue_team", pick(twp, pop), {"members": int(rng.integers(15, 41)), "specialty": RESCUE_SPECIALTY_TOWNSHIP})
    for specialty in RESCUE_SPECIALTIES_CITY:
        add("rescue_team", pick(twp_codes[int(rng.integers(len(twp_codes)))], pop),
            {"members": int(rng.integers(20, 81)), "specialty": specialty, "city_level": True})
    for twp in twp_codes:
        for piles, centralised in _pile_groups(int(round(totals.get(CHARGING_INDICATOR, {}).get(twp, 0))), rng):
            add("charging_station", pick(twp, pop), {"piles": piles, "centralised": centralised})
    return pd.DataFrame(rows, columns=["kind", "name", "lon", "lat", "region_code", "attributes", "live", "since"])


def _pile_groups(total: int, rng: np.random.Generator) -> list[tuple[int, bool]]:
    """Split a township's ``total`` piles into sites: centralised stations (10-30 fast piles, as many as
    seed 000's ratio gives) and dispersed sites of 2-20; the piles add up to ``total`` exactly."""
    groups: list[tuple[int, bool]] = []
    left = total
    for _ in range(int(round(total * SEED000_STATIONS_PER_PILE))):
        n = min(left, int(rng.integers(10, 31)))
        if n <= 0:
            break
        groups.append((n, True))
        left -= n
    while left > 0:
        n = min(left, int(rng.integers(2, 21)))
        groups.append((n, False))
        left -= n
    return groups


def add_project_schedule(facilities: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The major projects' ``planned_progress`` (%), ``delay_days`` and ``investment_done_yi`` (亿元),
    added to their attributes (other rows unchanged): about a third run behind plan, and only those have
    a delay; the investment done follows the progress."""
    rng = _rng(seed, 22)
    out = facilities.copy()
    for k in np.flatnonzero((out["kind"] == "major_project").to_numpy()):
        attrs = json.loads(out["attributes"].iat[k])
        progress = int(attrs["progress"])
        behind = rng.random() < 0.35
        planned = min(100, progress + int(rng.integers(4, 26))) if behind else max(0, progress - int(rng.integers(0, 6)))
        duration_days = int(rng.integers(540, 1460))  # a two- to four-year build
        delay = round((planned - progress) / 100 * duration_days) if progress < planned else 0
        done = min(float(attrs["investment_yi"]), float(attrs["investment_yi"]) * progress / 100 * float(rng.uniform(0.92, 1.06)))
        attrs |= {"planned_progress": planned, "delay_days": int(delay), "investment_done_yi": round(done, 2)}
        out.iat[k, out.columns.get_loc("attributes")] = json.dumps(attrs, ensure_ascii=False)
    return out


def generate_topic_readings(stations: list[tuple[int, str, dict]], as_of: datetime, seed: int, hours: int = 168) -> pd.DataFrame:
    """Hourly readings of the rain gauges (``rainfall_mm``) and river stations (``water_level_m``) for
    the last ``hours`` hours: (facility_id, kind, attributes) in; other kinds are skipped.

    Rain comes in showers shared by the whole city (each gauge gets its own share; most hours are dry),
    heavier in the flood season; river levels rise after rain and fall back slowly, and stations marked
    ``near_warning`` end within half a metre of their warning level."""
    rng = _rng(seed, 31)
    end = as_of.replace(minute=0, second=0, microsecond=0)
    ts = np.array([end - timedelta(hours=h) for h in range(hours - 1, -1, -1)], dtype="datetime64[us]")
    shower = _city_showers(hours, as_of.month in FLOOD_SEASON, rng)
    frames = []
    for fid, kind, attrs in stations:
        if kind == "rain_gauge":
            share = rng.lognormal(0, 0.35) * (rng.random(hours) < 0.85)  # a shower misses some gauges
            v = np.round(np.minimum(shower * share * rng.lognormal(0, 0.25, hours), 100.0), 1)
            frames.append(pd.DataFrame({"facility_id": fid, "metric": "rainfall_mm", "ts": ts, "value": v}))
        elif kind == "river_station":
            warning = float(attrs["warning_level_m"])
            # Runoff: an exponentially fading memory of the rain (about a day), plus a little noise.
            runoff = np.zeros(hours)
            for h in range(hours):
                runoff[h] = (runoff[h - 1] * 0.96 if h else 0) + shower[h] * 0.004
            margin = rng.uniform(0.1, 0.5) if attrs.get("near_warning") else rng.uniform(1.2, 3.0)
            v = warning - margin - runoff[-1] + runoff + np.cumsum(rng.normal(0, 0.004, hours))
            level = np.round(v, 2)
            frames.append(pd.DataFrame({"facility_id": fid, "metric": "water_level_m", "ts": ts, "value": level}))
            frames.append(pd.DataFrame({"facility_id": fid, "metric": "over_warning_m", "ts": ts, "value": np.round(level - warning, 2)}))
    if not frames:
        return pd.DataFrame(columns=["facility_id", "metric", "ts", "value"])
    return pd.concat(frames, ignore_index=True)


def _city_showers(hours: int, flood_season: bool, rng: np.random.Generator) -> np.ndarray:
    """City-wide rain intensity (mm/h) per hour: showers start at random, last 2-10 hours and peak in
    the middle; the flood season has more and heavier showers."""
    start_p, peak_mean = (0.03, 14.0) if flood_season else (0.012, 2.5)
    rain = np.zeros(hours)
    for h in np.flatnonzero(rng.random(hours) < start_p):
        length = int(rng.integers(2, 11))
        peak = rng.gamma(3.0, peak_mean / 3)
        shape = np.sin(np.linspace(0, np.pi, length + 2)[1:-1])
        seg = slice(h, min(hours, h + length))
        rain[seg] += peak * shape[: seg.stop - seg.start]
    return np.minimum(rain, 80.0)

