"""The one place that builds the map's MapLibre style: offline by default.

With no style, plotly points MapLibre at CARTO's servers; even ``white-bg`` names an internet glyphs
URL. So the style is always an explicit dict: a background layer, plus an intranet raster tile
source when one is configured. No glyphs: the map draws no text layers.
"""

from __future__ import annotations

BACKGROUND = "#081a33"


def map_style(tile_url: str = "") -> dict:
    """A MapLibre style dict; ``tile_url`` is an optional intranet raster template with {z}/{x}/{y}."""
    # MapLibre requires "sources"; plotly drops empty dicts from figure JSON, so keep one empty source.
    style: dict = {
        "version": 8,
        "sources": {"empty": {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}}},
        "layers": [{"id": "background", "type": "background", "paint": {"background-color": BACKGROUND}}],
    }
    if tile_url:
        style["sources"]["intranet"] = {"type": "raster", "tiles": [tile_url], "tileSize": 256}
        style["layers"].append({"id": "intranet-tiles", "type": "raster", "source": "intranet", "paint": {"raster-opacity": 0.55}})
    return style
