"""Geography of the demo city: a synthetic hierarchy inside the real outline of 彭州市.

* :func:`partition` splits a polygon into seeded Voronoi cells that tile it exactly;
* :func:`build_demo_regions` builds the whole region tree (codes, illustrative names,
  geometry, area, inner point, population) for the "county", "prefecture" and "mini" scales.

Townships and communities are SYNTHETIC: seeded Voronoi partitions with made-up names. They are
not the real divisions of 彭州 and must always be labelled "演示数据 / demo data" in the UI.
See ``geodata/README.md`` for provenance and method. Outline repair, areas and display
simplification are production code in :mod:`datasources.boundaries`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPoint, MultiPolygon, Point, Polygon

from datasources.boundaries import area_km2, areas_km2
from datasources.boundaries import inner_point as _inner_point

URBAN_CORE: tuple[float, float] = (103.96, 30.99)

#: Real township-level names of 彭州 (and the city name itself). Generated demo names never
#: contain any of these strings, so demo data cannot be mistaken for the real divisions.
REAL_DIVISION_NAMES: tuple[str, ...] = (
    "彭州", "天彭", "致和", "隆丰", "丽春", "九尺", "濛阳", "蒙阳", "桂花", "敖平", "通济",
    "丹景山", "龙门山", "龙门", "白鹿", "磁峰", "葛仙山", "军乐", "红岩", "升平", "小鱼洞",
    "新兴", "三界", "湔江",
)

#: The scales build_demo_regions understands.
SCALES: tuple[str, ...] = ("county", "prefecture", "mini")

# Tolerance (degrees) within which a vertex of one cell is treated as lying on a neighbour's
# edge when shared borders are made vertex-for-vertex identical across parents (~0.1 mm).
_MATCH_TOL = 1e-9


_KM_PER_DEG_LAT = 110.57
_KM_PER_DEG_LON_EQUATOR = 111.32



# ---------------------------------------------------------------------------------------------
# Partition
# ---------------------------------------------------------------------------------------------


def _km_scale(lat: float) -> tuple[float, float]:
    return _KM_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat)), _KM_PER_DEG_LAT


def _sample_points(
    parent: shapely.Geometry,
    n: int,
    rng: np.random.Generator,
    density_center: tuple[float, float] | None,
) -> np.ndarray:
    """n random points inside parent; denser near density_center when given."""
    minx, miny, maxx, maxy = parent.bounds
    kx, ky = _km_scale((miny + maxy) / 2)
    sigma_km = 0.22 * math.sqrt(max(area_km2(parent), 1e-9))
    floor = 0.08
    shapely.prepare(parent)
    chunks: list[np.ndarray] = []
    got = 0
    batch = max(256, 16 * n)
    for _ in range(10_000):
        xy = rng.random((batch, 2)) * [maxx - minx, maxy - miny] + [minx, miny]
        accept = rng.random(batch)
        keep = shapely.contains_xy(parent, xy[:, 0], xy[:, 1])
        if density_center is not None:
            dx = (xy[:, 0] - density_center[0]) * kx
            dy = (xy[:, 1] - density_center[1]) * ky
            weight = (floor + np.exp(-0.5 * (dx * dx + dy * dy) / sigma_km**2)) / (floor + 1.0)
            keep &= accept < weight
        chunks.append(xy[keep])
        got += int(keep.sum())
        if got >= n:
            break
    else:  # pragma: no cover - defensive
        raise ValueError("could not sample points inside the parent polygon")
    return np.concatenate(chunks)[:n]


def _voronoi_extent(parent: shapely.Geometry) -> Polygon:
    minx, miny, maxx, maxy = parent.bounds
    pad = 0.1 * max(maxx - minx, maxy - miny) + 1e-6
    return shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)


def _lloyd(parent: shapely.Geometry, pts: np.ndarray, iterations: int, step: float) -> np.ndarray:
    """Move each point part of the way towards the centroid of its (clipped) Voronoi cell."""
    extent = _voronoi_extent(parent)
    for _ in range(iterations):
        cells = shapely.get_parts(
            shapely.voronoi_polygons(MultiPoint(pts), extend_to=extent, ordered=True)
        )
        clipped = shapely.intersection(cells, parent)
        target = shapely.get_coordinates(shapely.centroid(clipped))
        outside = ~shapely.contains_xy(parent, target[:, 0], target[:, 1])
        if outside.any():
            target[outside] = shapely.get_coordinates(shapely.point_on_surface(clipped[outside]))
        pts = pts + step * (target - pts)
    return pts


def _shared_length(a: shapely.Geometry, b: shapely.Geometry) -> float:
    return float(shapely.length(shapely.intersection(a.boundary, b.boundary)))


def partition(
    parent: Polygon | MultiPolygon,
    n: int,
    seed: int,
    density_center: tuple[float, float] | None = None,
    *,
    lloyd_iterations: int = 2,
    lloyd_step: float = 0.6,
) -> list[Polygon | MultiPolygon]:
    """Split ``parent`` into ``n`` cells that tile it exactly.

    Seeded random points inside the parent (denser near ``density_center`` when given) are
    Lloyd-relaxed ``lloyd_iterations`` times (each move covers ``lloyd_step`` of the way to the
    cell centroid, so the density gradient survives), then the Voronoi edges and the parent's
    boundary are noded together and polygonized. Every face inside the parent belongs to the
    Voronoi cell of its nearest seed; where clipping splits a cell, its largest face is kept and
    each stray face joins the neighbour with which it shares the longest border.

    The result is a valid polygonal coverage of ``parent``: no gaps, no overlaps, shared borders
    identical vertex for vertex (all faces come from one noded linework), union equal to the
    parent. Cells are single Polygons unless the parent itself has several parts. Cells are
    returned in seed order (random); sort them as needed. Deterministic: same inputs give
    identical WKB.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    if parent.is_empty or not parent.is_valid:
        raise ValueError("parent must be a valid non-empty polygon")
    if n == 1:
        return [parent]
    rng = np.random.default_rng(seed)
    pts = _sample_points(parent, n, rng, density_center)
    pts = _lloyd(parent, pts, lloyd_iterations, lloyd_step)

    edges = shapely.voronoi_polygons(MultiPoint(pts), extend_to=_voronoi_extent(parent), only_edges=True)
    linework = shapely.union_all([edges, parent.boundary])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(linework)))
    inner = shapely.get_coordinates(shapely.point_on_surface(faces))
    inside = shapely.contains_xy(parent, inner[:, 0], inner[:, 1])
    faces, inner = faces[inside], inner[inside]

    # Owner of each face: the seed whose Voronoi cell contains it, i.e. the nearest seed.
    d2 = ((inner[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2)
    owner = d2.argmin(axis=1)
    face_area = shapely.area(faces)
    resolved = np.zeros(len(faces), dtype=bool)
    for k in range(n):
        mine = np.flatnonzero(owner == k)
        if mine.size == 0:
            raise RuntimeError(f"partition: seed {k} owns no face")  # pragma: no cover
        resolved[mine[np.argmax(face_area[mine])]] = True

    if not resolved.all():
        tree = shapely.STRtree(faces)
        left, right = tree.query(faces, predicate="intersects")
        neighbours: dict[int, list[int]] = {}
        for i, j in zip(left.tolist(), right.tolist(), strict=True):
            if i != j:
                neighbours.setdefault(i, []).append(j)
        while not resolved.all():
            progress = False
            for i in np.flatnonzero(~resolved)[np.argsort(-face_area[~resolved], kind="stable")]:
                score: dict[int, float] = {}
                for j in neighbours.get(int(i), []):
                    if resolved[j]:
                        length = _shared_length(faces[i], faces[j])
                        if length > 0:
                            score[int(owner[j])] = score.get(int(owner[j]), 0.0) + length
                if score:
                    owner[i] = max(sorted(score), key=lambda k: score[k])
                    resolved[i] = True
                    progress = True
            if not progress:  # isolated island without a seed: give it to the nearest cell
                i = int(np.flatnonzero(~resolved)[0])
                done = np.flatnonzero(resolved)
                owner[i] = owner[done[np.argmin(shapely.distance(faces[i], faces[done]))]]
                resolved[i] = True

    cells: list[Polygon | MultiPolygon] = []
    for k in range(n):
        mine = faces[owner == k]
        cell = mine[0] if len(mine) == 1 else shapely.coverage_union_all(mine)
        if isinstance(cell, MultiPolygon) and len(cell.geoms) == 1:
            cell = cell.geoms[0]
        cells.append(shapely.orient_polygons(cell))
    return cells


def _match_shared_vertices(geoms: np.ndarray, tol: float = _MATCH_TOL) -> np.ndarray:
    """Insert into every polygon the neighbours' vertices lying on its edges.

    Cells partitioned inside different parents meet along the parents' shared border, but each
    side only carries the nodes created by its own partition (T-junctions). Snapping each cell
    to its neighbours' vertices makes the shared borders identical vertex for vertex, so the
    whole level is a valid coverage.
    """
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=tol)
    coords = [shapely.get_coordinates(g) for g in geoms]
    refs = np.empty(len(geoms), dtype=object)
    nbrs: dict[int, list[int]] = {}
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i != j:
            nbrs.setdefault(i, []).append(j)
    for i in range(len(geoms)):
        js = nbrs.get(i)
        refs[i] = MultiPoint(np.unique(np.concatenate([coords[j] for j in js]), axis=0)) if js else None
    out = geoms.copy()
    has = np.array([r is not None for r in refs])
    if has.any():
        out[has] = shapely.snap(geoms[has], refs[has], tol)
    return out


# ---------------------------------------------------------------------------------------------
# Illustrative names
# ---------------------------------------------------------------------------------------------

_FIRST = (
    ("青", "Qing"), ("云", "Yun"), ("桃", "Tao"), ("石", "Shi"), ("金", "Jin"), ("玉", "Yu"),
    ("松", "Song"), ("柏", "Bai"), ("竹", "Zhu"), ("梅", "Mei"), ("兰", "Lan"), ("荷", "He"),
    ("枫", "Feng"), ("杨", "Yang"), ("柳", "Liu"), ("水", "Shui"), ("山", "Shan"), ("月", "Yue"),
    ("星", "Xing"), ("明", "Ming"), ("安", "An"), ("宁", "Ning"), ("康", "Kang"), ("福", "Fu"),
    ("乐", "Le"), ("东", "Dong"), ("西", "Xi"), ("南", "Nan"), ("北", "Bei"), ("高", "Gao"),
    ("长", "Chang"), ("永", "Yong"), ("太", "Tai"), ("凤", "Feng"), ("鹤", "He"), ("银", "Yin"),
    ("翠", "Cui"), ("碧", "Bi"), ("瑞", "Rui"), ("嘉", "Jia"), ("卧", "Wo"), ("杏", "Xing"),
    ("茶", "Cha"), ("麦", "Mai"), ("稻", "Dao"), ("双", "Shuang"), ("三", "San"), ("五", "Wu"),
)
_SECOND = (
    ("禾", "he"), ("溪", "xi"), ("源", "yuan"), ("门", "men"), ("林", "lin"), ("桥", "qiao"),
    ("湾", "wan"), ("坪", "ping"), ("坝", "ba"), ("岗", "gang"), ("岭", "ling"), ("田", "tian"),
    ("园", "yuan"), ("塘", "tang"), ("堰", "yan"), ("庄", "zhuang"), ("店", "dian"), ("口", "kou"),
    ("滩", "tan"), ("峰", "feng"), ("川", "chuan"), ("洲", "zhou"), ("泽", "ze"), ("阳", "yang"),
    ("光", "guang"), ("华", "hua"), ("盛", "sheng"), ("合", "he"), ("河", "he"), ("泉", "quan"),
    ("寺", "si"), ("营", "ying"), ("井", "jing"), ("岩", "yan"), ("坡", "po"), ("沟", "gou"),
)
_KIND_EN = {
    "市": "City", "区": "District", "县": "County", "街道": "Subdistrict", "镇": "Town",
    "社区": "Community", "村": "Village",
}


def _is_forbidden(name: str) -> bool:
    return any(real in name for real in REAL_DIVISION_NAMES)


def _stems(
    rng: np.random.Generator, count: int, avoid: tuple[str, str] | None = None
) -> list[tuple[str, str]]:
    """``count`` distinct two-syllable (hanzi, pinyin) stems, none touching the real names."""
    out: list[tuple[str, str]] = []
    seen_zh = {avoid[0]} if avoid else set()
    seen_en = {avoid[1]} if avoid else set()
    order = rng.permutation(len(_FIRST) * len(_SECOND))
    for idx in order.tolist():
        (a, pa), (b, pb) = _FIRST[idx // len(_SECOND)], _SECOND[idx % len(_SECOND)]
        zh, en = a + b, pa + pb
        if a == b or zh in seen_zh or en in seen_en or _is_forbidden(zh):
            continue
        seen_zh.add(zh)
        seen_en.add(en)
        out.append((zh, en))
        if len(out) == count:
            return out
    raise ValueError(f"cannot make {count} distinct names")  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# Scales, population, counts
# ---------------------------------------------------------------------------------------------

# Per scale: root identity, total population, children per level (level 1 is an exact count,
# deeper levels a total apportioned over the parents within [lo, hi] each).
_SCALE_SPECS: dict[str, dict] = {
    "county": {
        "code": "510182", "name": "彭州市", "name_en": "Pengzhou", "population": 780_000,
        "levels": [(20, 20, 20), (300, 8, 25)],
    },
    "prefecture": {
        "code": "519900", "name": "演示市", "name_en": "Demo City", "population": 8_000_000,
        "levels": [(20, 20, 20), (260, 8, 20), (4000, 8, 25)],
    },
    "mini": {
        "code": "510182", "name": "彭州市", "name_en": "Pengzhou", "population": 780_000,
        "levels": [(4, 4, 4), (20, 4, 6)],
    },
}

# (level, name_zh, name_en) per scale.
_LEVEL_NAMES: dict[str, list[tuple[int, str, str]]] = {
    "county": [(0, "市", "city"), (1, "镇(街道)", "township"), (2, "村(社区)", "community")],
    "prefecture": [
        (0, "市", "city"), (1, "区(县)", "district"), (2, "镇(街道)", "township"),
        (3, "村(社区)", "community"),
    ],
}
_LEVEL_NAMES["mini"] = _LEVEL_NAMES["county"]


def level_names(scale: str) -> list[tuple[int, str, str]]:
    """(level, name_zh, name_en) of each level of a scale, e.g. (1, "镇(街道)", "township")."""
    if scale not in _LEVEL_NAMES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {SCALES}")
    return list(_LEVEL_NAMES[scale])


def population_density(
    lon: np.ndarray,
    lat: np.ndarray,
    bounds: tuple[float, float, float, float],
    seats: Sequence[tuple[float, float, float, float]] = (),
    core: tuple[float, float] = URBAN_CORE,
) -> np.ndarray:
    """Synthetic residential density (people/km², before scaling to the total).

    A dense urban core around ``core``, a populated plain in the southern third of ``bounds``,
    sparse mountains to the north, plus a small bump at every town/county seat
    (``seats``: (lon, lat, peak, sigma_km)). Only relative values matter.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    kx, ky = _km_scale(core[1])
    r2 = ((lon - core[0]) * kx) ** 2 + ((lat - core[1]) * ky) ** 2
    density = 30.0 + 9000.0 * np.exp(-0.5 * r2 / 2.5**2)
    miny, maxy = bounds[1], bounds[3]
    plain_edge = miny + 0.35 * (maxy - miny)
    density = density + 650.0 / (1.0 + np.exp((lat - plain_edge) / 0.02))
    for s_lon, s_lat, peak, sigma in seats:
        s2 = ((lon - s_lon) * kx) ** 2 + ((lat - s_lat) * ky) ** 2
        density = density + peak * np.exp(-0.5 * s2 / sigma**2)
    return density




def _integrate(
    geoms: Sequence, bounds: tuple[float, float, float, float], density_fn
) -> np.ndarray:
    """Approximate ∫ density over each geometry with a regular ~150 m sample grid."""
    minx, miny, maxx, maxy = bounds
    step = 0.0015
    xs = np.arange(minx + step / 2, maxx, step)
    ys = np.arange(miny + step / 2, maxy, step)
    gx, gy = np.meshgrid(xs, ys)
    gx, gy = gx.ravel(), gy.ravel()
    kx, ky = _km_scale((miny + maxy) / 2)
    cell_km2 = step * kx * step * ky
    tree = shapely.STRtree(np.asarray(geoms, dtype=object))
    pt_idx, geom_idx = tree.query(shapely.points(gx, gy), predicate="within")
    dens = density_fn(gx[pt_idx], gy[pt_idx])
    out = np.bincount(geom_idx, weights=dens * cell_km2, minlength=len(geoms))
    # Tiny geometries that catch no grid point: fall back to density at an inner point.
    for i in np.flatnonzero(out == 0):
        x, y = _inner_point(geoms[i])
        out[i] = float(density_fn(np.array([x]), np.array([y]))[0]) * area_km2(geoms[i])
    return out


def _apportion(weights: np.ndarray, total: int, lo: int, hi: int) -> np.ndarray:
    """Integers in [lo, hi] proportional to weights, summing to total (clamped if infeasible)."""
    k = len(weights)
    total = int(min(max(total, lo * k), hi * k))
    ideal = weights / weights.sum() * total
    counts = np.clip(np.round(ideal), lo, hi).astype(int)
    while counts.sum() != total:
        gap = ideal - counts
        if counts.sum() < total:
            gap[counts >= hi] = -np.inf
            counts[int(np.argmax(gap))] += 1
        else:
            gap[counts <= lo] = np.inf
            counts[int(np.argmin(gap))] -= 1
    return counts


def _round_to_total(values: np.ndarray, total: int) -> np.ndarray:
    """Largest-remainder rounding of non-negative values scaled to an exact integer total."""
    scaled = values / values.sum() * total
    out = np.floor(scaled).astype(np.int64)
    remainder = int(total - out.sum())
    if remainder > 0:
        out[np.argsort(-(scaled - out), kind="stable")[:remainder]] += 1
    return out


def _child_kinds(scale: str, level: int, parent_kind: str, parent_rank: int, k: int) -> list[str]:
    """Kinds of k children sorted by distance from the parent's centre (nearest first)."""
    depth = len(_SCALE_SPECS[scale]["levels"])
    if level == 1 and depth == 3:  # prefecture districts
        n_urban = min(7, k)
        return ["区"] * n_urban + ["县"] * (k - n_urban)
    if level < depth:  # townships
        if level == 1:  # county-scale townships: the urban core is streets
            n_street = max(1, round(k / 4))
        elif parent_kind == "区":
            n_street = max(3, math.ceil(k * 0.6))
        else:
            n_street = min(2, k - 1)
        n_street = min(n_street, k)
        return ["街道"] * n_street + ["镇"] * (k - n_street)
    # communities / villages
    if parent_kind == "街道":
        n_comm = k if parent_rank < 2 else max(1, math.ceil(k * 0.6))
    else:
        n_comm = min(k, 1 + k // 8)
    return ["社区"] * n_comm + ["村"] * (k - n_comm)


def _child_code(parent_code: str, level: int, depth: int, kind: str, ordinal: int) -> str:
    if depth == 3 and level == 1:
        return parent_code[:4] + f"{ordinal:02d}"
    if kind == "村":
        return parent_code + f"{199 + ordinal:03d}"
    return parent_code + f"{ordinal:03d}"


# Purposes of derived random streams, so that e.g. names never share a stream with geometry.
_GEOMETRY, _NAMES, _COUNTS, _POPULATION = range(4)


def _child_seed(seed: int, purpose: int, level: int, index: int = 0) -> int:
    """An independent 32-bit seed for one (purpose, level, parent) of a build."""
    return int(np.random.SeedSequence([seed, purpose, level, index]).generate_state(1)[0])


def build_demo_regions(
    outline: Polygon | MultiPolygon, scale: str = "county", seed: int = 1
) -> pd.DataFrame:
    """Build the demo region tree inside ``outline``.

    Returns a pandas DataFrame, one row per region, ordered by level then code, with columns
    ``code`` (str: 6 digits for level 0, 9 for townships, 12 for communities; 6 for prefecture
    districts), ``name`` (illustrative Chinese), ``name_en``, ``level`` (int), ``kind``
    (市/区/县/街道/镇/社区/村), ``parent_code`` (str or None), ``geometry`` (shapely, EPSG:4326),
    ``area_km2``, ``centroid_lon``/``centroid_lat`` (an inner point, guaranteed inside the
    region), ``population`` (int).

    Scales: "county" (510182 → 20 townships → ~300 communities, 780,000 people), "prefecture"
    (fictional 519900 演示市 → 20 districts → ~260 townships → ~4,000 communities, 8,000,000
    people, same outline), "mini" (510182 → 4 townships → ~5 communities each).

    Every level is a valid polygonal coverage (shared borders identical vertex for vertex);
    every parent geometry is the exact union of its children and every parent population the
    sum of its children's. Deterministic for a given ``seed``.
    """
    if scale not in _SCALE_SPECS:
        raise ValueError(f"unknown scale {scale!r}; expected one of {SCALES}")
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    spec = _SCALE_SPECS[scale]
    levels = spec["levels"]
    depth = len(levels)
    bounds = outline.bounds
    core = URBAN_CORE if outline.contains(Point(URBAN_CORE)) else _inner_point(outline)
    kx, ky = _km_scale(core[1])

    # Each node: dict(code, name, name_en, level, kind, parent, geometry, rank, center)
    root = {
        "code": spec["code"], "name": spec["name"], "name_en": spec["name_en"], "level": 0,
        "kind": "市", "parent_code": None, "geometry": outline, "rank": 0, "center": core,
    }
    tiers: list[list[dict]] = [[root]]
    seats: list[tuple[float, float, float, float]] = []

    for level, (total, lo, hi) in enumerate(levels, start=1):
        parents = tiers[-1]
        if len(parents) == 1:
            counts = np.array([total])
        else:
            pop_est = _integrate(
                [p["geometry"] for p in parents], bounds,
                lambda x, y: population_density(x, y, bounds, seats, core),
            )
            area_est = areas_km2([p["geometry"] for p in parents])
            noise = np.random.default_rng(_child_seed(seed, _COUNTS, level)).lognormal(0, 0.15, len(parents))
            weights = (0.65 * pop_est / pop_est.sum() + 0.35 * area_est / area_est.sum()) * noise
            counts = _apportion(weights, total, lo, hi)
        children: list[dict] = []
        for pi, (parent, k) in enumerate(zip(parents, counts.tolist(), strict=True)):
            cells = partition(parent["geometry"], k, _child_seed(seed, _GEOMETRY, level, pi), parent["center"])
            inner = [_inner_point(c) for c in cells]
            cx, cy = parent["center"]
            dist = [math.hypot((x - cx) * kx, (y - cy) * ky) for x, y in inner]
            order = sorted(range(k), key=lambda i: (dist[i], inner[i]))
            kinds = _child_kinds(scale, level, parent["kind"], parent["rank"], k)
            name_rng = np.random.default_rng(_child_seed(seed, _NAMES, level, pi))
            parent_stem = (parent["name"][:2], parent["name_en"].split(" ")[0])
            stems = _stems(name_rng, k, avoid=parent_stem)
            if parent["kind"] == "镇" and kinds[0] == "社区":
                stems[0] = parent_stem  # the town seat's community shares the town's name
            n_comm = n_vill = 0
            for rank, i in enumerate(order):
                kind = kinds[rank]
                if kind == "村":
                    n_vill += 1
                    ordinal = n_vill
                else:
                    n_comm += 1
                    ordinal = n_comm
                zh, en = stems[rank]
                urban = kind in ("区", "街道")
                center = core if urban else inner[i]
                if kind in ("县", "镇"):
                    seats.append((inner[i][0], inner[i][1], *((5000.0, 1.5) if kind == "县" else (1500.0, 0.7))))
                children.append({
                    "code": _child_code(parent["code"], level, depth, kind, ordinal),
                    "name": zh + kind, "name_en": f"{en} {_KIND_EN[kind]}", "level": level,
                    "kind": kind, "parent_code": parent["code"], "geometry": cells[i],
                    "rank": rank, "center": center,
                })
        tiers.append(children)

    # Deepest level: make shared borders identical across parents, then rebuild every parent
    # as the exact union of its children.
    leaves = tiers[-1]
    leaf_geoms = _match_shared_vertices(np.array([c["geometry"] for c in leaves], dtype=object))
    for node, geom in zip(leaves, leaf_geoms, strict=True):
        node["geometry"] = geom
    for level in range(depth - 1, -1, -1):
        groups: dict[str, list] = {}
        for child in tiers[level + 1]:
            groups.setdefault(child["parent_code"], []).append(child["geometry"])
        for node in tiers[level]:
            union = shapely.coverage_union_all(np.array(groups[node["code"]], dtype=object))
            if isinstance(union, MultiPolygon) and len(union.geoms) == 1:
                union = union.geoms[0]
            node["geometry"] = shapely.orient_polygons(union)

    # Population: density × area at the leaves (compressed, seeded noise), scaled to the total.
    leaf_geoms = np.array([c["geometry"] for c in leaves], dtype=object)
    leaf_area = areas_km2(leaf_geoms)
    leaf_inner = np.array([_inner_point(g) for g in leaf_geoms])
    dens = population_density(leaf_inner[:, 0], leaf_inner[:, 1], bounds, seats, core)
    noise = np.random.default_rng(_child_seed(seed, _POPULATION, depth)).lognormal(0, 0.25, len(leaves))
    # Real communities are drawn around similar head counts, so compress the spread (power 0.7).
    leaf_pop = _round_to_total((dens * leaf_area) ** 0.7 * noise, spec["population"])
    pop: dict[str, int] = {}
    for node, p in zip(leaves, leaf_pop.tolist(), strict=True):
        pop[node["code"]] = p
    for level in range(depth - 1, -1, -1):
        for child in tiers[level + 1]:
            pop[child["parent_code"]] = pop.get(child["parent_code"], 0) + pop[child["code"]]

    rows = [node for tier in tiers for node in tier]
    geoms = np.array([r["geometry"] for r in rows], dtype=object)
    inner_pts = np.array([_inner_point(g) for g in geoms])
    df = pd.DataFrame({
        "code": [r["code"] for r in rows],
        "name": [r["name"] for r in rows],
        "name_en": [r["name_en"] for r in rows],
        "level": np.array([r["level"] for r in rows], dtype=np.int64),
        "kind": [r["kind"] for r in rows],
        "parent_code": pd.Series([r["parent_code"] for r in rows], dtype=object),
        "geometry": pd.Series(list(geoms), dtype=object),
        "area_km2": areas_km2(geoms),
        "centroid_lon": inner_pts[:, 0],
        "centroid_lat": inner_pts[:, 1],
        "population": np.array([pop[r["code"]] for r in rows], dtype=np.int64),
    })
    return df.sort_values(["level", "code"], kind="stable").reset_index(drop=True)


