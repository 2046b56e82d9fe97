"""The cockpit map: one figure whose trace order never changes, so callbacks can Patch values only.

Geometry is never inline: choropleth traces name a per-level GeoJSON URL served by the app, which
plotly.js fetches once and caches; updates send codes, values and colours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go

from layouts.map_layers import (
    ALERT_HALO_UID,
    BY_KEY,
    FACILITY_KINDS,
    LAYER_KEYS,
    SEVERITY_COLORS,
    area_names_trace,
    layer_options,
    layer_traces,
    names_slot,
    trace_slots,
)
from layouts.map_style import map_style

# The cockpit's figure holds every registered layer. Trace positions (Patch addresses traces by index): the
# context and value choropleths, then the layers in drawing order (layouts.map_layers.trace_slots), then the
# hidden trace of the area names.
T_CONTEXT, T_VALUES = 0, 1
SLOTS = trace_slots()
T_HEAT, T_OPEN = SLOTS["heat"][0], SLOTS["open"][0]
T_FACILITY = {kind: SLOTS[kind][0] for kind in FACILITY_KINDS}
T_ALERT_HALO = dict(zip(ALERT_HALO_UID, SLOTS["alerts"][:-1], strict=True))
T_ALERT_CORE = SLOTS["alerts"][-1]
T_NAMES = names_slot()
FACILITY_COLORS = {kind: BY_KEY[kind].swatch for kind in FACILITY_KINDS}
LAYERS = LAYER_KEYS
DEFAULT_LAYERS = [k for k in LAYER_KEYS if BY_KEY[k].default]
COLORBAR_LEN = 0.55  # of the map's height, from its foot; a score's is shorter (callbacks/scores.py)

__all__ = ["ALERT_HALO_UID", "SEVERITY_COLORS", "layer_options"]


def geojson_url(level: int, version: int, scope: str | None = None) -> str:
    """URL of one level's simplified boundaries (within the caller's scope). The geometry version makes a
    boundary change a new URL (other data changes keep it, so the browser never re-fetches for them); the scope keeps one browser from reusing another account's cached boundaries."""
    return f"/geo/level-{level}.json?v={version}&s={scope or 'all'}"


def colorscale(polarity: int) -> list[list]:
    """Continuous scale from bad (red) to good (green), oriented by the indicator's polarity."""
    bad_to_good = [[0.0, "#d7301f"], [0.35, "#fc8d59"], [0.6, "#fee08b"], [0.8, "#91cf60"], [1.0, "#1a9850"]]
    if polarity >= 0:
        return bad_to_good
    return [[1 - p, c] for p, c in reversed(bad_to_good)]


def view_for_bounds(
    bounds: tuple[float, float, float, float], width_px: float = 1000, height_px: float = 760, padding_px: float = 24
) -> tuple[dict, float]:
    """Centre and zoom that fit lon/lat bounds in a map of the given pixel size, as MapLibre's
    ``fitBounds`` would (512 px world tiles, Web Mercator, padding on every side)."""
    minx, miny, maxx, maxy = bounds

    def merc_y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    y1, y2 = merc_y(miny), merc_y(maxy)
    w, h = max(width_px - 2 * padding_px, 50), max(height_px - 2 * padding_px, 50)
    zoom_x = math.log2(w / (512 * max(maxx - minx, 1e-6) / 360))
    zoom_y = math.log2(h / (512 * max(y2 - y1, 1e-9) / (2 * math.pi)))
    center_lat = math.degrees(2 * math.atan(math.exp((y1 + y2) / 2)) - math.pi / 2)
    return {"lon": (minx + maxx) / 2, "lat": center_lat}, min(zoom_x, zoom_y)


EMPTY_GEOJSON = {"type": "FeatureCollection", "features": []}  # an empty URL would be fetched (and fail)


# Styling constants of the empty map, checked by the browser tests; not by mutation testing.
# pragma: no mutate block
def base_figure(
    tile_url: str = "", bounds: tuple[float, float, float, float] | None = None, layers: Sequence[str] | None = None
) -> go.Figure:
    """The empty map with every trace in place, opened on ``bounds`` (the top area) when given; the
    cockpit callback patches data and the fitted view into it. ``layers`` (layer keys; all when None) are
    the point layers it can show: a theme or topic page's map holds only its own (their trace positions:
    ``layouts.map_layers.trace_slots(layers)``; the area names follow them)."""
    traces: list = [
        go.Choroplethmap(
            geojson=EMPTY_GEOJSON, locations=[], z=[], featureidkey="id", showscale=False, hoverinfo="skip", name="context",
            colorscale=[[0, "#1b3358"], [1, "#1b3358"]], marker={"line": {"color": "#3f6aa8", "width": 1}, "opacity": 0.55},
        ),
        go.Choroplethmap(
            geojson=EMPTY_GEOJSON, locations=[], z=[], featureidkey="id", name="values", colorscale=colorscale(1),
            marker={"line": {"color": "#9ec9ff", "width": 1.2}, "opacity": 0.78},
            colorbar={"thickness": 14, "len": COLORBAR_LEN, "x": 0.99, "xanchor": "right", "y": 0.05, "yanchor": "bottom",
                      "bgcolor": "rgba(8,26,51,0.7)", "tickfont": {"color": "#d6e4ff", "size": 14},
                      "title": {"font": {"color": "#d6e4ff", "size": 14}}},
        ),
    ]
    traces += layer_traces(layers)
    traces.append(area_names_trace())
    center, zoom = view_for_bounds(bounds) if bounds else ({"lon": 0.0, "lat": 0.0}, 1.0)
    fig = go.Figure(traces)
    fig.update_layout(
        template="none",
        map={"style": map_style(tile_url), "center": center, "zoom": zoom},
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        showlegend=False,
        hoverlabel={"font": {"size": 16, "family": "Microsoft YaHei, PingFang SC, Noto Sans CJK SC, sans-serif"}},
        clickmode="event",
        uirevision="root",
    )
    return fig
