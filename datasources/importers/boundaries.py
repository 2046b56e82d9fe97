"""Import one level of administrative boundaries from GeoJSON, a zipped Shapefile or a GeoPackage.

Reads with geopandas/pyogrio, reprojects to EPSG:4326 (GCJ-02 sources shifted back with ``gcj02``), finds the
code / name / parent columns, assigns parents by containment when the file has none, checks the level
against the tree already stored, then writes through the Writer (which repairs invalid polygons and
simplifies the display geometry of the level as a coverage) in one transaction with an audit row."""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine, text

from datasources.importers.common import (
    ImportFailed,
    ImportSummary,
    Issue,
    Issues,
    audit,
    find_column,
    raise_ingest_as_issues,
)
from datasources.importers.gcj02 import gcj02_to_wgs84_xy
from datasources.ingest import IngestError, Writer

CODE_FIELDS = ("code", "adcode", "区划代码", "行政区划代码", "xzqdm", "dm", "id", "gb", "qhdm")
NAME_FIELDS = ("name", "名称", "区划名称", "行政区划名称", "xzqmc", "mc", "qhmc", "name_zh")
NAME_EN_FIELDS = ("name_en", "ename", "英文名称")
PARENT_FIELDS = ("parent_code", "parent", "parent_adcode", "上级代码", "上级区划代码", "sjdm")
POPULATION_FIELDS = ("population", "人口", "pop", "常住人口")
CONTAIN_TOLERANCE = 0.02  # a child may lie this share of its area outside its parent (digitising noise)


def read_features(path: str | Path, encoding: str | None = None) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The file's features and notes on how they were read (encoding, CRS). A Shapefile without a .cpg
    is read as UTF-8, and as GBK when its names do not decode as UTF-8."""
    p = Path(path)
    if not p.exists():
        raise ImportFailed(p, [Issue("file", None, str(p), "no such file")])
    notes: list[str] = []
    try:
        if encoding:
            gdf = gpd.read_file(p, encoding=encoding, engine="pyogrio")
            notes.append(f"attributes read as {encoding}")
        else:
            gdf = _read_guessing_encoding(p, notes)
    except ImportFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - GDAL's errors are many; any of them means 'unreadable'
        raise ImportFailed(p, [Issue("file", None, None, f"not a readable GeoJSON, zipped Shapefile or GeoPackage: {exc}")]) from None
    if gdf.empty:
        raise ImportFailed(p, [Issue("file", None, None, "no features")])
    return gdf, notes


def _read_guessing_encoding(p: Path, notes: list[str]) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(p, engine="pyogrio")
    if not _looks_misdecoded(gdf):
        return gdf
    for enc in ("utf-8", "gbk"):
        try:
            candidate = gpd.read_file(p, encoding=enc, engine="pyogrio")
        except Exception:  # noqa: BLE001, S112 - a wrong guess fails to decode; try the next one
            continue
        if not _looks_misdecoded(candidate):
            notes.append(f"attributes read as {enc} (no encoding declared)")
            return candidate
    return gdf


def _looks_misdecoded(gdf: gpd.GeoDataFrame) -> bool:
    """Column names or text cells holding Latin-1 letters but no CJK: GBK or UTF-8 bytes read as Latin-1."""
    texts = [" ".join(str(c) for c in gdf.columns)]
    texts += [" ".join(str(v) for v in gdf[c].head(50)) for c in gdf.columns if c != gdf.geometry.name and gdf[c].dtype == object]
    return any("\ufffd" in s or any("\u0080" <= ch <= "\u00ff" for ch in s) and not any("\u4e00" <= ch <= "\u9fff" for ch in s) for s in texts)


def to_wgs84(gdf: gpd.GeoDataFrame, path: str | Path, gcj02: bool, notes: list[str]) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4326 (a file without a CRS must already be in lon/lat), then undo GCJ-02."""
    if gdf.crs is None:
        minx, miny, maxx, maxy = gdf.total_bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise ImportFailed(path, [Issue("file", None, None, "no coordinate reference system declared and the "
                                                                 "coordinates are not longitude/latitude")])
        gdf = gdf.set_crs(4326)
        notes.append("no CRS declared: coordinates taken as EPSG:4326 longitude/latitude")
    elif gdf.crs.to_epsg() != 4326:
        notes.append(f"reprojected from {gdf.crs.to_string()} ({gdf.crs.name}) to EPSG:4326")
        gdf = gdf.to_crs(4326)
    if gcj02:
        gdf = gdf.set_geometry(shapely.transform(gdf.geometry.to_numpy(), gcj02_to_wgs84_xy), crs=4326)
        notes.append("shifted from GCJ-02 to WGS-84")
    return gdf


