"""The cockpit map: one figure whose trace order never changes, so callbacks can Patch values only.

Geometry is never inline: choropleth traces name a per-level GeoJSON URL served by the app, which
plotly.js fetches once and caches; updates send codes, values and colours.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go

from layouts.i18n import t
from layouts.map_style import map_style

FACILITY_KINDS = (
    "camera", "air_station", "water_station", "hospital", "school", "shelter", "base_station", "major_project",
    "pollution_camera",
)
FACILITY_COLORS = {
    "camera": "#7fdbff", "air_station": "#2ecc71", "water_station": "#00bcd4", "hospital": "#ff6b81",
    "school": "#ffd166", "shelter": "#a29bfe", "base_station": "#c0c0c0", "major_project": "#ff9f43",
    "pollution_camera": "#badc58",
}
SEVERITY_COLORS = {1: "#ff1f3d", 2: "#ff7a00", 3: "#ffd000", 4: "#4da3ff"}
# Trace positions (Patch addresses traces by index).
T_CONTEXT, T_VALUES, T_HEAT, T_OPEN = 0, 1, 2, 3
T_FACILITY = {kind: 4 + k for k, kind in enumerate(FACILITY_KINDS)}
# Open alerts: a halo per severe grade (I pulses: assets/alert_blink.js changes the MapLibre layer named after
# the trace's uid; II glows steadily) under one core trace of every alert, coloured by severity.
T_ALERT_HALO = {1: 4 + len(FACILITY_KINDS), 2: 5 + len(FACILITY_KINDS)}
T_ALERT_CORE = 6 + len(FACILITY_KINDS)
ALERT_HALO_UID = {1: "alert-halo-1", 2: "alert-halo-2"}
LAYERS = ("heat", "open", "alerts", *FACILITY_KINDS)
COLORBAR_LEN = 0.55  # of the map's height, from its foot; a score's is shorter (callbacks/scores.py)
DEFAULT_LAYERS = ["heat", "open", "alerts"]


def layer_options(lang: str) -> list[dict]:
    """The map's layer switches in the current language (the layout and the language switch use this)."""
    return [{"label": t(f"layer.{k}", lang), "value": k} for k in LAYERS]


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
def base_figure(tile_url: str = "", bounds: tuple[float, float, float, float] | None = None) -> go.Figure:
    """The empty map with every trace in place, opened on ``bounds`` (the top area) when given; the
    cockpit callback patches data and the fitted view into it."""
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
        go.Densitymap(lon=[], lat=[], z=[], radius=14, showscale=False, name="heat", hoverinfo="skip", visible=True,
                      colorscale=[[0, "rgba(255,160,0,0)"], [0.4, "rgba(255,160,0,0.45)"], [1, "rgba(255,40,40,0.85)"]]),
        go.Scattermap(lon=[], lat=[], mode="markers", name="open", visible=True, hovertemplate="%{text}<extra></extra>", text=[],
                      marker={"size": 10, "color": [], "cmin": 1, "cmax": 4, "showscale": False, "colorscale": [
                          [k / 3, SEVERITY_COLORS[k + 1]] for k in range(4)]}),
    ]
    for kind in FACILITY_KINDS:
        traces.append(
            go.Scattermap(lon=[], lat=[], mode="markers", name=kind, visible=False, text=[],
                          marker={"size": [], "color": FACILITY_COLORS[kind], "opacity": 0.85},
                          hovertemplate="%{text}<extra></extra>")
        )
    for sev, uid in ALERT_HALO_UID.items():
        traces.append(go.Scattermap(lon=[], lat=[], mode="markers", name=uid, uid=uid, visible=True, hoverinfo="skip",
                                    marker={"size": 30, "color": SEVERITY_COLORS[sev], "opacity": 0.45}))
    traces.append(
        go.Scattermap(lon=[], lat=[], mode="markers", name="alerts", uid="alert-core", visible=True, text=[],
                      hovertemplate="%{text}<extra></extra>",
                      marker={"size": 13, "color": [], "cmin": 1, "cmax": 4, "showscale": False, "colorscale": [
                          [k / 3, SEVERITY_COLORS[k + 1]] for k in range(4)]})
    )
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
