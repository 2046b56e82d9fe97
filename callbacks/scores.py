"""Composite scores on the cockpit (docs/SCORES.md): the pseudo-indicators ``score.overall`` and
``score.<theme>`` that the map, the URL and the indicator selector treat like any indicator, the map rows
and colours of a score, and the selected area's score title with what pulls it down.

Plain functions of the services: the cockpit's render callback calls them, tests call them directly."""

from __future__ import annotations

from datetime import date

from dash import Patch, html

from callbacks.services import Services
from callbacks.state import ViewState, to_search
from datasources.scores import OVERALL, score_code, score_explanation, score_key
from layouts.i18n import pick, t
from layouts.map_figure import T_VALUES
from layouts.scores import explanation_panel, score_colorscale, score_text, score_title

#: The score's colour bar is shorter than an indicator's: the panel of what pulls the score down hangs under
#: the area's title in the map's top right corner, above it.
SCORE_COLORBAR_LEN = 0.36

__all__ = ["OVERALL", "area_title", "paint_map", "score_indicators", "score_key", "score_rows"]


def score_indicators(services: Services) -> list[dict]:
    """The scores as indicator-like rows (code, names, unit, polarity…): the overall score, then one per
    theme of the catalog in its order; none when the catalog has no theme (nothing to score)."""
    themes = [p for p in services.cached("pages") if p["kind"] == "theme"]
    if not themes:
        return []
    rows = [_pseudo(OVERALL, t("score.overall", "zh"), t("score.overall", "en"))]
    rows += [_pseudo(p["id"], t("score.theme", "zh", theme=p["name_zh"]), t("score.theme", "en", theme=p["name_en"] or p["name_zh"]))
             for p in themes]
    return rows


def _pseudo(key: str, name_zh: str, name_en: str) -> dict:
    return {"code": score_code(key), "score_key": key, "name_zh": name_zh, "name_en": name_en, "theme": "score",
            "unit": t("score.unit", "zh"), "unit_en": t("score.unit", "en"), "polarity": 1, "headline": False,
            "warn": None, "alarm": None, "level": None}


def score_rows(services: Services, key: str, area: str, period: date) -> list[dict]:
    """The map's rows for a score: every child of ``area`` (or the area itself when it has none) with its
    ``key`` score as ``value``, its rank (1 = best; ties share a rank; none without a score) and how many
    of the indicators that apply had data. Shaped like ``Repository.child_values``'s rows."""
    rows = services.cached("child_scores", area, period)
    values = [r["scores"].get(key) for r in rows]
    out = []
    for r, v in zip(rows, values, strict=True):
        n, n_all = r["counts"].get(key, [0, 0])
        out.append({"code": r["code"], "name": r["name"], "name_en": r["name_en"], "value": v, "previous": None,
                    "rank": None if v is None else 1 + sum(1 for o in values if o is not None and o > v),
                    "coverage": (n, n_all)})
    return out


def paint_map(fig: Patch, rows: list[dict], ind: dict, lang: str) -> None:
    """Make the map's values trace show a score: a fixed 0–100 bad-to-good scale and a hover with the
    score, the rank and what it is made of (the indicators with data for a theme, the themes for the
    overall score)."""
    n = len(rows)
    trace = fig["data"][T_VALUES]
    trace["colorscale"] = score_colorscale()
    trace["zauto"] = False
    trace["zmin"] = 0
    trace["zmax"] = 100
    trace["colorbar"]["len"] = SCORE_COLORBAR_LEN
    trace["customdata"] = [
        [pick(lang, r["name"], r["name_en"]), score_text(r["value"]), f"{r['rank']}/{n}" if r["rank"] else "–",
         f"{r['coverage'][0]}/{r['coverage'][1]}"]
        for r in rows
    ]
    what = t("score.themes_scored", lang) if ind["score_key"] == OVERALL else t("score.coverage_short", lang)
    trace["hovertemplate"] = (
        f"<b>%{{customdata[0]}}</b><br>{pick(lang, ind['name_zh'], ind['name_en'])}: %{{customdata[1]}} {t('score.unit', lang)}"
        f"<br>{t('rank', lang)}: %{{customdata[2]}}<br>{what}: %{{customdata[3]}}<extra></extra>"
    )


def area_title(services: Services, state: ViewState, region: dict, ind: dict, error_text: str | None = None) -> list:
    """The selected area's score like a KPI (number coloured by its band, coverage) and the compact panel of
    the indicators and sub-areas that pull it down (sub-areas link to their own view)."""
    lang, key, period = state.lang, ind["score_key"], state.period_date()
    # From the cached reads the map used too (the children's scores), not Repository.score_explanation's own.
    children = services.cached("child_scores", state.area, period) if region["n_children"] else []
    expl = score_explanation(key, services.cached("score_points", state.area, period), children)
    expl = expl | {"children": [c | {"href": "/" + to_search(state.with_(area=c["code"]))} for c in expl["children"]]}
    coverage = (expl["n_scored"], expl["n_applicable"]) if expl["n_applicable"] else None
    parts = score_title(pick(lang, region["name"], region["name_en"]), pick(lang, ind["name_zh"], ind["name_en"]),
                        expl["score"], coverage, lang)
    if error_text:
        parts.append(html.Span(error_text, className="area-error"))
    if expl["n_applicable"]:
        parts.append(explanation_panel(expl, lang))
    return parts