def import_boundaries(
    engine: Engine, path: str | Path, level: int, *, code_field: str | None = None, name_field: str | None = None,
    parent_field: str | None = None, encoding: str | None = None, gcj02: bool = False,
    level_name_zh: str | None = None, level_name_en: str | None = None, configured_level_names: str = "",
    actor: str = "cli",
) -> ImportSummary:
    """Import the areas of one level (0 = the top area). Raises :class:`ImportFailed` naming every bad
    feature and field; nothing is written then."""
    t0 = time.perf_counter()
    gdf, notes = read_features(path, encoding)
    gdf = to_wgs84(gdf, path, gcj02, notes)
    issues = Issues(path)
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    code_col = find_column(cols, code_field, CODE_FIELDS)
    name_col = find_column(cols, name_field, NAME_FIELDS)
    parent_col = find_column(cols, parent_field, PARENT_FIELDS) if (parent_field or level > 0) else None
    for what, col, given, opt in (("code", code_col, code_field, "--code-field"), ("name", name_col, name_field, "--name-field")):
        if col is None:
            issues.add("file", given, None, f"no {what} column found among {cols}; name it with {opt}")
    if parent_field and parent_col is None:
        issues.add("file", parent_field, None, f"no such column among {cols}")
    issues.raise_if_any()

    def where(k: int) -> str:
        return f"feature {k + 1}"

    codes = [_code_text(v) for v in gdf[code_col]]
    names = [str(v).strip() if v is not None and v == v else "" for v in gdf[name_col]]
    geoms = gdf.geometry.to_numpy()
    stored = {r.code: (r.level, r.parent_code) for r in _stored_regions(engine)}
    seen: dict[str, int] = {}
    for k, (code, name) in enumerate(zip(codes, names, strict=True)):
        if not code:
            issues.add(where(k), code_col, None, "empty code")
        elif code in seen:
            issues.add(where(k), code_col, code, f"duplicate code (also feature {seen[code] + 1})")
        else:
            seen[code] = k
        if code in stored and stored[code][0] != level:
            issues.add(where(k), code_col, code, f"already stored at level {stored[code][0]}, not {level}")
        if not name:
            issues.add(where(k), name_col, None, "empty name")
        g = geoms[k]
        if g is None or g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon"):
            issues.add(where(k), "geometry", None, f"must be a Polygon or MultiPolygon, not {getattr(g, 'geom_type', 'missing')}")
    parents = _parents(engine, gdf, parent_col, level, stored, codes, geoms, issues, where, notes)
    issues.raise_if_any()

    records = pd.DataFrame({"code": codes, "name": names, "level": level, "parent_code": parents, "geometry": list(geoms)})
    en_col = find_column(cols, None, NAME_EN_FIELDS)
    if en_col:
        records["name_en"] = gdf[en_col].fillna("").astype(str).to_numpy()
    pop_col = find_column(cols, None, POPULATION_FIELDS)
    if pop_col:
        records["population"] = pd.to_numeric(gdf[pop_col], errors="coerce").round().to_numpy()
    depth = max([level, *(lv for lv, _ in stored.values())])
    field_of = {"code": code_col, "name": name_col, "parent_code": parent_col, "level": code_col, "name_en": en_col,
                "population": pop_col}
    writer = Writer(engine)
    try:
        with writer.batch() as batch:
            shift = max(0, depth - 2)
            if shift != int(_meta(batch.conn, "catalog_level_shift") or 0):
                # The catalog's levels (1 = township, 2 = community) follow the tree's depth: a deeper tree
                # keeps its indicators at the bottom levels.
                from datasources.catalog_loader import load_catalog

                batch.catalog(load_catalog(), level_shift=shift)
                notes.append(f"catalog levels shifted by {shift} for a tree {depth} levels deep")
            repairs = batch.regions(records, _level_names(batch.conn, level, level_name_zh, level_name_en, configured_level_names))
            counts = {"areas": len(records), "level": level, "repaired": len(repairs)}
            audit(batch.conn, path, "boundaries", counts, actor)
    except IngestError as exc:
        raise_ingest_as_issues(path, exc, lambda r: where(r) if isinstance(r, int) else str(r),
                               lambda f: field_of.get(f, f))
    except ValueError as exc:  # a polygon beyond repair (nothing polygonal survives make_valid)
        raise ImportFailed(path, [Issue("file", "geometry", None, f"cannot repair: {exc}")]) from None
    notes += repairs
    return ImportSummary("boundaries", str(path), counts, notes, writer.last_report.data_version, time.perf_counter() - t0)


