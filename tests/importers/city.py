"""A small synthetic city for the import tests: a rectangle split in two at every level (alternating
west/east and south/north), written as one GeoJSON file per level."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from shapely.geometry import box

TOP = ("990100", "示范市", "Demo City", (103.90, 30.90, 104.10, 31.10))
SUFFIX = ["市", "区", "街道", "社区", "网格", "小组"]


def grid_city(depth: int) -> list[gpd.GeoDataFrame]:
    """Levels 0..depth: level 0 the rectangle, each area split in two halves at the next level."""
    code, name, name_en, bounds = TOP
    levels = [gpd.GeoDataFrame({"code": [code], "name": [name], "name_en": [name_en]}, geometry=[box(*bounds)], crs=4326)]
    for lv in range(1, depth + 1):
        rows = {"code": [], "name": [], "parent_code": []}
        geoms = []
        for pcode, geom in zip(levels[-1]["code"], levels[-1].geometry, strict=True):
            x0, y0, x1, y1 = geom.bounds
            halves = ([box(x0, y0, (x0 + x1) / 2, y1), box((x0 + x1) / 2, y0, x1, y1)] if lv % 2 else
                      [box(x0, y0, x1, (y0 + y1) / 2), box(x0, (y0 + y1) / 2, x1, y1)])
            for i, h in enumerate(halves, start=1):
                c = f"{pcode}{i}"
                rows["code"].append(c)
                rows["name"].append(f"{'西东'[i - 1] if lv % 2 else '南北'[i - 1]}{c[-lv:]}{SUFFIX[lv]}")
                rows["parent_code"].append(pcode)
                geoms.append(h)
        levels.append(gpd.GeoDataFrame(rows, geometry=geoms, crs=4326))
    return levels


def write_city(directory: Path, depth: int, parent_column: bool = False) -> list[Path]:
    """One GeoJSON per level (level-0.geojson …); without ``parent_column`` parents come from containment."""
    paths = []
    for lv, gdf in enumerate(grid_city(depth)):
        p = directory / f"level-{lv}.geojson"
        (gdf if parent_column or lv == 0 else gdf.drop(columns=["parent_code"])).to_file(p, driver="GeoJSON")
        paths.append(p)
    return paths
