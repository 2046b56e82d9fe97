"""The data side of the map-layer registry (``layouts.map_layers``): one filler per kind of source, each
running its repository query and patching its layer's traces by index.

Every map (the cockpit's, a theme or topic page's) fills its layers through :func:`fill_layers`; only the
traces of the layers it holds are addressed, and a layer that is off gets empty arrays, so a switch
redraws that layer alone.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from dash import Patch
from dateutil.relativedelta import relativedelta

from callbacks.services import Services
from layouts.alert_text import alert_area, alert_text
from layouts.i18n import pick, t
from layouts.map_layers import ALERT_HALO_UID, MapLayer, draw_order, names_slot, trace_slots

OPEN_EVENT_POINTS = 120  # the most severe and newest; the rest show in the heat layer and the panel
ALERT_POINTS = 200  # open alerts drawn on the map, most severe first


@dataclass(frozen=True)
class LayerView:
    """What every layer query needs: the area (and its size, for the heat grid), the month shown, the
    language of the hover texts and the screen's size factor for marker sizes."""

    services: Services
    area: str
    area_km2: float
    period: date
    lang: str = "zh"
    scale: float = 1.0


def fill_layers(fig: Patch, view: LayerView, on: Iterable[str], keys: Sequence[str] | None = None) -> None:
    """Patch every layer of a figure built with ``layouts.map_figure.base_figure(layers=keys)``: the
    layers in ``on`` get their data and are shown, the others are emptied and hidden."""
    on = set(on)
    slots = trace_slots(keys)
    for layer in draw_order(keys):
        FILLERS[layer.source.query](fig, view, layer, slots[layer.key], layer.key in on)


def fill_area_names(fig: Patch, areas: list[dict], lang: str, current: str = "", keys: Sequence[str] | None = None) -> None:
    """The names drawn on a map built with ``base_figure(layers=keys)`` (assets/leader.js draws them): one
    point per area (rows with code, name, name_en, centroid_lon/lat, area_km2) at its centroid, with its
    size in km² (bigger areas win where names would overlap) and whether it is the area shown."""
    trace = names_slot(keys)
    placed = [a for a in areas if a.get("centroid_lon") is not None and a.get("centroid_lat") is not None]
    fig["data"][trace]["lon"] = [round(a["centroid_lon"], 4) for a in placed]
    fig["data"][trace]["lat"] = [round(a["centroid_lat"], 4) for a in placed]
    fig["data"][trace]["text"] = [pick(lang, a["name"], a.get("name_en") or "") for a in placed]
    fig["data"][trace]["customdata"] = [[round(a.get("area_km2") or 0, 1), int(a["code"] == current)] for a in placed]


def f4(values: Sequence[float]) -> dict | list:
    """Coordinates as a base64 float32 typed array, which plotly.js decodes: 4 bytes a number (5.3 in
    base64) instead of 8 or 9 characters of text; float32 keeps ~1 m at these longitudes. Empty stays []."""
    if not values:
        return []
    return {"dtype": "f4", "bdata": base64.b64encode(np.asarray(values, dtype="<f4").tobytes()).decode("ascii")}


def heat_cell_deg(area_km2: float) -> float:
    """Grid cell of the heat layer: about 1/25 of the area's side, so any area sends <= ~600 cells."""
    side_deg = max(area_km2, 0.01) ** 0.5 / 100.0
    cell = side_deg / 25
    if cell >= 0.005:  # whole multiples of the roll-up grid: served by event_cells
        return round(cell / 0.005) * 0.005
    return float(f"{max(cell, 0.0005):.1g}")


