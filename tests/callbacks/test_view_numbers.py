"""Numbers the KPI cards and the map draw, from pure layout functions (layouts/kpi.py, layouts/map_figure.py)."""

from __future__ import annotations

import math

import pytest

from layouts.kpi import STATUS_COLORS, card, change_text, format_value, sparkline_src
from layouts.map_figure import colorscale, geojson_url, layer_options, view_for_bounds

RED, GREEN = "#d7301f", "#1a9850"
SVG_HEAD = "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg'"

# ---------------------------------------------------------------------------------------------- format_value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "–"),
        (float("nan"), "–"),
        (0, "0"),
        (0.0, "0"),
        (5, "5"),
        (81.0, "81"),  # an integral float has no decimals
        (120.0, "120"),
        (1000, "1,000"),  # exactly 1000: thousands separator, no decimals
        (1234.5, "1,234"),  # >= 1000: no decimals (1234.5 rounds half to even)
        (1234.6, "1,235"),
        (-1234.6, "-1,235"),
        (1_000_000.0, "1,000,000"),
        (1000.4, "1,000"),  # just above 1000: still no decimals
        (999.94, "999.9"),  # 100..1000: one decimal
        (999.96, "1,000"),  # rounds up to 1000.0: shown like other thousands
        (123.45, "123.5"),
        (100.5, "100.5"),
        (100.44, "100.4"),  # from 100 on: one decimal, not two
        (-123.44, "-123.4"),
        (99.99, "99.99"),  # below 100: up to two decimals
        (90.625, "90.62"),
        (12.3, "12.3"),  # trailing zeros dropped
        (12.301, "12.3"),
        (0.5, "0.5"),
        (-12.5, "-12.5"),
        (-0.004, "0"),  # rounds to zero: no "-0"
        (0.004, "0"),
        (0.006, "0.01"),
    ],
)
def test_format_value_shows_thousands_and_at_most_two_decimals(value, text):
    assert format_value(value) == text


def test_format_value_ignores_the_unit():
    assert format_value(1234.5, "万元") == "1,234"


# ---------------------------------------------------------------------------------------------- change_text


def test_kpi_change_of_higher_is_better_indicator_rising_is_green():
    # Retail sales 100 -> 120: (120 - 100) / 100 = +20.0 %
    assert change_text(0.2, 1, "环比") == ("环比 ▲20.0%", "kpi-change good")


def test_kpi_change_of_higher_is_better_indicator_falling_is_red():
    # 150 -> 120: (120 - 150) / 150 = -20.0 %
    assert change_text(-0.2, 1, "同比") == ("同比 ▼20.0%", "kpi-change bad")


def test_kpi_change_of_lower_is_better_indicator_falling_is_green():
    # PM2.5 40 -> 30: (30 - 40) / 40 = -25.0 %
    assert change_text(-0.25, -1, "MoM") == ("MoM ▼25.0%", "kpi-change good")


def test_kpi_change_of_lower_is_better_indicator_rising_is_red():
    # PM2.5 35 -> 55: 20 / 35 = +57.14… % shown with one decimal
    assert change_text(20 / 35, -1, "MoM") == ("MoM ▲57.1%", "kpi-change bad")


def test_kpi_change_that_is_zero_or_unknown_is_flat():
    assert change_text(0.0, 1, "MoM") == ("MoM ■0.0%", "kpi-change flat")
    assert change_text(0.0, -1, "YoY") == ("YoY ■0.0%", "kpi-change flat")
    assert change_text(None, 1, "MoM") == ("MoM –", "kpi-change flat")
    assert change_text(None, -1, "YoY") == ("YoY –", "kpi-change flat")


def test_kpi_change_rounds_to_one_decimal_of_a_percent():
    assert change_text(-0.10621, 1, "MoM")[0] == "MoM ▼10.6%"  # (81 - 90.625) / 90.625
    assert change_text(-0.6923, 1, "MoM")[0] == "MoM ▼69.2%"  # (20 - 65) / 65
    assert change_text(1.5, 1, "YoY")[0] == "YoY ▲150.0%"


# ---------------------------------------------------------------------------------------------- sparkline


def test_sparkline_scales_values_into_the_box_with_three_pixel_margins():
    # City retail sales Aug..Oct = 96, 100, 120: lo 96, span 24, n = 2 steps over 120 - 6 = 114 px.
    # x = 3, 3 + 114/2 = 60, 3 + 114 = 117; y = 28 - 3 - (v - 96) / 24 * 22 = 25, 21.33 -> 21, 3.
    src = sparkline_src([96, 100, 120], STATUS_COLORS["ok"])
    assert src == (
        f"{SVG_HEAD} width='120' height='28'><polyline fill='none' stroke='%2335d07f' stroke-width='2' "
        "points='3,25 60,21 117,3'/><circle cx='117' cy='3' r='2.5' fill='%2335d07f'/></svg>"
    )


