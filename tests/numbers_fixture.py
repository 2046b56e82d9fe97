"""A tiny hand-made city whose every number can be computed by hand: the data behind the 'numbers' tests.

Everything is written by ONE function, :func:`build_numbers_db`, through SQLAlchemy Core on the model
tables with Python ``date``/``datetime`` objects (never preformatted timestamp strings), so that it can be
ported to another write layer by editing this one function. The tests assert literals derived from the
tables below; change a number here and the comments in the tests must change with it.

Region tree (codes are GB-shaped; population and area in km² in brackets; areas are chosen for the heat
grid, not to add up)::

    510182 彭州测试市 / Test City (8000, 625 km²), level 0, box lon 103.0–104.0, lat 31.0–31.5
    ├── 510182001 甲镇 / Town A (6000, 400 km²), level 1, lon 103.0–103.5
    │   ├── 510182001001 甲一社区 / A1 (1000)   lon 103.0–103.2
    │   ├── 510182001002 甲二社区 / A2 (2000)   lon 103.2–103.4
    │   └── 510182001003 甲三社区 / A3 (3000)   lon 103.4–103.5
    └── 510182002 乙镇 / Town B (2000, 225 km²), level 1, lon 103.5–104.0
        ├── 510182002001 乙一社区 / B1 (1500)   lon 103.5–103.75
        └── 510182002002 乙二社区 / B2 (500)    lon 103.75–104.0

Indicators (values loaded at the communities unless said otherwise; parents are rolled up in SQL):

    code          rule  pol freq       warn alarm headline
    eco_gdp_year  sum   +1  yearly     -    -     yes   (loaded at the city only: 2024-01 400, 2025-01 450)
    eco_jobs      sum   +1  monthly    -    -     no    (no values at all)
    eco_sum       sum   +1  monthly    100  50    yes
    emg_max       max   -1  daily      -    -     no
    env_pm25      mean  -1  monthly    35   75    yes
    gov_last      last  +1  quarterly  60   40    yes
    gov_min       min   +1  monthly    -    -     no
    svc_wmean     wmean +1  monthly    90   80    yes

See VALUES below for the community values; the derived parent values are spelled out in the tests.
"""

from __future__ import annotations

from datetime import date, datetime

import shapely
from sqlalchemy import Engine

from datasources.db import reset_database
from datasources.models import (
    Alert,
    Event,
    Facility,
    Indicator,
    IndicatorValue,
    Meta,
    Page,
    Region,
    RegionLevel,
)
from datasources.rollup import (
    build_closure,
    refresh_event_areas,
    rollup_event_cells,
    rollup_events_monthly,
    rollup_indicator_values,
)

CITY, TA, TB = "510182", "510182001", "510182002"
A1, A2, A3 = "510182001001", "510182001002", "510182001003"
B1, B2 = "510182002001", "510182002002"
COMMUNITIES = (A1, A2, A3, B1, B2)
DATA_VERSION = 7
GEOMETRY_VERSION = 3  # differs from DATA_VERSION: boundary URLs must carry this one
AS_OF = datetime(2026, 11, 20, 18, 0, 0)

# code, name, name_en, level, parent, population, area_km2, (minx, miny, maxx, maxy)
REGIONS = [
    (CITY, "彭州测试市", "Test City", 0, None, 8000, 625.0, (103.0, 31.0, 104.0, 31.5)),
    (TA, "甲镇", "Town A", 1, CITY, 6000, 400.0, (103.0, 31.0, 103.5, 31.5)),
    (TB, "乙镇", "Town B", 1, CITY, 2000, 225.0, (103.5, 31.0, 104.0, 31.5)),
    (A1, "甲一社区", "A1", 2, TA, 1000, 100.0, (103.0, 31.0, 103.2, 31.5)),
    (A2, "甲二社区", "A2", 2, TA, 2000, 150.0, (103.2, 31.0, 103.4, 31.5)),
    (A3, "甲三社区", "", 2, TA, 3000, 150.0, (103.4, 31.0, 103.5, 31.5)),  # no English name: falls back to zh
    (B1, "乙一社区", "B1", 2, TB, 1500, 125.0, (103.5, 31.0, 103.75, 31.5)),
    (B2, "乙二社区", "B2", 2, TB, 500, 100.0, (103.75, 31.0, 104.0, 31.5)),
]

