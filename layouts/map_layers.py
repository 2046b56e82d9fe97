"""The map-layer registry: every point layer of every map is declared here once.

A layer has a key (in the URL, the layer picker and the mode profiles), a label (an i18n key), a legend
swatch, the traces it draws (built by ``traces``) and the data it shows (``source``: which repository
query fills it, run by ``callbacks.map_layers``). The cockpit's figure, its patch callback, the layer
picker, the legend and the theme/topic pages' maps all read :data:`LAYERS`; adding a facility kind is one
line below (plus its two i18n labels).

Trace positions follow from the registry (see :func:`trace_slots`): callbacks address traces by index
in a ``Patch``, so the order is fixed once per figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
from dash import html

from layouts import ids
from layouts.i18n import t
from layouts.shell import label

SEVERITY_COLORS = {1: "#ff1f3d", 2: "#ff7a00", 3: "#ffd000", 4: "#4da3ff"}
SEVERITY_SCALE = [[k / 3, SEVERITY_COLORS[k + 1]] for k in range(4)]
HEAT_SCALE = [[0, "rgba(255,160,0,0)"], [0.4, "rgba(255,160,0,0.45)"], [1, "rgba(255,40,40,0.85)"]]
ALERT_HALO_UID = {1: "alert-halo-1", 2: "alert-halo-2"}  # assets/alert_blink.js pulses severity I's halo


@dataclass(frozen=True)
class Source:
    """What fills a layer: ``query`` is one of ``heat`` (event density), ``open_events``, ``open_alerts``
    or ``facilities`` (of ``kind``); ``callbacks.map_layers.FILLERS`` runs it."""

    query: str
    kind: str = ""


@dataclass(frozen=True)
class MapLayer:
    """One map layer as every screen sees it."""

    key: str
    label: str  # i18n key
    swatch: str  # legend colour (CSS)
    shape: str  # legend shape: dot | ring | heat | severity
    source: Source
    traces: Callable[[MapLayer], list]  # the layer's empty traces, in drawing order
    default: bool = False  # on when neither the URL nor the operating mode says otherwise
    on_top: bool = False  # drawn above every other layer (alerts)

    @property
    def n_traces(self) -> int:
        """How many traces the layer draws (its slots in the figure)."""
        return len(self.traces(self))


# ---------------------------------------------------------------------------------------------- traces
# Styling of the empty traces, checked by the browser tests; not by mutation testing.
# pragma: no mutate block
def _heat_traces(layer: MapLayer) -> list:
    return [go.Densitymap(lon=[], lat=[], z=[], radius=14, showscale=False, name=layer.key, hoverinfo="skip",
                          visible=layer.default, colorscale=HEAT_SCALE)]


def _severity_points(layer: MapLayer) -> list:
    return [go.Scattermap(lon=[], lat=[], mode="markers", name=layer.key, visible=layer.default,
                          hovertemplate="%{text}<extra></extra>", text=[], marker={"size": 10, "color": [], "cmin": 1, "cmax": 4, "showscale": False,
                                           "colorscale": SEVERITY_SCALE})]


def _alert_traces(layer: MapLayer) -> list:
    """A halo per severe grade (I pulses, II glows steadily) under one core trace of every alert."""
    halos = [
        go.Scattermap(lon=[], lat=[], mode="markers", name=uid, uid=uid, visible=layer.default, hoverinfo="skip",
                      marker={"size": 30, "color": SEVERITY_COLORS[sev], "opacity": 0.45})
        for sev, uid in ALERT_HALO_UID.items()
    ]
    core = go.Scattermap(lon=[], lat=[], mode="markers", name=layer.key, uid="alert-core", visible=layer.default, text=[],
                         hovertemplate="%{text}<extra></extra>",
                         marker={"size": 13, "color": [], "cmin": 1, "cmax": 4, "showscale": False, "colorscale": SEVERITY_SCALE})
    return [*halos, core]


def _facility_traces(layer: MapLayer) -> list:
    return [go.Scattermap(lon=[], lat=[], mode="markers", name=layer.key, visible=layer.default, text=[],
                          marker={"size": [], "color": layer.swatch, "opacity": 0.85}, hovertemplate="%{text}<extra></extra>")]
# pragma: no mutate end


def _facility(kind: str, color: str) -> MapLayer:
    return MapLayer(kind, f"layer.{kind}", color, "dot", Source("facilities", kind), _facility_traces)


# ---------------------------------------------------------------------------------------------- the registry
#: Every layer, in the layer picker's order.
LAYERS: tuple[MapLayer, ...] = (
    MapLayer("heat", "layer.heat", "linear-gradient(90deg, rgba(255,160,0,0.2), #ff2828)", "heat", Source("heat"), _heat_traces,
             default=True),
    MapLayer("open", "layer.open", SEVERITY_COLORS[2], "severity", Source("open_events"), _severity_points, default=True),
    MapLayer("alerts", "layer.alerts", SEVERITY_COLORS[1], "ring", Source("open_alerts"), _alert_traces, default=True, on_top=True),
    _facility("camera", "#7fdbff"),
    _facility("air_station", "#2ecc71"),
    _facility("water_station", "#00bcd4"),
    _facility("hospital", "#ff6b81"),
    _facility("school", "#ffd166"),
    _facility("shelter", "#a29bfe"),
    _facility("base_station", "#c0c0c0"),
    _facility("major_project", "#ff9f43"),
    _facility("pollution_camera", "#badc58"),
    # Flood and new-infrastructure topics (their demo data comes with the topic data).
    _facility("rain_gauge", "#6c8cff"),
    _facility("river_station", "#1e7bff"),
    _facility("risk_point", "#e056fd"),
    _facility("rescue_team", "#f5f6fa"),
    _facility("charging_station", "#55efc4"),
)
BY_KEY: dict[str, MapLayer] = {layer.key: layer for layer in LAYERS}
LAYER_KEYS: tuple[str, ...] = tuple(BY_KEY)
DEFAULT_LAYERS: tuple[str, ...] = tuple(layer.key for layer in LAYERS if layer.default)
FACILITY_KINDS: tuple[str, ...] = tuple(layer.source.kind for layer in LAYERS if layer.source.query == "facilities")


def layer_keys(value: object) -> list[str]:
    """The known layer keys in ``value`` (a list of keys, or a string of keys separated by commas or
    spaces), in registry order, each once; anything else is dropped. Never raises."""
    if isinstance(value, str):
        items: Iterable = value.replace(",", " ").split()
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    else:
        return []
    wanted = {v for v in items if isinstance(v, str)}
    return [k for k in LAYER_KEYS if k in wanted]


def draw_order(keys: Sequence[str] | None = None) -> list[MapLayer]:
    """The layers of ``keys`` (all when None) in drawing order: registry order, ``on_top`` layers last."""
    chosen = [BY_KEY[k] for k in layer_keys(list(keys))] if keys is not None else list(LAYERS)
    return [layer for layer in chosen if not layer.on_top] + [layer for layer in chosen if layer.on_top]


def trace_slots(keys: Sequence[str] | None = None, first: int = 2) -> dict[str, list[int]]:
    """Layer key -> the indices of its traces in a figure holding the layers of ``keys`` (all when None)
    after ``first`` other traces (the cockpit's context and value choropleths)."""
    slots: dict[str, list[int]] = {}
    index = first
    for layer in draw_order(keys):
        n = layer.n_traces
        slots[layer.key] = list(range(index, index + n))
        index += n
    return slots


def names_slot(keys: Sequence[str] | None = None, first: int = 2) -> int:
    """Index of the area-names trace in a figure holding the layers of ``keys`` (it follows them)."""
    return first + sum(len(v) for v in trace_slots(keys, first).values())


def layer_traces(keys: Sequence[str] | None = None) -> list:
    """The empty traces of the layers of ``keys`` (all when None), in the order of :func:`trace_slots`."""
    return [trace for layer in draw_order(keys) for trace in layer.traces(layer)]


# ---------------------------------------------------------------------------------------------- picker and legend
def layer_options(lang: str, keys: Sequence[str] | None = None) -> list[dict]:
    """The layer picker's options (label in ``lang``, value = key) for ``keys`` (all when None)."""
    return [{"label": t(BY_KEY[k].label, lang), "value": k} for k in (layer_keys(list(keys)) if keys is not None else LAYER_KEYS)]


def swatch(layer: MapLayer) -> html.Span:
    """The legend mark of a layer: a dot in its colour, a ring (alerts), the heat ramp or the four grades."""
    if layer.shape == "severity":
        return html.Span(className="legend-swatch severity", children=[
            html.Span(className="legend-dot", style={"background": SEVERITY_COLORS[s]}) for s in (1, 2, 3, 4)
        ])
    style = {"background": layer.swatch} if layer.shape in ("dot", "heat") else {"borderColor": layer.swatch}
    return html.Span(className=f"legend-swatch {layer.shape}", style=style)


def legend(on: Sequence[str], lang: str = "zh", switchable: bool = False) -> html.Div:
    """The map legend of the point layers in ``on``. ``switchable`` (the cockpit): every layer has an item,
    hidden while its layer is off (the picker shows and hides them in the browser), and its text follows
    the language switch; otherwise only the layers of ``on``, as static text."""
    shown = set(layer_keys(list(on)))
    keys = LAYER_KEYS if switchable else [k for k in LAYER_KEYS if k in shown]
    items = []
    for key in keys:
        layer = BY_KEY[key]
        text = label(layer.label, lang, className="legend-label") if switchable else html.Span(
            t(layer.label, lang), className="legend-label")
        props = {"id": ids.legend_item(key)} if switchable else {}
        items.append(html.Div(
            className="legend-item", **{"data-layer": key}, **props,
            style=None if key in shown else {"display": "none"},
            children=[swatch(layer), text],
        ))
    return html.Div(className="map-legend", children=items)


def area_names_trace() -> go.Scattermap:
    """The hidden trace whose points are the names drawn on the map (assets/map_labels.js draws them as
    HTML positioned with MapLibre's ``project``: no glyphs, nothing fetched)."""
    return go.Scattermap(lon=[], lat=[], text=[], mode="markers", name=AREA_NAMES, uid=AREA_NAMES, visible=False,
                         hoverinfo="skip", customdata=[])


AREA_NAMES = "area-names"  # name and uid of the names trace (the browser script finds it by uid)