def _code_text(v: object) -> str:
    """A code cell as text: 510182.0 (a number column) -> '510182'."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _stored_regions(engine: Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(text("SELECT code, level, parent_code FROM regions")).all()


def _meta(conn: object, key: str) -> str | None:
    return conn.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": key}).scalar()


def _parents(engine: Engine, gdf: gpd.GeoDataFrame, parent_col: str | None, level: int, stored: dict, codes: list[str],
             geoms: np.ndarray, issues: Issues, where: object, notes: list[str]) -> list[str | None]:
    """Each feature's parent: the parent column, else the level-1 area containing its representative
    point; every child must lie inside its parent (within ``CONTAIN_TOLERANCE`` of its area)."""
    if level == 0:
        roots = sorted(c for c, (lv, _) in stored.items() if lv == 0)
        if len(codes) != 1:
            issues.add("file", None, len(codes), "level 0 is the top area: the file must hold exactly one feature")
        elif roots and roots != codes:
            issues.add(where(0), None, codes[0], f"another top area is stored ({', '.join(roots)}); use a new database")
        return [None] * len(codes)
    parent_rows = _parent_geometries(engine, level - 1)
    if not parent_rows:
        issues.add("file", None, level, f"no areas of level {level - 1} are stored: import the levels from the top (0) down")
        return [None] * len(codes)
    pcodes = list(parent_rows)
    pgeoms = np.array([shapely.make_valid(g) for g in parent_rows.values()], dtype=object)
    tree = shapely.STRtree(pgeoms)
    valid = [shapely.make_valid(g) if g is not None and not g.is_empty else None for g in geoms]
    out: list[str | None] = []
    for k, g in enumerate(valid):
        if parent_col is not None:
            p = _code_text(gdf[parent_col].iat[k])
            if not p:
                issues.add(where(k), parent_col, None, "empty parent code")
            elif p not in parent_rows:
                known = stored.get(p)
                reason = (f"parent is at level {known[0]}, not {level - 1}" if known else "unknown parent code")
                issues.add(where(k), parent_col, p, reason)
                p = None
            out.append(p or None)
        elif g is None:
            out.append(None)
        else:
            hits = tree.query(g.representative_point(), predicate="within")
            if len(hits) == 0:
                issues.add(where(k), "geometry", codes[k], f"lies in no area of level {level - 1} (no parent found)")
                out.append(None)
                continue
            out.append(pcodes[int(hits[0])])
        if out[-1] is not None and g is not None and g.area > 0:
            outside = shapely.difference(g, pgeoms[pcodes.index(out[-1])]).area / g.area
            if outside > CONTAIN_TOLERANCE:
                issues.add(where(k), "geometry", codes[k],
                           f"{outside:.0%} of the area lies outside its parent {out[-1]} (tolerance {CONTAIN_TOLERANCE:.0%})")
    if parent_col is None:
        notes.append(f"parents assigned by containment in level {level - 1}")
    return out


def _parent_geometries(engine: Engine, level: int) -> dict[str, shapely.Geometry]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT code, geometry FROM regions WHERE level = :lv ORDER BY code"), {"lv": level}).all()
    return {r.code: shapely.from_geojson(r.geometry) for r in rows}


def _level_names(conn: object, level: int, zh: str | None, en: str | None, configured: str) -> list[tuple[int, str, str]]:
    """The level's names: the options, else the configured ones (IOC_LEVEL_NAMES), else what is stored, else
    a neutral 'level N'."""
    stored = conn.execute(text("SELECT name_zh, name_en FROM region_levels WHERE level = :lv"), {"lv": level}).first()
    names = parse_level_names(configured).get(level)
    base = (names or (stored and (stored.name_zh, stored.name_en)) or (f"第{level}级", f"level {level}"))
    return [(level, zh or base[0], en or base[1])]


def parse_level_names(spec: str) -> dict[int, tuple[str, str]]:
    """'市/city;区县/district;镇街/township' -> {0: ('市', 'city'), 1: ('区县', 'district'), …}."""
    out = {}
    for k, part in enumerate(p for p in (spec or "").split(";") if p.strip()):
        zh, _, en = part.partition("/")
        out[k] = (zh.strip(), (en or zh).strip())
    return out
