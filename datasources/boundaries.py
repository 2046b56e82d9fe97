"""Boundaries: repair, measure and simplify administrative polygons (production code).

Pure functions (no Dash, no database), used by the boundary import and the demo alike:

* :func:`repair` / :func:`load_outline` turn real-world polygons (often invalid by OGC rules as shipped,
  e.g. the ECharts-derived 彭州市 outline) into valid (Multi)Polygons and say what was repaired;
* :func:`area_km2` / :func:`areas_km2` measure areas in an equal-area projection;
* :func:`inner_point` gives a point guaranteed inside a polygon (labels, centroids);
* :func:`simplify_level`, :func:`display_tolerance` and :func:`level_geojson` produce the light
  per-level GeoJSON the map serves, simplified as a coverage so shared borders stay shared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, shape

#: Equal-area CRS used for every area figure (WGS 84 / NSIDC EASE-Grid 2.0 Global).
EQUAL_AREA_CRS = "EPSG:6933"

# Outline parts and holes smaller than this are artefacts of the ECharts 1/1024° quantisation
# (one quantisation cell is ~0.01 km² at this latitude) and are dropped / filled.
_MIN_PART_KM2 = 0.05

# Display simplification tolerances (degrees), keyed by (deepest level, level).
# Coverage simplification is Visvalingam-Whyatt: the tolerance is roughly the square root of the
# area of the triangles removed. The source outline is quantised to 1/1024° (~95 m x 108 m here);
# a one-step stair-step triangle has area (1/1024)²/2, i.e. a "tolerance" of ~0.00069°, so 0.0008°
# irons out the quantisation staircase and keeps every real bend. The synthetic Voronoi borders
# are straight between nodes and are not affected. Prefecture communities (down to ~0.01 km²)
# get a finer tolerance so the smallest ones keep their shape.
_DISPLAY_TOLERANCE: dict[tuple[int, int], float] = {
    (2, 0): 0.0008,
    (2, 1): 0.0008,
    (2, 2): 0.0008,
    (3, 0): 0.0008,
    (3, 1): 0.0008,
    (3, 2): 0.0008,
    (3, 3): 0.0004,
}


# ---------------------------------------------------------------------------------------------
# Areas
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _to_equal_area() -> Transformer:
    return Transformer.from_crs("EPSG:4326", EQUAL_AREA_CRS, always_xy=True)


def _project_xy(xy: np.ndarray) -> np.ndarray:
    x, y = _to_equal_area().transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def areas_km2(geoms: Sequence | np.ndarray) -> np.ndarray:
    """Areas in km² of an array of lon/lat (EPSG:4326) geometries, measured in EPSG:6933.

    Vectorised: one coordinate transformation for the whole array. Missing geometries give NaN.
    """
    arr = np.asarray(geoms, dtype=object)
    if arr.size == 0:
        return np.zeros(0, dtype=float)
    projected = shapely.transform(arr, _project_xy)
    return np.asarray(shapely.area(projected), dtype=float) / 1e6


def area_km2(geom: shapely.Geometry) -> float:
    """Area in km² of one lon/lat (EPSG:4326) geometry, measured in the equal-area EPSG:6933."""
    return float(areas_km2([geom])[0])


# ---------------------------------------------------------------------------------------------
# Outline loading and repair
# ---------------------------------------------------------------------------------------------


def _format_reason(reason: str) -> str:
    match = re.match(r"^(.*?)\[\s*([-\d.eE+]+)\s+([-\d.eE+]+)\s*\]$", reason)
    if not match:
        return reason
    kind, x, y = match.groups()
    return f"{kind.strip()} at ({float(x):.6f}, {float(y):.6f})"


def _polygon_parts(geom: shapely.Geometry) -> tuple[list[Polygon], int]:
    """Flatten any geometry into its Polygons; also count the non-polygonal parts dropped."""
    polys: list[Polygon] = []
    dropped = 0
    stack = [geom]
    while stack:
        g = stack.pop()
        if g is None or g.is_empty:
            continue
        if isinstance(g, Polygon):
            polys.append(g)
        elif g.geom_type in ("MultiPolygon", "GeometryCollection"):
            stack.extend(reversed(shapely.get_parts(g).tolist()))
        else:
            dropped += int(shapely.get_num_geometries(g))
    return polys, dropped


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _read_features(path: str | Path) -> list[dict]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("type") == "FeatureCollection":
        return list(data["features"])
    if data.get("type") == "Feature":
        return [data]
    return [{"type": "Feature", "properties": {}, "geometry": data}]


def load_outline(
    path: str | Path, *, min_part_km2: float = _MIN_PART_KM2
) -> tuple[Polygon | MultiPolygon, str]:
    """Read a GeoJSON outline and repair it into a valid (Multi)Polygon.

    Steps: drop consecutive duplicate vertices, ``shapely.make_valid`` (linework method), keep
    only the polygonal parts (collapsed line parts are dropped), drop parts and fill holes smaller
    than ``min_part_km2`` (quantisation slivers), dissolve what remains and orient rings
    counter-clockwise (RFC 7946). All features of the file are merged.

    Returns the geometry and a one-line human-readable report of what was repaired, e.g.
    ``"repaired 510182 彭州市 outline: Ring Self-intersection at (104.106445, 31.032227); ..."``.
    """
    features = _read_features(path)
    if not features:
        raise ValueError(f"{path}: no features")
    props = features[0].get("properties") or {}
    label = " ".join(str(v) for v in (props.get("code"), props.get("name")) if v) or Path(path).stem

    raw_parts: list[shapely.Geometry] = [shape(f["geometry"]) for f in features if f.get("geometry")]
    return _repair_parts(raw_parts, f"{label} outline", str(path), min_part_km2)


def repair(geom: shapely.Geometry, label: str, *, min_part_km2: float = _MIN_PART_KM2) -> tuple[Polygon | MultiPolygon, str]:
    """Repair one invalid (Multi)Polygon as :func:`load_outline` does; returns it and a one-line report
    ``"repaired <label>: <what was invalid>; <steps>"`` (the write layer lists these)."""
    # A small area (a village, a grid cell) keeps parts that would be slivers of a whole county.
    whole = area_km2(shapely.make_valid(geom))
    return _repair_parts([geom], label, label, min(min_part_km2, 0.01 * whole))


def _repair_parts(raw_parts: list, label: str, where: str, min_part_km2: float) -> tuple[Polygon | MultiPolygon, str]:
    """The repair steps shared by :func:`load_outline` and :func:`repair`; ``where`` names the source in errors."""
    raw = raw_parts[0] if len(raw_parts) == 1 else shapely.GeometryCollection(raw_parts)
    n_in = sum(int(shapely.get_num_geometries(g)) for g in raw_parts)
    reasons = [shapely.is_valid_reason(g) for g in raw_parts]
    problems = [_format_reason(r) for r in reasons if r != "Valid Geometry"]

    n_vertices = int(shapely.get_num_coordinates(raw))
    deduped = shapely.remove_repeated_points(raw)
    n_repeated = n_vertices - int(shapely.get_num_coordinates(deduped))

    fixed = shapely.make_valid(deduped)
    polys, n_lines = _polygon_parts(fixed)
    if not polys:
        raise ValueError(f"{where}: no polygonal part survives make_valid")
    n_made = len(polys)

    # Fill quantisation-sized holes, drop quantisation-sized parts.
    holes_filled: list[float] = []
    cleaned: list[Polygon] = []
    for poly in polys:
        keep_holes = []
        for ring in poly.interiors:
            hole_area = area_km2(Polygon(ring))
            if hole_area < min_part_km2:
                holes_filled.append(hole_area)
            else:
                keep_holes.append(ring)
        cleaned.append(Polygon(poly.exterior, keep_holes))
    part_areas = areas_km2(cleaned)
    kept = [p for p, a in zip(cleaned, part_areas, strict=True) if a >= min_part_km2]
    dropped_areas = [float(a) for a in part_areas if a < min_part_km2]
    if not kept:
        raise ValueError(f"{where}: every polygonal part is smaller than {min_part_km2} km²")

    merged = shapely.union_all(kept) if len(kept) > 1 else kept[0]
    merged = shapely.orient_polygons(shapely.remove_repeated_points(merged))
    if isinstance(merged, MultiPolygon) and len(merged.geoms) == 1:
        merged = merged.geoms[0]
    if not merged.is_valid:  # pragma: no cover - defensive
        raise ValueError(f"{where}: repair failed: {shapely.is_valid_reason(merged)}")

    n_out = int(shapely.get_num_geometries(merged))
    steps: list[str] = []
    if n_repeated:
        steps.append(f"removed {_plural(n_repeated, 'repeated vertex', 'repeated vertices')}")
    made = f"make_valid gave {_plural(n_made, 'polygon')}"
    if n_lines:
        made += f" + {_plural(n_lines, 'collapsed line')} (lines dropped)"
    steps.append(made)
    if dropped_areas:
        steps.append(f"dropped {_plural(len(dropped_areas), 'sliver part')} ({sum(dropped_areas):.3f} km²)")
    if holes_filled:
        steps.append(f"filled {_plural(len(holes_filled), 'sliver hole')} ({sum(holes_filled):.3f} km²)")
    steps.append(f"{_plural(n_in, 'part')} -> {_plural(n_out, 'polygon')}")
    steps.append(f"area {area_km2(merged):.1f} km²")
    head = (f"repaired {label}: " + "; ".join(problems)) if problems else f"{label} valid as shipped"
    return merged, head + "; " + "; ".join(steps)




def inner_point(geom: shapely.Geometry) -> tuple[float, float]:
    """A point inside ``geom``: its centroid when that lies inside, else a representative point."""
    c = geom.centroid
    if geom.contains(c):
        return c.x, c.y
    p = geom.representative_point()
    return p.x, p.y


# ---------------------------------------------------------------------------------------------
# Display simplification
# ---------------------------------------------------------------------------------------------


def simplify_level(geoms: Sequence, tolerance_deg: float) -> list:
    """Simplify a whole level together with ``shapely.coverage_simplify``.

    Shared borders are simplified once, so neighbours still share them exactly (no gaps or
    slivers). The input must be a valid coverage (every level of build_demo_regions is).
    ``tolerance_deg`` is roughly the square root of the area (in degrees²) of the triangles
    removed; <= 0 returns the geometries unchanged.
    """
    arr = np.asarray(list(geoms), dtype=object)
    if tolerance_deg <= 0 or arr.size == 0:
        return arr.tolist()
    return shapely.coverage_simplify(arr, tolerance_deg, simplify_boundary=True).tolist()


def display_tolerance(level: int, depth: int = 2) -> float:
    """Default display tolerance (degrees) for ``level`` of a tree whose deepest level is ``depth``.

    0.0008° (~80 m) for every level of the county/mini scales (depth 2) and for levels 0-2 of the
    prefecture scale (depth 3); 0.0004° for the prefecture's ~4,000 communities. See the comment
    on ``_DISPLAY_TOLERANCE`` and ``geodata/README.md`` for the reasoning and measured sizes.
    """
    if (depth, level) in _DISPLAY_TOLERANCE:
        return _DISPLAY_TOLERANCE[(depth, level)]
    return 0.0004 if level >= 3 else 0.0008


def _rounded_rings(geom: shapely.Geometry, precision: int) -> list:
    polys = [geom] if isinstance(geom, Polygon) else list(geom.geoms)
    out = []
    for poly in polys:
        rings = [poly.exterior, *poly.interiors]
        out.append([np.round(np.asarray(r.coords)[:, :2], precision).tolist() for r in rings])
    return out


def level_geojson(
    regions: pd.DataFrame,
    level: int,
    tolerance_deg: float | None = None,
    precision: int = 6,
    within: str | None = None,
) -> str:
    """Compact GeoJSON FeatureCollection of one level, simplified as a coverage.

    Feature ``id`` and ``properties.code`` are the region code (for plotly's ``featureidkey``),
    plus ``name``. ``tolerance_deg`` defaults to :func:`display_tolerance`; coordinates are
    rounded to ``precision`` decimals (6 ≈ 0.1 m). ``within`` keeps only the regions whose code
    starts with that code (e.g. one district's communities); the whole level is simplified
    first, so the subset's borders still match its neighbours'.
    """
    depth = int(regions["level"].max())
    rows = regions[regions["level"] == level]
    tol = display_tolerance(level, depth) if tolerance_deg is None else tolerance_deg
    simplified = simplify_level(rows["geometry"].tolist(), tol)
    if within is not None:
        keep = rows["code"].str.startswith(within).to_numpy()
        rows = rows[keep]
        simplified = [g for g, k in zip(simplified, keep, strict=True) if k]
    features = []
    for code, name, geom in zip(rows["code"], rows["name"], simplified, strict=True):
        rings = _rounded_rings(geom, precision)
        geometry = (
            {"type": "Polygon", "coordinates": rings[0]}
            if len(rings) == 1
            else {"type": "MultiPolygon", "coordinates": rings}
        )
        features.append({
            "type": "Feature", "id": code, "properties": {"code": code, "name": name},
            "geometry": geometry,
        })
    return json.dumps(
        {"type": "FeatureCollection", "features": features}, ensure_ascii=False, separators=(",", ":")
    )