def _heat(fig: Patch, view: LayerView, layer: MapLayer, slots: list[int], on: bool) -> None:
    start, end = view.period, view.period + relativedelta(months=1)
    cells = view.services.cached("event_density", view.area, start, end, heat_cell_deg(view.area_km2)) if on else []
    i = slots[0]
    fig["data"][i]["visible"] = on
    fig["data"][i]["lon"] = f4([round(c["lon"], 4) for c in cells])
    fig["data"][i]["lat"] = f4([round(c["lat"], 4) for c in cells])
    fig["data"][i]["z"] = [c["n"] for c in cells]
    fig["data"][i]["zmax"] = max((c["n"] for c in cells), default=1)
    fig["data"][i]["radius"] = round(14 * view.scale)


def _open_events(fig: Patch, view: LayerView, layer: MapLayer, slots: list[int], on: bool) -> None:
    events = view.services.cached("open_events", view.area, OPEN_EVENT_POINTS) if on else []
    events = [e for e in events if e["lon"] is not None and e["lat"] is not None]  # no position: panel only
    lang, i = view.lang, slots[0]
    fig["data"][i]["visible"] = on
    fig["data"][i]["lon"] = f4([round(e["lon"], 4) for e in events])
    fig["data"][i]["lat"] = f4([round(e["lat"], 4) for e in events])
    fig["data"][i]["marker"]["color"] = [e["severity"] for e in events]  # colour scale maps I–IV
    fig["data"][i]["marker"]["size"] = round(10 * view.scale)
    fig["data"][i]["text"] = [f"{t('severity.' + str(e['severity']), lang)} {e['title']} · {t('status.' + e['status'], lang)}"
                              for e in events]


def _alerts(fig: Patch, view: LayerView, layer: MapLayer, slots: list[int], on: bool) -> None:
    """Open alerts where they are (station, event, area centre): severity I and II also get a halo (the
    browser pulses severity I's)."""
    alerts = view.services.cached("open_alerts", view.area, ALERT_POINTS) if on else []
    alerts = [a for a in alerts if a["lon"] is not None and a["lat"] is not None]
    *halos, core = slots
    for sev, i in zip(ALERT_HALO_UID, halos, strict=True):
        halo = [a for a in alerts if a["severity"] == sev]
        fig["data"][i]["visible"] = on
        fig["data"][i]["lon"] = [round(a["lon"], 4) for a in halo]
        fig["data"][i]["lat"] = [round(a["lat"], 4) for a in halo]
        fig["data"][i]["marker"]["size"] = round(30 * view.scale)
    fig["data"][core]["visible"] = on
    fig["data"][core]["lon"] = [round(a["lon"], 4) for a in alerts]
    fig["data"][core]["lat"] = [round(a["lat"], 4) for a in alerts]
    fig["data"][core]["marker"]["color"] = [a["severity"] for a in alerts]
    fig["data"][core]["marker"]["size"] = round(13 * view.scale)
    fig["data"][core]["text"] = [
        f"{t('alert', view.lang)} {t('severity.' + str(a['severity']), view.lang)} · {alert_area(a, view.lang)}<br>{alert_text(a, view.lang)}"
        for a in alerts
    ]


def _facilities(fig: Patch, view: LayerView, layer: MapLayer, slots: list[int], on: bool) -> None:
    """Facilities of the layer's kind (clustered by the repository when there are many: size grows with
    the count)."""
    pts = view.services.cached("facility_points", view.area, (layer.source.kind,)) if on else []
    i = slots[0]
    fig["data"][i]["visible"] = on
    fig["data"][i]["lon"] = [p["lon"] for p in pts]
    fig["data"][i]["lat"] = [p["lat"] for p in pts]
    fig["data"][i]["marker"]["size"] = [round(min(8 + 2.5 * (p["n"] ** 0.5), 30) * view.scale, 1) for p in pts]
    fig["data"][i]["marker"]["color"] = layer.swatch
    fig["data"][i]["text"] = [p["name"] or f"{p['n']}" for p in pts]


Filler = Callable[[Patch, LayerView, MapLayer, list, bool], None]
#: The filler of each ``Source.query`` of the registry.
FILLERS: dict[str, Filler] = {"heat": _heat, "open_events": _open_events, "open_alerts": _alerts, "facilities": _facilities}
