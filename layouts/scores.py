"""Composite scores on screen (method: docs/SCORES.md): the map's score colours, the score's KPI-like title
for the selected area and the compact panel that says what pulls it down. Pure functions of plain data."""

from __future__ import annotations

from dash import dcc, html

from datasources.rules import SCORE_ALARM, SCORE_MAX, SCORE_OK, score_status
from layouts.i18n import pick, t
from layouts.kpi import format_value


def score_colorscale() -> list[list]:
    """Bad (red) to good (green) over a fixed 0–100, with the colour steps on the status bands: red to
    orange below the alarm band's top, orange to yellow across 'warn', yellow to green across 'ok'."""
    alarm, ok = SCORE_ALARM / SCORE_MAX, SCORE_OK / SCORE_MAX
    return [[0.0, "#d7301f"], [alarm, "#fc8d59"], [ok, "#fee08b"], [(ok + 1) / 2, "#91cf60"], [1.0, "#1a9850"]]


def score_text(score: float | None) -> str:
    """A score as shown: one decimal, '–' without one."""
    return "–" if score is None else f"{score:.1f}"


def lost_text(points: float, lang: str) -> str:
    """Points a score loses to one indicator, one decimal ('<0.1' rather than a misleading 0.0)."""
    return t("score.lost", lang, points="<0.1" if points < 0.05 else f"{points:.1f}")


def score_title(area_name: str, score_name: str, score: float | None, coverage: tuple[int, int] | None, lang: str) -> list:
    """The selected area's score, shown like a KPI: area, which score, the number coloured by its band, and
    how many of the indicators that apply had data."""
    status = score_status(score)
    parts: list = [
        html.Span(area_name, className="area-name"),
        html.Span(score_name, className="area-indicator"),
        html.Div(className=f"score-headline status-{status}", children=[
            html.Span(score_text(score), className="score-value"), html.Span(t("score.unit", lang), className="score-unit"),
        ] if score is not None else [html.Span(t("score.none", lang), className="score-value")]),
    ]
    if coverage is not None:
        parts.append(html.Span(t("score.coverage", lang, n=coverage[0], m=coverage[1]), className="score-coverage"))
    return parts


def explanation_panel(expl: dict, lang: str) -> html.Div:
    """What pulls the score down (``datasources.scores.score_explanation``'s data; children may carry an
    ``href`` to drill into): the indicators that cost most points, with their value against the thresholds,
    and the lowest-scoring sub-areas."""
    rows: list = [html.Div(t("score.pulls_down", lang), className="score-why-title")]
    if expl["indicators"]:
        rows.append(html.Ul(className="score-why-list", children=[_indicator_row(r, lang) for r in expl["indicators"]]))
    elif expl["score"] is not None:
        rows.append(html.Div(t("score.full", lang), className="score-why-none"))
    if expl["missing"]:
        rows.append(html.Div(t("score.missing", lang, n=len(expl["missing"])), className="score-why-missing"))
    if expl["children"]:
        rows.append(html.Div(t("score.low_areas", lang), className="score-why-title"))
        rows.append(html.Ul(className="score-why-list", children=[_child_row(c, lang) for c in expl["children"]]))
    return html.Div(className="score-why", children=rows, **{"data-key": expl["key"]})


def _indicator_row(r: dict, lang: str) -> html.Li:
    unit = pick(lang, r["unit"], r["unit_en"])
    return html.Li(className=f"score-why-item status-{r['status']}", **{"data-code": r["code"]}, children=[
        html.Span(pick(lang, r["name_zh"], r["name_en"]), className="score-why-name"),
        html.Span(f"{format_value(r['value'])} {unit}".strip(), className="score-why-value"),
        html.Span(t("score.vs", lang, warn=format_value(r["warn"]), alarm=format_value(r["alarm"])), className="score-why-vs"),
        html.Span(lost_text(r["lost"], lang), className="score-why-lost"),
    ])


def _child_row(c: dict, lang: str) -> html.Li:
    name = pick(lang, c["name"], c["name_en"])
    label = dcc.Link(name, href=c["href"], className="score-why-name") if c.get("href") else html.Span(name, className="score-why-name")
    return html.Li(className=f"score-why-item status-{score_status(c['score'])}", **{"data-code": c["code"]}, children=[
        label, html.Span(score_text(c["score"]), className="score-why-value"),
    ])