def test_sparkline_keeps_gaps_in_place_and_skips_missing_values():
    # Four slots (n = 3 steps of 38 px), values at slots 1 and 3: x = 3 + 38 = 41 and 3 + 114 = 117.
    src = sparkline_src([None, 1.0, None, 3.0])
    assert "points='41,25 117,3'" in src
    assert "<circle cx='117' cy='3' r='2.5' fill='%234da3ff'/>" in src  # default colour, '#' escaped


def test_sparkline_of_a_flat_series_is_a_line_at_the_bottom():
    assert "points='3,25 117,25'" in sparkline_src([5.0, 5.0])  # span 0 counts as 1: (5 - 5) / 1 = 0


def test_sparkline_of_a_falling_series_ends_at_the_bottom():
    # 65 -> 20: lo 20, span 45: y = 25 - 45/45 * 22 = 3, then 25.
    assert "points='3,3 117,25'" in sparkline_src([65.0, 20.0])


def test_sparkline_follows_a_custom_size():
    # width 60, height 20: x = 3 and 3 + 54 = 57; y = 20 - 3 = 17 and 17 - 14 = 3.
    src = sparkline_src([1.0, 2.0], "#ff4d4f", width=60, height=20)
    assert src.startswith(f"{SVG_HEAD} width='60' height='20'>")
    assert "stroke='%23ff4d4f'" in src and "points='3,17 57,3'" in src


def test_sparkline_needs_two_values():
    assert sparkline_src([]) == f"{SVG_HEAD} width='120' height='28'/>"
    assert sparkline_src([42.0]) == f"{SVG_HEAD} width='120' height='28'/>"
    assert sparkline_src([None, 42.0, None]) == f"{SVG_HEAD} width='120' height='28'/>"


def test_status_colours():
    assert STATUS_COLORS == {"ok": "#35d07f", "warn": "#f5b83d", "alarm": "#ff4d4f", "none": "#4da3ff"}


# ---------------------------------------------------------------------------------------------- colour scale


def test_colour_scale_of_higher_is_better_runs_from_red_low_to_green_high():
    assert colorscale(1) == [[0.0, RED], [0.35, "#fc8d59"], [0.6, "#fee08b"], [0.8, "#91cf60"], [1.0, GREEN]]


def test_colour_scale_of_lower_is_better_is_mirrored_green_low_to_red_high():
    scale = colorscale(-1)
    # positions 1 - p of the reversed stops: 1 - 1.0, 1 - 0.8, 1 - 0.6, 1 - 0.35, 1 - 0.0
    assert [c for _, c in scale] == [GREEN, "#91cf60", "#fee08b", "#fc8d59", RED]
    assert [p for p, _ in scale] == pytest.approx([0.0, 0.2, 0.4, 0.65, 1.0])


# ---------------------------------------------------------------------------------------------- map view


def test_view_of_the_whole_mercator_world_in_one_tile_is_zoom_zero():
    # 512 px of map (560 - 2 * 24 padding) hold 360° of longitude and the whole Mercator square
    # (|lat| <= 85.0511°, y = ±π): zoom = log2(512 / 512) = 0 on both axes; centre (0, 0).
    center, zoom = view_for_bounds((-180.0, -85.0511287798, 180.0, 85.0511287798), 560, 560, 24)
    assert center["lon"] == pytest.approx(0.0) and center["lat"] == pytest.approx(0.0, abs=1e-9)
    assert zoom == pytest.approx(0.0, abs=1e-6)


def test_view_of_a_wide_area_is_limited_by_its_width():
    # Test City: lon 103–104, lat 31–31.5 in 1000 x 760 px with 24 px padding: 952 x 712 px usable.
    # zoom_x = log2(952 / (512 * 1 / 360)) = log2(669.375) = 9.386…
    y1, y2 = (math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) for lat in (31.0, 31.5))
    zoom_y = math.log2(712 / (512 * (y2 - y1) / (2 * math.pi)))  # 9.74: room to spare vertically
    center, zoom = view_for_bounds((103.0, 31.0, 104.0, 31.5))
    assert zoom == pytest.approx(math.log2(669.375)) and zoom == pytest.approx(9.3867, abs=1e-4)
    assert zoom < zoom_y
    assert center["lon"] == pytest.approx(103.5)
    # the Mercator middle of 31–31.5 lies a little north of 31.25
    assert center["lat"] == pytest.approx(math.degrees(2 * math.atan(math.exp((y1 + y2) / 2)) - math.pi / 2))
    assert 31.25 < center["lat"] < 31.2510


def test_view_of_a_tall_area_is_limited_by_its_height():
    # lon 103.0–103.1 (0.1°), lat 30–32 in 1000 x 760 px: zoom_x = log2(952 * 3600 / 512) = 12.7…,
    # zoom_y = log2(712 * 2π / (512 * (y(32) - y(30)))) = 7.745: the smaller wins.
    y1, y2 = (math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) for lat in (30.0, 32.0))
    center, zoom = view_for_bounds((103.0, 30.0, 103.1, 32.0))
    assert zoom == pytest.approx(math.log2(712 / (512 * (y2 - y1) / (2 * math.pi))))
    assert zoom == pytest.approx(7.745, abs=1e-3)
    assert center["lon"] == pytest.approx(103.05)


