"""The map-layer registry: every declared layer is complete (labels in both languages, traces, a data
query), and the figures, the picker, the legend and the URL all follow the one list."""

from __future__ import annotations

import json

import pytest

from callbacks.map_layers import FILLERS
from datasources.catalog_loader import LAYER_KEYS as CATALOG_LAYER_KEYS
from layouts.i18n import MESSAGES
from layouts.map_figure import (
    T_ALERT_CORE,
    T_ALERT_HALO,
    T_CONTEXT,
    T_FACILITY,
    T_HEAT,
    T_NAMES,
    T_OPEN,
    T_VALUES,
    base_figure,
)
from layouts.map_layers import (
    AREA_NAMES,
    BY_KEY,
    DEFAULT_LAYERS,
    FACILITY_KINDS,
    LAYER_KEYS,
    LAYERS,
    draw_order,
    layer_keys,
    layer_options,
    legend,
    trace_slots,
)

TOPIC_KINDS = ("rain_gauge", "river_station", "risk_point", "rescue_team", "charging_station")


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.key)
def test_every_layer_has_labels_traces_and_a_query(layer):
    label = MESSAGES[layer.label]
    assert label["zh"] and label["en"] and label["zh"] != label["en"]
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in label["en"]), "an English label holds Chinese"
    assert layer.source.query in FILLERS
    assert (layer.source.kind == layer.key) == (layer.source.query == "facilities")
    traces = layer.traces(layer)
    assert traces and all(tr.type in ("scattermap", "densitymap") for tr in traces)
    assert layer.swatch and layer.shape in ("dot", "ring", "heat", "severity")


def test_keys_are_unique_and_the_catalog_knows_every_one():
    assert len(LAYER_KEYS) == len(set(LAYER_KEYS)) == len(LAYERS) == 17
    assert tuple(CATALOG_LAYER_KEYS) == LAYER_KEYS  # modes.csv may name any of them
    assert set(TOPIC_KINDS) <= set(FACILITY_KINDS)
    assert DEFAULT_LAYERS == ("heat", "open", "alerts")
    assert len({BY_KEY[k].swatch for k in FACILITY_KINDS}) == len(FACILITY_KINDS)  # one colour per kind


def test_the_cockpit_figure_holds_the_traces_in_registry_order():
    data = base_figure().to_plotly_json()["data"]
    names = [tr.get("name") for tr in data]
    assert names[T_CONTEXT] == "context" and names[T_VALUES] == "values"
    slots = trace_slots()
    for key, idx in slots.items():
        assert [names[i] for i in idx][-1] == key  # a layer's own trace last (alert halos under the core)
    # heat and open events first, then the facilities in registry order, the alerts on top, then the names
    assert (T_HEAT, T_OPEN) == (2, 3)
    assert [T_FACILITY[k] for k in FACILITY_KINDS] == list(range(4, 4 + len(FACILITY_KINDS)))
    assert list(T_ALERT_HALO.values()) == [4 + len(FACILITY_KINDS), 5 + len(FACILITY_KINDS)]
    assert 6 + len(FACILITY_KINDS) == T_ALERT_CORE and data[T_ALERT_CORE]["uid"] == "alert-core"
    assert len(data) - 1 == T_NAMES and data[T_NAMES]["uid"] == AREA_NAMES and data[T_NAMES]["visible"] is False
    # the default layers start visible, the others hidden
    assert {names[i] for i, tr in enumerate(data[2:T_NAMES], 2) if tr["visible"]} == {"heat", "open", "alerts", "alert-halo-1", "alert-halo-2"}


def test_a_topic_map_holds_only_its_layers_and_stays_offline():
    keys = ["risk_point", "shelter", "rescue_team", "alerts"]
    fig = base_figure(layers=keys).to_plotly_json()
    names = [tr.get("name") for tr in fig["data"]]
    # registry order, the alerts on top: shelter comes before risk_point in the registry
    assert names == ["context", "values", "shelter", "risk_point", "rescue_team", "alert-halo-1", "alert-halo-2", "alerts",
                     AREA_NAMES]
    assert trace_slots(keys) == {"shelter": [2], "risk_point": [3], "rescue_team": [4], "alerts": [5, 6, 7]}
    assert "http" not in json.dumps(fig)


@pytest.mark.parametrize(("value", "keys"), [
    ("risk_point shelter rescue_team", ["shelter", "risk_point", "rescue_team"]),
    ("camera,heat,camera", ["heat", "camera"]),
    (["open", "nope", 3, None], ["open"]),
    ("<script>alert(1)</script>", []),
    ("", []),
    (None, []),
    (42, []),
    ({"heat": 1}, []),
])
def test_layer_keys_keep_known_keys_in_registry_order(value, keys):
    assert layer_keys(value) == keys


def test_draw_order_puts_the_alerts_last():
    assert [layer.key for layer in draw_order(["alerts", "camera", "heat"])] == ["heat", "camera", "alerts"]


def test_picker_and_legend_follow_the_registry():
    assert [o["value"] for o in layer_options("en")] == list(LAYER_KEYS)
    assert layer_options("en", ["risk_point", "x"]) == [{"label": "Risk points", "value": "risk_point"}]
    static = legend(["camera", "alerts", "bogus"], "en").to_plotly_json()["props"]["children"]
    assert [item.to_plotly_json()["props"]["data-layer"] for item in static] == ["alerts", "camera"]
    texts = [item.children[1].children for item in static]
    assert texts == ["Open alerts", "Cameras"]
    switchable = legend(["camera"], "zh", switchable=True).children
    assert len(switchable) == len(LAYERS)
    shown = [item.to_plotly_json()["props"]["data-layer"] for item in switchable if item.style is None]
    assert shown == ["camera"]