# code, name_zh, name_en, theme, unit, unit_en, aggregation, polarity, warn, alarm, frequency, level, headline
INDICATORS = [
    ("eco_gdp_year", "地区生产总值", "GDP", "economy", "亿元", "100M CNY", "sum", 1, None, None, "yearly", 0, True),
    ("eco_jobs", "新增就业", "New jobs", "economy", "人", "people", "sum", 1, None, None, "monthly", 2, False),
    ("eco_sum", "社零总额", "Retail sales", "economy", "万元", "10k CNY", "sum", 1, 100.0, 50.0, "monthly", 2, True),
    ("emg_max", "最大积水深度", "Max flooding", "emergency", "厘米", "cm", "max", -1, None, None, "daily", 2, False),
    ("env_pm25", "PM2.5浓度", "PM2.5", "environment", "μg/m³", "μg/m³", "mean", -1, 35.0, 75.0, "monthly", 2, True),
    ("gov_last", "群众满意度", "Satisfaction", "governance", "分", "pts", "last", 1, 60.0, 40.0, "quarterly", 2, True),
    ("gov_min", "最低网格覆盖", "Min grid cover", "governance", "个", "", "min", 1, None, None, "monthly", 2, False),
    ("svc_wmean", "疫苗接种率", "Vaccination", "public_service", "%", "%", "wmean", 1, 90.0, 80.0, "monthly", 2, True),
]

# indicator -> period -> {community: value}. Reported a few days after the month unless REPORTED says otherwise.
VALUES: dict[str, dict[date, dict[str, float]]] = {
    "eco_sum": {
        date(2025, 10, 1): {A1: 10, A2: 20, A3: 30, B1: 40, B2: 50},
        date(2026, 8, 1): {A1: 12, A2: 22, A3: 32, B1: 10, B2: 20},
        date(2026, 9, 1): {A1: 20, A2: 20, A3: 20, B1: 20, B2: 20},
        date(2026, 10, 1): {A1: 25, A2: 30, A3: 35, B1: 5, B2: 25},
    },
    "env_pm25": {  # no 2026-08 row: the value before 2026-09 is 2025-10
        date(2025, 10, 1): {A1: 40, A2: 50, A3: 60, B1: 30, B2: 70},
        date(2026, 9, 1): {A1: 30, A2: 40, A3: 50, B1: 20, B2: 40},
        date(2026, 10, 1): {A1: 20, A2: 30, A3: 40, B1: 90, B2: 70},
    },
    "svc_wmean": {
        date(2026, 9, 1): {A1: 96, A2: 90, A3: 93, B1: 80, B2: 100},
        date(2026, 10, 1): {A1: 90, A2: 84, A3: 80, B1: 70, B2: 90},
    },
    "emg_max": {date(2026, 10, 1): {A1: 3, A2: 7, B1: 2, B2: 9}},  # A3 has no value
    "gov_min": {date(2026, 10, 1): {A1: 5, A2: 5, A3: 4, B1: 8, B2: 1}},  # A1 and A2 tie
    "gov_last": {
        date(2025, 7, 1): {A1: 50, A2: 70, A3: 60, B1: 30, B2: 45},
        date(2026, 4, 1): {A1: 55, A2: 65, A3: 75, B1: 35, B2: 25},
        date(2026, 7, 1): {A1: 62, A2: 58, A3: 66, B1: 70, B2: 20},
    },
}
# When each gov_last value was reported: the 'last' roll-up takes the most recently reported child
# (ties broken by the higher region code).
REPORTED = {
    date(2025, 7, 1): {A1: datetime(2025, 8, 5), A2: datetime(2025, 8, 3), A3: datetime(2025, 8, 1),
                       B1: datetime(2025, 8, 2), B2: datetime(2025, 8, 4)},
    date(2026, 4, 1): {A1: datetime(2026, 5, 1), A2: datetime(2026, 5, 6), A3: datetime(2026, 5, 2),
                       B1: datetime(2026, 5, 3), B2: datetime(2026, 5, 2)},
    date(2026, 7, 1): {A1: datetime(2026, 8, 2), A2: datetime(2026, 8, 1), A3: datetime(2026, 8, 1),
                       B1: datetime(2026, 8, 3), B2: datetime(2026, 8, 3)},
}