def test_view_follows_the_measured_map_size_and_padding():
    # 2000 x 1000 px, padding 0: zoom_x = log2(2000 * 360 / 512) = log2(1406.25)
    _, zoom = view_for_bounds((103.0, 31.0, 104.0, 31.5), 2000, 2000, 0)
    assert zoom == pytest.approx(math.log2(1406.25))
    # a map narrower than its padding still gets 50 px: log2(50 * 360 / 512)
    _, zoom = view_for_bounds((103.0, 31.0, 104.0, 31.5), 40, 760)
    assert zoom == pytest.approx(math.log2(50 * 360 / 512))
    _, zoom = view_for_bounds((103.0, 30.0, 103.1, 32.0), 1000, 40)
    y1, y2 = (math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) for lat in (30.0, 32.0))
    assert zoom == pytest.approx(math.log2(50 / (512 * (y2 - y1) / (2 * math.pi))))


def test_view_of_a_single_point_is_finite():
    # zero-size bounds fall back to a 1e-6° width and a 1e-9 Mercator height
    center, zoom = view_for_bounds((103.5, 31.25, 103.5, 31.25))
    assert center == {"lon": pytest.approx(103.5), "lat": pytest.approx(31.25)}
    assert zoom == pytest.approx(math.log2(952 / (512 * 1e-6 / 360)))  # 30.3: width's floor is the limit


# ---------------------------------------------------------------------------------------------- skeletons


PM25 = {"code": "env_pm25", "name_zh": "PM2.5浓度", "name_en": "PM2.5", "unit": "μg/m³", "unit_en": "ug/m3",
        "description": "细颗粒物月均浓度"}


def _tree(component) -> dict:
    """A component as {type, props, children} with children expanded, for exact comparison."""
    props = component.to_plotly_json()["props"]
    kids = props.pop("children", None)
    if isinstance(kids, list):
        kids = [_tree(k) for k in kids]
    elif kids is not None and not isinstance(kids, str):
        kids = _tree(kids)
    return {"type": type(component).__name__, "props": props, "children": kids}


def _id(part: str) -> dict:
    return {"type": f"kpi-{part}", "code": "env_pm25", part: 0}  # the part is a key of its own (layouts.ids.kpi)


def test_kpi_card_skeleton_names_the_indicator_in_the_chosen_language():
    expected_zh = {
        "type": "Div",
        "props": {"id": _id("card"), "n_clicks": 0, "className": "kpi-card status-none", "title": "细颗粒物月均浓度"},
        "children": [
            {"type": "Div", "props": {"className": "kpi-head"}, "children": [
                {"type": "Span", "props": {"id": _id("name"), "className": "kpi-name"}, "children": "PM2.5浓度"},
                {"type": "Span", "props": {"id": _id("breach"), "className": "kpi-breach"}, "children": ""},
                {"type": "Span", "props": {"id": _id("fresh"), "className": "kpi-fresh"}, "children": ""},
            ]},
            {"type": "Div", "props": {"className": "kpi-body"}, "children": [
                {"type": "Span", "props": {"id": _id("value"), "className": "kpi-value"}, "children": "–"},
                {"type": "Span", "props": {"id": _id("unit"), "className": "kpi-unit"}, "children": "μg/m³"},
                {"type": "Img", "props": {"id": _id("spark"), "className": "kpi-spark", "alt": ""}, "children": None},
            ]},
            {"type": "Div", "props": {"className": "kpi-foot"}, "children": [
                {"type": "Span", "props": {"id": _id("change"), "className": "kpi-change"}, "children": ""},
                {"type": "Span", "props": {"id": _id("yoy"), "className": "kpi-change"}, "children": ""},
            ]},
        ],
    }
    assert _tree(card(PM25)) == expected_zh
    en = _tree(card(PM25, "en"))
    assert en["children"][0]["children"][0]["children"] == "PM2.5"
    assert en["children"][1]["children"][1]["children"] == "ug/m3"
    assert _tree(card({k: v for k, v in PM25.items() if k != "description"}))["props"]["title"] == ""


def test_layer_switches_and_geometry_urls():
    assert layer_options("en")[:4] == [
        {"label": "Event heat", "value": "heat"}, {"label": "Open events", "value": "open"},
        {"label": "Open alerts", "value": "alerts"}, {"label": "Cameras", "value": "camera"},
    ]
    assert [o["value"] for o in layer_options("zh")][-1] == "charging_station"
    assert layer_options("zh")[0] == {"label": "事件热力", "value": "heat"}
    assert len(layer_options("zh")) == 17
    assert geojson_url(2, 7) == "/geo/level-2.json?v=7&s=all"
    assert geojson_url(2, 7, "T1") == "/geo/level-2.json?v=7&s=T1"
