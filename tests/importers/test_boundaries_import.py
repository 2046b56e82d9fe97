"""Boundary imports of messy real-world files: the invalid 彭州市 outline, a projected CRS, a zipped GBK
Shapefile, GCJ-02 coordinates; every kind of error names the feature and the column and writes nothing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from app import main
from datasources.importers import ImportFailed
from datasources.importers.boundaries import import_boundaries
from datasources.importers.gcj02 import wgs84_to_gcj02
from tests.importers.city import grid_city, write_city
from tests.importers.conftest import snapshot

OUTLINE = Path(__file__).parents[2] / "geodata" / "pengzhou_outline.geojson"


def regions(engine, level: int) -> list[dict]:  # noqa: ANN001
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM regions WHERE level = :lv ORDER BY code"), {"lv": level}).mappings().all()
    return [dict(r) for r in rows]


def test_the_invalid_pengzhou_outline_is_repaired_and_the_import_says_so(empty_db):
    _, engine = empty_db
    assert not shapely.from_geojson(json.dumps(json.loads(OUTLINE.read_text())["features"][0]["geometry"])).is_valid
    summary = import_boundaries(engine, OUTLINE, 0, level_name_zh="市", level_name_en="city")
    assert summary.counts["repaired"] == 1
    assert any(n.startswith("repaired 510182 彭州市") for n in summary.notes), summary.notes
    [top] = regions(engine, 0)
    assert top["name"] == "彭州市" and shapely.from_geojson(top["geometry"]).is_valid
    assert 1350 < top["area_km2"] < 1500
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name_zh, name_en FROM region_levels WHERE level = 0")).one() == ("市", "city")
        audit = conn.execute(text("SELECT action, target, detail FROM audit_log")).one()
    assert audit.action == "import" and "pengzhou_outline.geojson" in audit.target and "areas=1" in audit.detail


def test_a_city_of_three_levels_gets_parents_by_containment_and_shared_borders(city_db):
    _, engine = city_db
    streets = regions(engine, 2)
    assert [(r["code"], r["parent_code"]) for r in streets] == [
        ("99010011", "9901001"), ("99010012", "9901001"), ("99010021", "9901002"), ("99010022", "9901002")]
    # Display geometry simplified as a coverage: neighbours still share their border (no gap, no overlap).
    g = [shapely.from_geojson(r["geometry_display"]) for r in streets]
    assert shapely.union_all(g).area == pytest.approx(shapely.from_geojson(regions(engine, 0)[0]["geometry"]).area, rel=1e-6)


def test_a_projected_crs_ends_in_lon_lat(empty_db, tmp_path):
    _, engine = empty_db
    city = grid_city(1)
    for lv, crs in ((0, 4547), (1, 32648)):  # CGCS2000 3-degree Gauss-Kruger CM 102E; UTM 48N
        path = tmp_path / f"level-{lv}.gpkg"
        city[lv].to_crs(crs).to_file(path, driver="GPKG")
        summary = import_boundaries(engine, path, lv)
        assert any(f"EPSG:{crs}" in n for n in summary.notes), summary.notes
    west = regions(engine, 1)[0]
    assert west["parent_code"] == "990100"
    assert west["centroid_lon"] == pytest.approx(103.95, abs=1e-4) and west["centroid_lat"] == pytest.approx(31.0, abs=1e-4)


@pytest.mark.parametrize("keep_cpg", [True, False], ids=["cpg", "no-cpg"])
def test_a_zipped_gbk_shapefile_reads_chinese_names(empty_db, tmp_path, keep_cpg):
    _, engine = empty_db
    city = grid_city(1)
    import_boundaries(engine, write_city(tmp_path, 0)[0], 0)
    shp = city[1].rename(columns={"code": "区划代码", "name": "名称"}).drop(columns=["parent_code"])
    shp["名称"] = ["天府镇", "龙门山镇"]
    (tmp_path / "shp").mkdir()
    shp.to_file(tmp_path / "shp" / "towns.shp", encoding="gbk")
    archive = tmp_path / "towns.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in (tmp_path / "shp").iterdir():
            if keep_cpg or f.suffix != ".cpg":
                z.write(f, f.name)
    import_boundaries(engine, archive, 1)
    assert [r["name"] for r in regions(engine, 1)] == ["天府镇", "龙门山镇"]


def test_gcj02_input_is_shifted_back_to_wgs84(empty_db, tmp_path):
    _, engine = empty_db
    city = grid_city(1)
    for lv in (0, 1):
        shifted = city[lv].set_geometry(shapely.transform(city[lv].geometry.to_numpy(),
                                                          lambda xy: __import__("numpy").column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))))
        path = tmp_path / f"gcj-{lv}.geojson"
        shifted.to_file(path, driver="GeoJSON")
        import_boundaries(engine, path, lv, gcj02=True)
    top = shapely.from_geojson(regions(engine, 0)[0]["geometry"])
    assert shapely.equals_exact(shapely.normalize(top), shapely.normalize(city[0].geometry.iat[0]), tolerance=1e-7)


def test_level_names_come_from_configuration_or_the_options(empty_db, tmp_path):
    _, engine = empty_db
    paths = write_city(tmp_path, 1)
    import_boundaries(engine, paths[0], 0, configured_level_names="市/city;开发区/zone")
    import_boundaries(engine, paths[1], 1, configured_level_names="市/city;开发区/zone", level_name_en="development zone")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT level, name_zh, name_en FROM region_levels ORDER BY level")).all() == [
            (0, "市", "city"), (1, "开发区", "development zone")]


def test_a_deeper_tree_shifts_the_catalog_levels_to_the_bottom(empty_db, tmp_path):
    _, engine = empty_db
    for lv, path in enumerate(write_city(tmp_path, 4)):
        import_boundaries(engine, path, lv)
    with engine.connect() as conn:
        level = dict(conn.execute(text("SELECT code, level FROM indicators WHERE code IN ('eco_gdp', 'eco_market_entities')")).all())
    assert level == {"eco_gdp": 3, "eco_market_entities": 4}  # catalog levels 1 and 2 of a 4-level-deep tree
    assert len(regions(engine, 4)) == 16


def _refused(engine, path, level, **kw) -> str:  # noqa: ANN001
    before = snapshot(engine)
    with pytest.raises(ImportFailed) as err:
        import_boundaries(engine, path, level, **kw)
    assert snapshot(engine) == before  # nothing written
    return str(err.value)


def test_each_kind_of_error_names_the_feature_and_column_and_writes_nothing(city_db, tmp_path):
    _, engine = city_db
    base = grid_city(3)
    # Duplicate codes and an empty name.
    bad = base[3].copy()
    bad.loc[1, "code"] = bad.loc[0, "code"]
    bad.loc[2, "name"] = ""
    bad.to_file(tmp_path / "dup.geojson", driver="GeoJSON")
    msg = _refused(engine, tmp_path / "dup.geojson", 3)
    assert "feature 2, column 'code': duplicate code (also feature 1)" in msg
    assert "feature 3, column 'name': empty name" in msg
    # Unknown parent in the parent column.
    bad = base[3].copy()
    bad.loc[4, "parent_code"] = "nowhere"
    bad.to_file(tmp_path / "parent.geojson", driver="GeoJSON")
    assert "feature 5, column 'parent_code': unknown parent code (value 'nowhere')" in _refused(engine, tmp_path / "parent.geojson", 3)
    # A child mostly outside its parent.
    bad = base[3].copy()
    bad.loc[0, "parent_code"] = "99010022"
    bad.to_file(tmp_path / "outside.geojson", driver="GeoJSON")
    assert "feature 1, column 'geometry'" in (msg := _refused(engine, tmp_path / "outside.geojson", 3))
    assert "lies outside its parent 99010022" in msg
    # A level whose level above is missing; a second top area.
    base[3].to_file(tmp_path / "skip.geojson", driver="GeoJSON")
    assert "no areas of level 3 are stored" in _refused(engine, tmp_path / "skip.geojson", 4)
    assert "another top area is stored (990100)" in _refused(engine, OUTLINE, 0)
    # A column that is not there.
    assert "column 'qhdm': no such column" in _refused(engine, tmp_path / "skip.geojson", 3, parent_field="qhdm")


def test_the_command_line_prints_a_summary_or_the_problems_with_exit_code_2(empty_db, tmp_path, monkeypatch, capsys):
    url, engine = empty_db
    monkeypatch.setenv("IOC_DATABASE_URL", url)
    paths = write_city(tmp_path, 1)
    assert main(["import", "boundaries", str(paths[0]), "--level", "0", "--level-name-zh", "市"]) == 0
    assert "imported boundaries from level-0.geojson" in capsys.readouterr().out
    gdf = gpd.read_file(paths[1])
    gdf.loc[0, "code"] = None
    gdf.to_file(tmp_path / "bad.geojson", driver="GeoJSON")
    assert main(["import", "boundaries", str(tmp_path / "bad.geojson"), "--level", "1"]) == 2
    err = capsys.readouterr().err
    assert "bad.geojson: 1 problem, nothing written" in err and "feature 1, column 'code': empty code" in err
    assert "Traceback" not in err


def test_an_invalid_small_area_is_repaired_and_listed(city_db, tmp_path):
    """A bow-tie street (self-intersecting ring) of a level below the top: the write layer repairs it and
    the summary lists the repair, keeping both lobes (they are small, yet not slivers of this area)."""
    _, engine = city_db
    gdf = grid_city(3)[3]
    x0, y0, x1, y1 = gdf.geometry.iat[0].bounds
    gdf.loc[0, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])
    gdf.to_file(tmp_path / "bowtie.geojson", driver="GeoJSON")
    summary = import_boundaries(engine, tmp_path / "bowtie.geojson", 3)
    assert summary.counts["repaired"] == 1
    assert any(n.startswith("repaired 990100111 ") and "Self-intersection" in n for n in summary.notes), summary.notes
    fixed = shapely.from_geojson(regions(engine, 3)[0]["geometry"])
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon" and len(fixed.geoms) == 2
