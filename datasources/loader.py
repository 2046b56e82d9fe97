"""Writes reference data into the database: schema reset, catalog, regions and their closure."""

from __future__ import annotations

from collections.abc import Iterable

import shapely
from sqlalchemy import Connection, Engine, text

from datasources import db
from datasources.catalog_loader import Catalog
from datasources.models import Base, Indicator, Page, Region, RegionLevel
from datasources.rollup import build_closure


def reset_database(engine: Engine) -> None:
    """Drop every table (including Alembic's) and migrate an empty schema to head."""
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.upgrade(engine)


def store_catalog(conn: Connection, catalog: Catalog, level_shift: int = 0) -> None:
    """Replace pages and indicators with the catalog's. ``level_shift`` maps the catalog's levels onto
    a deeper hierarchy (e.g. +1 when a prefecture sits above the county levels the catalog names)."""
    conn.execute(text("DELETE FROM pages"))
    conn.execute(text("DELETE FROM indicators"))
    conn.execute(
        Page.__table__.insert(),
        [{"id": p.id, "kind": p.kind, "name_zh": p.name_zh, "name_en": p.name_en, "order": p.order, "icon": p.icon} for p in catalog.pages],
    )
    conn.execute(
        Indicator.__table__.insert(),
        [
            {
                "code": i.code, "name_zh": i.name_zh, "name_en": i.name_en, "theme": i.theme,
                "topics": ";".join(i.topics), "unit": i.unit, "unit_en": i.unit_en, "aggregation": i.aggregation,
                "polarity": i.polarity, "warn": i.warn, "alarm": i.alarm, "department": i.department,
                "frequency": i.frequency, "level": i.level + (level_shift if i.level > 0 else 0),
                "headline": i.headline, "description": i.description,
            }
            for i in catalog.indicators
        ],
    )


def load_regions(conn: Connection, regions: Iterable[dict], levels: Iterable[tuple[int, str, str]]) -> int:
    """Insert regions (parents before children) and level names, then rebuild the closure table.

    Each region dict carries shapely ``geometry`` and ``geometry_display``; they are stored as GeoJSON."""
    conn.execute(RegionLevel.__table__.insert(), [{"level": lv, "name_zh": zh, "name_en": en} for lv, zh, en in levels])
    rows = sorted(regions, key=lambda r: (r["level"], r["code"]))
    conn.execute(
        Region.__table__.insert(),
        [
            {
                "code": r["code"], "name": r["name"], "name_en": r.get("name_en", ""), "level": int(r["level"]),
                "parent_code": r.get("parent_code") or None, "population": int(r.get("population", 0)),
                "area_km2": float(r["area_km2"]), "centroid_lon": float(r["centroid_lon"]),
                "centroid_lat": float(r["centroid_lat"]),
                "geometry": shapely.to_geojson(r["geometry"]),
                "geometry_display": shapely.to_geojson(shapely.set_precision(r["geometry_display"], 1e-5)),
            }
            for r in rows
        ],
    )
    return build_closure(conn)