# id, region, source, category, theme, severity, status, reported_at, satisfaction, lon, lat
EVENTS = [
    # October 2026 (the default period)
    (1, A1, "hotline", "noise", "governance", 4, "closed", datetime(2026, 10, 1, 0, 0, 0), 5, 103.013, 31.013),
    (2, A1, "hotline", "noise", "governance", 3, "resolved", datetime(2026, 10, 3, 7, 30), 3, 103.017, 31.013),
    (3, A2, "city_management", "road", "governance", 2, "processing", datetime(2026, 10, 5, 12, 0), None, 103.233, 31.113),
    (4, A2, "grid", "sanitation", "governance", 4, "closed", datetime(2026, 10, 10, 9, 0), None, 103.237, 31.117),
    (5, A3, "emergency", "fire", "emergency", 1, "dispatched", datetime(2026, 10, 12, 20, 0), None, 103.433, 31.213),
    (6, A3, "sensor", "flood", "emergency", 2, "reported", datetime(2026, 10, 19, 12, 0), None, 103.443, 31.223),
    (7, B1, "hotline", "noise", "governance", 4, "closed", datetime(2026, 10, 20, 8, 0), 4, 103.613, 31.313),
    (8, B1, "hotline", "road", "governance", 3, "closed", datetime(2026, 10, 25, 10, 0), None, 103.617, 31.317),
    (9, B2, "grid", "sanitation", "governance", 3, "resolved", datetime(2026, 10, 28, 16, 0), 5, 103.813, 31.413),
    (10, B2, "city_management", "road", "governance", 1, "processing", datetime(2026, 10, 31, 23, 59, 59), None, None, None),
    # September 2026
    (11, A1, "hotline", "noise", "governance", 4, "closed", datetime(2026, 9, 2, 10, 0), 5, 103.013, 31.013),
    (12, A1, "grid", "sanitation", "governance", 3, "closed", datetime(2026, 9, 15, 0, 0), 4, 103.053, 31.053),
    (13, A2, "hotline", "road", "governance", 2, "reported", datetime(2026, 9, 20, 9, 0), None, 103.253, 31.153),
    (14, B1, "emergency", "fire", "emergency", 1, "closed", datetime(2026, 9, 15, 0, 0), None, 103.653, 31.353),
    (15, B2, "sensor", "flood", "emergency", 4, "dispatched", datetime(2026, 9, 30, 23, 0), None, 103.853, 31.453),
    # August 2026
    (16, A3, "hotline", "noise", "governance", 3, "closed", datetime(2026, 8, 8, 8, 0), 1, 103.453, 31.253),
    (17, B1, "grid", "sanitation", "governance", 2, "processing", datetime(2026, 8, 18, 14, 0), None, 103.553, 31.053),
    # November 2026 (after the default period)
    (18, A1, "hotline", "noise", "governance", 4, "reported", datetime(2026, 11, 1, 0, 0, 0), None, 103.113, 31.113),
    (19, A2, "sensor", "flood", "emergency", 3, "resolved", datetime(2026, 11, 5, 9, 0), 5, 103.313, 31.313),
    (20, B2, "hotline", "road", "governance", 2, "reported", datetime(2026, 11, 20, 17, 30), None, 103.913, 31.413),
]

# id, kind, name, region, lon, lat
FACILITIES = [
    (1, "camera", "甲一路口", A1, 103.048, 31.048),
    (2, "camera", "甲一广场", A1, 103.058, 31.058),  # same 0.02° cell as camera 1, not the same 0.01° one
    (3, "camera", "甲二桥头", A2, 103.25, 31.15),
    (4, "hospital", "乙一医院", B1, 103.65, 31.25),
    (5, "school", "乙二小学", B2, 103.85, 31.35),
    (6, "camera", "乙二路口", B2, 103.85, 31.45),
]

# id, rule, severity, region, indicator, event, message, started_at, cleared_at
ALERTS = [
    (1, "threshold", 2, TB, "env_pm25", None, "PM2.5 超过报警值", datetime(2026, 10, 31, 8, 0), None),
    (2, "severe_event", 1, A3, None, 5, "Ⅰ级事件在办", datetime(2026, 10, 12, 20, 5), None),
    (3, "threshold", 3, A1, "eco_sum", None, "已解除", datetime(2026, 10, 20, 9, 0), datetime(2026, 10, 21, 9, 0)),
    (4, "threshold", 3, B1, "svc_wmean", None, "接种率偏低", datetime(2026, 10, 31, 8, 0), None),
]


