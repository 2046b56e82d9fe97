"""KPI cards: the skeleton built once per page, and the small pieces the callbacks fill in."""

from __future__ import annotations

import math
from collections.abc import Sequence

from dash import dcc, html

from datasources.rules import change_tone
from layouts import ids
from layouts.i18n import pick

STATUS_COLORS = {"ok": "#35d07f", "warn": "#f5b83d", "alarm": "#ff4d4f", "none": "#4da3ff"}


def card(indicator: dict, lang: str = "zh") -> html.Div:
    """An empty KPI card for one headline indicator; the cockpit callback fills in the numbers."""
    code = indicator["code"]
    return html.Div(
        id=ids.kpi("card", code),
        n_clicks=0,
        className="kpi-card status-none",
        title=indicator.get("description", ""),
        children=[
            html.Div(
                className="kpi-head",
                children=[
                    html.Span(pick(lang, indicator["name_zh"], indicator["name_en"]), id=ids.kpi("name", code), className="kpi-name"),
                    # Sub-areas at warning or alarm ("3 镇街告警", callbacks.leader); takes the period's place.
                    html.Span("", id=ids.kpi("breach", code), className="kpi-breach"),
                    html.Span("", id=ids.kpi("fresh", code), className="kpi-fresh"),
                ],
            ),
            html.Div(
                className="kpi-body",
                children=[
                    html.Span("–", id=ids.kpi("value", code), className="kpi-value"),
                    html.Span(pick(lang, indicator["unit"], indicator["unit_en"]), id=ids.kpi("unit", code), className="kpi-unit"),
                    html.Img(id=ids.kpi("spark", code), className="kpi-spark", alt=""),
                ],
            ),
            html.Div(
                className="kpi-foot",
                children=[
                    html.Span("", id=ids.kpi("change", code), className="kpi-change"),
                    html.Span("", id=ids.kpi("yoy", code), className="kpi-change"),
                ],
            ),
        ],
    )


def format_value(value: float | None, unit: str = "") -> str:
    """Headline number: thousands separators, at most two decimals, 万/亿 never invented."""
    if value is None or math.isnan(value):
        return "–"
    if abs(value) >= 1000 or float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.1f}".removesuffix(".0")  # 999.96 rounds to "1,000", not "1,000.0"
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text  # -0.004 is "0", not "-0"


def change_text(change: float | None, polarity: int, label: str) -> tuple[str, str]:
    """Text and CSS class of a change: the arrow follows the sign, the colour follows the polarity
    (a fall in a lower-is-better indicator is good news, shown green)."""
    if change is None:
        return f"{label} –", "kpi-change flat"
    arrow = "▲" if change > 0 else "▼" if change < 0 else "■"
    return f"{label} {arrow}{abs(change) * 100:.1f}%", f"kpi-change {change_tone(change, polarity)}"


def grade_change_text(value: float | None, other: float | None, polarity: int, label: str, unit: str) -> tuple[str, str]:
    """Text and CSS class of the change of a category indicator (a grade such as a warning level): the
    difference in grades ("环比 ▲1级"), never a percentage; the colour follows the polarity."""
    if value is None or other is None:
        return f"{label} –", "kpi-change flat"
    diff = value - other
    arrow = "▲" if diff > 0 else "▼" if diff < 0 else "■"
    sep = " " if unit and unit.isascii() else ""
    return f"{label} {arrow}{format_value(abs(diff))}{sep}{unit}", f"kpi-change {change_tone(diff, polarity)}"


SPARK_HEAD = "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='120' height='28'"


def sparkline_points(values: Sequence[float | None], width: int = 120, height: int = 28) -> str:
    """The polyline of a sparkline ("x,y x,y …", integer pixels), empty below two values."""
    pts = [(k, v) for k, v in enumerate(values) if v is not None]
    if len(pts) < 2:
        return ""
    lo = min(v for _, v in pts)
    span = (max(v for _, v in pts) - lo) or 1.0
    n = max(len(values) - 1, 1)
    return " ".join(f"{round(k * (width - 6) / n + 3)},{round(height - 3 - (v - lo) / span * (height - 6))}" for k, v in pts)


def spark_uri(points: str, color: str, head: str = SPARK_HEAD) -> str:
    """The data URI of a sparkline's points in ``color`` (a dot on the last point). The cockpit's browser
    builds the same string from the points and the colour (callbacks/cockpit.py): keep the two alike."""
    if not points:
        return head + "/>"
    x, y = points.rsplit(" ", 1)[-1].split(",")
    color = color.replace("#", "%23")
    return (f"{head}><polyline fill='none' stroke='{color}' stroke-width='2' points='{points}'/>"
            f"<circle cx='{x}' cy='{y}' r='2.5' fill='{color}'/></svg>")


def sparkline_src(values: Sequence[float | None], color: str = "#4da3ff", width: int = 120, height: int = 28) -> str:
    """A tiny inline SVG polyline as a data URI: no request leaves the page, no plotly graph per card.
    Integer coordinates and single quotes keep it ~250 bytes (only '#' needs escaping)."""
    head = f"data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'"
    return spark_uri(sparkline_points(values, width, height), color, head)


def linked_card(parts: dict, href: str, title: str = "") -> dcc.Link:
    """A filled KPI card (no ids: a theme or topic page redraws its cards whole) that links to ``href``
    (the view with this card's indicator picked). ``parts`` holds one card's entries of the cockpit's
    ``kpi_parts`` (value, unit, name, change, yoy, spark, fresh, card)."""
    return dcc.Link(
        href=href, className=parts["card"] + " kpi-link", title=title,
        children=[
            html.Div(className="kpi-head", children=[
                html.Span(parts["name"], className="kpi-name"), html.Span(parts["fresh"], className="kpi-fresh"),
            ]),
            html.Div(className="kpi-body", children=[
                html.Span(parts["value"], className="kpi-value"), html.Span(parts["unit"], className="kpi-unit"),
                html.Img(src=parts["spark"], className="kpi-spark", alt=""),
            ]),
            html.Div(className="kpi-foot", children=[
                html.Span(parts["change"]["children"], className=parts["change"]["className"]),
                html.Span(parts["yoy"]["children"], className=parts["yoy"]["className"]),
            ]),
        ],
    )
