"""The demo city's geography: outline repair, exact partitions, the region tree, display simplification."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Point, box, shape

from datasources import boundaries as bnd
from datasources import demo_geography as geo

OUTLINE = Path(__file__).resolve().parents[2] / "geodata" / "pengzhou_outline.geojson"
REL = 1e-9  # relative area tolerance for "exact" tiling
EDGE = 1e-9  # degrees (~0.1 mm): how far a vertex may sit off its parent's border (float noding)


@pytest.fixture(scope="module")
def outline_and_report():
    return bnd.load_outline(OUTLINE)


@pytest.fixture(scope="module")
def outline(outline_and_report):
    return outline_and_report[0]


@pytest.fixture(scope="module")
def county(outline):
    return geo.build_demo_regions(outline, "county", seed=1)


@pytest.fixture(scope="module")
def prefecture(outline):
    return geo.build_demo_regions(outline, "prefecture", seed=1)


@pytest.fixture(scope="module")
def mini(outline):
    return geo.build_demo_regions(outline, "mini", seed=1)


def _arr(geoms) -> np.ndarray:
    return np.asarray(list(geoms), dtype=object)


def assert_exact_tiling(parent, cells) -> None:
    """cells cover parent with no gap and no overlap, share borders vertex for vertex, stay inside."""
    cells = _arr(cells)
    assert shapely.is_valid(cells).all()
    assert shapely.coverage_is_valid(cells)
    union = shapely.coverage_union_all(cells)
    assert abs(union.area - parent.area) <= REL * parent.area
    assert shapely.symmetric_difference(union, parent).area <= REL * parent.area
    # No overlaps: the parts add up to the whole, and neighbours meet only along borders.
    assert abs(shapely.area(cells).sum() - parent.area) <= REL * parent.area
    left, right = shapely.STRtree(cells).query(cells, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(cells[left[pairs]], cells[right[pairs]]))
    assert overlap.max(initial=0.0) <= REL * parent.area
    assert shapely.covered_by(cells, parent.buffer(EDGE)).all()


# --- the outline ---------------------------------------------------------------------------------


def test_shipped_outline_is_not_a_valid_polygon():
    raw = shape(json.loads(OUTLINE.read_text(encoding="utf-8"))["features"][0]["geometry"])
    assert not raw.is_valid
    assert "Self-intersection" in shapely.is_valid_reason(raw)


def test_outline_repair_gives_one_valid_polygon_of_about_1421_km2(outline_and_report):
    outline, report = outline_and_report
    assert outline.geom_type == "Polygon"
    assert outline.is_valid
    assert bnd.area_km2(outline) == pytest.approx(1421, rel=0.02)


def test_outline_repair_reports_what_it_fixed(outline_and_report):
    _, report = outline_and_report
    assert report.startswith("repaired 510182")
    assert "Self-intersection at (" in report
    assert "-> 1 polygon" in report
    assert re.search(r"area 14\d\d\.\d km²", report)
    assert "\n" not in report


def test_a_valid_outline_is_reported_as_valid(tmp_path):
    path = tmp_path / "square.geojson"
    square = {"type": "Polygon", "coordinates": [[[104, 31], [104.1, 31], [104.1, 31.1], [104, 31.1], [104, 31]]]}
    path.write_text(json.dumps(square), encoding="utf-8")
    geom, report = bnd.load_outline(path)
    assert geom.equals(shape(square))
    assert "valid as shipped" in report


def test_area_is_measured_on_an_equal_area_projection(outline):
    geodesic = abs(Geod(ellps="WGS84").geometry_area_perimeter(outline)[0]) / 1e6
    assert bnd.area_km2(outline) == pytest.approx(geodesic, rel=1e-4)
    cells = [box(104, 31, 104.01, 31.01), box(103, 30, 103.1, 30.05)]
    assert bnd.areas_km2(cells) == pytest.approx([bnd.area_km2(c) for c in cells])
    assert bnd.areas_km2([]).shape == (0,)


# --- partition ---------------------------------------------------------------------------------


def test_partition_tiles_the_outline_exactly(outline):
    cells = geo.partition(outline, 20, seed=1, density_center=geo.URBAN_CORE)
    assert len(cells) == 20
    assert all(c.geom_type == "Polygon" for c in cells)
    assert_exact_tiling(outline, cells)


def test_partition_merges_the_stray_pieces_clipping_leaves_in_a_concave_parent():
    # Convex Voronoi cells clipped to a comb fall apart into several teeth pieces.
    comb = shapely.union_all([box(104 + i * 0.02, 30.0, 104.008 + i * 0.02, 30.2) for i in range(6)] + [box(104, 30.0, 104.108, 30.01)])
    for n in (3, 5, 8):
        cells = geo.partition(comb, n, seed=1)
        assert len(cells) == n
        assert all(c.geom_type == "Polygon" for c in cells)
        assert_exact_tiling(comb, cells)


def test_partition_is_denser_near_the_density_center(outline):
    cells = geo.partition(outline, 40, seed=3, density_center=geo.URBAN_CORE)
    core = Point(geo.URBAN_CORE)
    near = [bnd.area_km2(c) for c in cells if c.distance(core) < 0.05]
    far = [bnd.area_km2(c) for c in cells if c.distance(core) > 0.2]
    assert near and far
    assert np.median(near) < np.median(far) / 3


def test_partition_is_deterministic_for_a_seed_and_varies_with_it(outline):
    first = [c.wkb for c in geo.partition(outline, 12, seed=5)]
    assert first == [c.wkb for c in geo.partition(outline, 12, seed=5)]
    assert first != [c.wkb for c in geo.partition(outline, 12, seed=6)]


def test_partition_into_one_cell_returns_the_parent(outline):
    assert geo.partition(outline, 1, seed=1) == [outline]
    with pytest.raises(ValueError):
        geo.partition(outline, 0, seed=1)


# --- the county region tree ----------------------------------------------------------------------


def test_county_has_20_townships_and_about_300_communities(county):
    counts = county.groupby("level").size().to_dict()
    assert counts[0] == 1
    assert counts[1] == 20
    assert 280 <= counts[2] <= 320
    per_township = county[county.level == 2].groupby("parent_code").size()
    assert per_township.between(8, 25).all()
    assert per_township.nunique() > 3  # the counts vary


def test_county_root_is_pengzhou_with_the_repaired_outline(county, outline):
    root = county[county.level == 0].iloc[0]
    assert (root.code, root["name"], root.parent_code) == ("510182", "彭州市", None)
    assert root.geometry.symmetric_difference(outline).area <= REL * outline.area
    assert root.area_km2 == pytest.approx(bnd.area_km2(outline), rel=1e-9)


def test_every_level_is_a_valid_coverage_of_the_city(county, outline):
    for level in (1, 2):
        assert_exact_tiling(outline, county[county.level == level].geometry)


def test_communities_tile_their_township_without_gaps_or_overlaps(county):
    townships = county[county.level == 1].set_index("code")
    for code, group in county[county.level == 2].groupby("parent_code"):
        assert_exact_tiling(townships.loc[code, "geometry"], group.geometry)
        assert shapely.covered_by(_arr(group.geometry), townships.loc[code, "geometry"]).all()


def test_every_region_is_one_valid_polygon(county):
    assert (county.geometry.map(lambda g: g.geom_type) == "Polygon").all()
    assert shapely.is_valid(_arr(county.geometry)).all()


def test_codes_are_well_formed_and_nest(county):
    assert county.code.is_unique
    lengths = {0: 6, 1: 9, 2: 12}
    by_code = county.set_index("code")
    for row in county.itertuples():
        assert re.fullmatch(rf"\d{{{lengths[row.level]}}}", row.code)
        if row.level > 0:
            assert row.code.startswith(row.parent_code)
            assert by_code.loc[row.parent_code, "level"] == row.level - 1
    townships = county[county.level == 1].code
    assert sorted(townships) == [f"510182{k:03d}" for k in range(1, 21)]
    for row in county[county.level == 2].itertuples():
        suffix = int(row.code[-3:])
        assert (1 <= suffix <= 199) if row.kind == "社区" else (200 <= suffix <= 399)


def test_townships_nearest_the_urban_core_are_streets(county):
    townships = county[county.level == 1].sort_values("code")
    kinds = townships.kind.tolist()
    n_streets = kinds.count("街道")
    assert 2 <= n_streets <= 8
    assert kinds[:n_streets] == ["街道"] * n_streets
    assert set(kinds[n_streets:]) == {"镇"}
    core = Point(geo.URBAN_CORE)
    assert townships.geometry.iloc[0].distance(core) < 0.02


def test_names_are_illustrative_unique_within_a_parent_and_never_real(county, prefecture):
    for df in (county, prefecture):
        children = df[df.level > 0]
        assert not children.duplicated(["parent_code", "name"]).any()
        assert not children.duplicated(["parent_code", "name_en"]).any()
        for name in children["name"]:
            assert not any(real in name for real in geo.REAL_DIVISION_NAMES), name
        for row in children.itertuples():
            assert row.name.endswith(row.kind)
            assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", row.name_en)


def test_population_is_about_780000_and_rolls_up_exactly(county):
    assert county.population.dtype.kind == "i"
    assert county[county.level == 0].population.iloc[0] == pytest.approx(780_000, rel=0.01)
    for level in (1, 2):
        assert county[county.level == level].population.sum() == county[county.level == 0].population.iloc[0]
    sums = county[county.level == 2].groupby("parent_code").population.sum()
    townships = county[county.level == 1].set_index("code").population
    assert (sums.reindex(townships.index) == townships).all()
    assert (county.population > 0).all()


def test_the_urban_core_is_dense_and_the_northern_mountains_sparse(county):
    communities = county[county.level == 2]
    density = communities.population / communities.area_km2
    core = density[communities.centroid_lat < 31.05].median()
    mountains = density[communities.centroid_lat > 31.25].median()
    assert core > 10 * mountains
    assert communities.area_km2[communities.centroid_lat > 31.25].median() > communities.area_km2[communities.centroid_lat < 31.05].median()


def test_inner_points_and_areas_describe_each_region(county):
    points = shapely.points(county.centroid_lon.to_numpy(), county.centroid_lat.to_numpy())
    assert shapely.contains(_arr(county.geometry), points).all()
    assert county.area_km2.to_numpy() == pytest.approx(bnd.areas_km2(_arr(county.geometry)))


def test_same_seed_gives_identical_regions_and_another_seed_differs(outline, mini):
    again = geo.build_demo_regions(outline, "mini", seed=1)
    assert mini.drop(columns="geometry").equals(again.drop(columns="geometry"))
    assert [g.wkb for g in mini.geometry] == [g.wkb for g in again.geometry]
    other = geo.build_demo_regions(outline, "mini", seed=2)
    assert [g.wkb for g in mini.geometry[1:]] != [g.wkb for g in other.geometry[1:]]
    assert mini["name"].tolist() != other["name"].tolist()


def test_mini_scale_has_4_townships_of_about_5_communities(mini):
    assert mini.groupby("level").size().to_dict() == {0: 1, 1: 4, 2: 20}
    assert mini[mini.level == 2].groupby("parent_code").size().between(4, 6).all()


def test_prefecture_scale_has_districts_townships_and_communities(prefecture):
    pref = prefecture
    counts = pref.groupby("level").size().to_dict()
    assert counts[0] == 1 and counts[1] == 20
    assert 240 <= counts[2] <= 280
    assert 3800 <= counts[3] <= 4200
    root = pref[pref.level == 0].iloc[0]
    assert (root.code, root["name"]) == ("519900", "演示市")
    assert sorted(pref[pref.level == 1].code) == [f"5199{k:02d}" for k in range(1, 21)]
    lengths = pref.code.str.len().groupby(pref.level).unique().to_dict()
    assert {k: list(v) for k, v in lengths.items()} == {0: [6], 1: [6], 2: [9], 3: [12]}
    child = pref[pref.level >= 2]
    assert all(c.startswith(p) for c, p in zip(child.code, child.parent_code, strict=True))
    assert shapely.coverage_is_valid(_arr(pref[pref.level == 3].geometry))


def test_level_names_follow_the_scale():
    assert geo.level_names("county") == [(0, "市", "city"), (1, "镇(街道)", "township"), (2, "村(社区)", "community")]
    assert [n[1] for n in geo.level_names("prefecture")] == ["市", "区(县)", "镇(街道)", "村(社区)"]
    with pytest.raises(ValueError):
        geo.level_names("planet")


def test_unknown_scale_is_rejected(outline):
    with pytest.raises(ValueError, match="scale"):
        geo.build_demo_regions(outline, "planet")


# --- display simplification --------------------------------------------------------------------


def test_simplified_levels_remain_valid_coverages_with_fewer_vertices(county):
    for level in (0, 1, 2):
        geoms = county[county.level == level].geometry.tolist()
        simplified = _arr(bnd.simplify_level(geoms, bnd.display_tolerance(level, 2)))
        assert len(simplified) == len(geoms)
        assert shapely.is_valid(simplified).all()
        assert not shapely.is_empty(simplified).any()
        assert shapely.coverage_is_valid(simplified)
        assert shapely.get_num_coordinates(simplified).sum() < shapely.get_num_coordinates(_arr(geoms)).sum()
        assert shapely.area(simplified).sum() == pytest.approx(shapely.area(_arr(geoms)).sum(), rel=0.01)


def test_a_zero_tolerance_leaves_geometries_untouched(county):
    geoms = county[county.level == 1].geometry.tolist()
    assert bnd.simplify_level(geoms, 0) == geoms


def test_display_tolerances_are_set_for_every_level():
    for depth in (2, 3):
        for level in range(depth + 1):
            assert 0 < bnd.display_tolerance(level, depth) <= 0.002


def test_community_level_geojson_is_small_and_keyed_by_code(county):
    text = bnd.level_geojson(county, 2)
    assert len(text.encode("utf-8")) < 300 * 1024
    fc = json.loads(text)
    codes = [f["id"] for f in fc["features"]]
    assert codes == county[county.level == 2].code.tolist()
    assert all(f["properties"]["code"] == f["id"] for f in fc["features"])
    assert not re.search(r"\d\.\d{7,}", text)  # coordinates rounded to 6 decimals
    subset = json.loads(bnd.level_geojson(county, 2, within="510182001"))
    assert {f["id"][:9] for f in subset["features"]} == {"510182001"}