def _box(bounds: tuple[float, float, float, float]) -> str:
    return shapely.to_geojson(shapely.box(*bounds))


def build_numbers_db(engine: Engine) -> None:
    """Reset the schema and write the whole hand-made city, then run the SQL roll-ups."""
    reset_database(engine)
    with engine.begin() as conn:
        conn.execute(Meta.__table__.insert(), [
            {"key": "data_version", "value": str(DATA_VERSION)},
            {"key": "geometry_version", "value": str(GEOMETRY_VERSION)},
            {"key": "demo", "value": "1"},
            {"key": "as_of", "value": AS_OF.isoformat()},
            {"key": "scale", "value": "numbers"},
        ])
        conn.execute(RegionLevel.__table__.insert(), [
            {"level": 0, "name_zh": "市", "name_en": "city"},
            {"level": 1, "name_zh": "镇街", "name_en": "township"},
            {"level": 2, "name_zh": "村社区", "name_en": "community"},
        ])
        conn.execute(Region.__table__.insert(), [
            {"code": code, "name": name, "name_en": name_en, "level": level, "parent_code": parent,
             "population": pop, "area_km2": area, "centroid_lon": (b[0] + b[2]) / 2, "centroid_lat": (b[1] + b[3]) / 2,
             "geometry": _box(b), "geometry_display": _box(b)}
            for code, name, name_en, level, parent, pop, area, b in REGIONS
        ])
        build_closure(conn)
        conn.execute(Page.__table__.insert(), [
            {"id": theme, "kind": "theme", "name_zh": theme, "name_en": theme, "order": k, "icon": ""}
            for k, theme in enumerate(("economy", "governance", "emergency", "public_service", "environment"))
        ])
        conn.execute(Indicator.__table__.insert(), [
            {"code": c, "name_zh": zh, "name_en": en, "theme": th, "topics": "", "unit": u, "unit_en": ue,
             "aggregation": agg, "polarity": pol, "warn": warn, "alarm": alarm, "department": "", "frequency": freq,
             "level": lvl, "headline": head, "description": f"{zh} ({agg})"}
            for c, zh, en, th, u, ue, agg, pol, warn, alarm, freq, lvl, head in INDICATORS
        ])
        rows = [
            {"indicator_code": ind, "region_code": region, "period": period, "value": float(v),
             "reported_at": REPORTED[period][region] if ind == "gov_last" else datetime(period.year, period.month, 5),
             "derived": False}
            for ind, by_period in VALUES.items() for period, by_region in by_period.items() for region, v in by_region.items()
        ]
        rows += [
            {"indicator_code": "eco_gdp_year", "region_code": CITY, "period": date(2024, 1, 1), "value": 400.0,
             "reported_at": datetime(2024, 3, 1), "derived": False},
            {"indicator_code": "eco_gdp_year", "region_code": CITY, "period": date(2025, 1, 1), "value": 450.0,
             "reported_at": datetime(2025, 3, 1), "derived": False},
        ]
        conn.execute(IndicatorValue.__table__.insert(), rows)
        rollup_indicator_values(conn)
        conn.execute(Event.__table__.insert(), [
            {"id": i, "source": src, "category": cat, "theme": theme, "severity": sev, "title": f"事件{i} {cat}",
             "description": "", "lon": lon, "lat": lat, "region_code": region, "reported_at": at, "status": status,
             "department": None if status == "reported" else "城管局",
             "dispatched_at": None, "resolved_at": None, "closed_at": None,
             "satisfaction": sat, "due_at": None}
            for i, region, src, cat, theme, sev, status, at, sat, lon, lat in EVENTS
        ])
        refresh_event_areas(conn)  # the events' ancestor columns, as the write layer fills them
        rollup_events_monthly(conn)
        rollup_event_cells(conn)
        conn.execute(Facility.__table__.insert(), [
            {"id": i, "kind": kind, "name": name, "lon": lon, "lat": lat, "region_code": region, "attributes": "{}",
             "live": False}
            for i, kind, name, region, lon, lat in FACILITIES
        ])
        conn.execute(Alert.__table__.insert(), [
            {"id": i, "rule": rule, "severity": sev, "region_code": region, "indicator_code": ind, "event_id": ev,
             "message": msg, "started_at": started, "acknowledged_by": None, "acknowledged_at": None,
             "cleared_at": cleared}
            for i, rule, sev, region, ind, ev, msg, started, cleared in ALERTS
        ])
