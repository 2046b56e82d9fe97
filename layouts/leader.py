"""The leader's story at a glance (issue 11 item 6): the open-alert panel beside the map and the texts of
the KPI cards' sub-area badges. Pure functions; the data comes from ``callbacks.leader``."""

from __future__ import annotations

from dash import dcc, html

from layouts import ids
from layouts.i18n import pick, t
from layouts.shell import label

SEVERITIES = (1, 2, 3, 4)


def alert_panel(lang: str = "zh") -> html.Aside:
    """The empty alert panel (counts per grade, then the list); ``callbacks.leader`` fills it."""
    return html.Aside(className="alert-rail", children=[
        label("leader.alerts", lang, tag=html.H2, className="panel-title alert-rail-title"),
        html.Div(id=ids.ALERT_PANEL, className="alert-panel"),
    ])


def alert_panel_body(counts: dict[int, int], items: list[dict], lang: str, href: dict[str, str], now: bool = False) -> list:
    """Counts of the open alerts per grade I–IV, then the alerts (most severe grade first, newest first
    within a grade), each a link to its area (``href``: region code -> URL of that area's view).
    ``items`` are rows of ``Repository.open_alerts`` with ``text`` (see :func:`layouts.alert_text.alert_summary`) added. ``now``:
    a past period is on screen, and the panel says that its alerts are the ones open now."""
    chips = html.Div(className="alert-counts", children=[
        html.Div(className=f"alert-count sev-{s}" + (" zero" if not counts.get(s) else ""), children=[
            html.Span(f"{counts.get(s, 0):,}", className="alert-count-n"),
            html.Span(t(f"leader.grade.{s}", lang), className="alert-count-label"),
        ], title=t(f"severity.{s}", lang))
        for s in SEVERITIES
    ])
    if now:
        chips = html.Div([html.Div(t("leader.alerts.now", lang), className="alert-now"), chips])
    if not items:
        return [chips, html.Div(t("leader.alerts.none", lang), className="alert-none")]
    rows = [
        html.Div(className=f"alert-item sev-{a['severity']}", **{"data-area": a["region_code"], "data-severity": str(a["severity"])},
                 children=dcc.Link(href=href.get(a["region_code"], "/"), className="alert-link", children=[
                     html.Span(className="alert-item-head", children=[
                         html.B(pick(lang, a["region_name"], a.get("region_name_en") or ""), className="alert-area"),
                         html.Span(f"{a['started_at']:%m-%d %H:%M}" if a.get("started_at") else "", className="alert-time"),
                     ]),
                     html.Span(a["text"], className="alert-text"),
                 ]))
        for a in items
    ]
    total = sum(counts.values())
    more = total - len(items)
    return [
        chips,
        html.Div(rows, className="alert-list", **{"data-total": str(total)}),
        # The browser hides the items the panel has no room for and counts them here (assets/leader.js).
        html.Div(t("leader.alerts.more", lang, n=f"{more:,}") if more > 0 else "", className="alert-more",
                 **{"data-more": str(max(more, 0)), "data-template": t("leader.alerts.more", lang, n="{n}")}),
    ]


def breach_text(breach: dict[str, int] | None, level: int, lang: str) -> tuple[str, str, str]:
    """Text, CSS class and tooltip of a card's sub-area badge: how many children of the area (of
    ``level``) are at warning or alarm for the card's indicator; empty when none."""
    if not breach or not (breach["warn"] + breach["alarm"]):
        return "", "kpi-breach", ""
    n = breach["warn"] + breach["alarm"]
    word = t(f"leader.level.{level}", lang) if f"leader.level.{level}" in _LEVEL_KEYS else t("leader.level.other", lang)
    tone = "alarm" if breach["alarm"] else "warn"
    total = breach.get("children", n)
    plural = word if lang != "en" or total == 1 else (word[:-1] + "ies" if word.endswith("y") else word + "s")
    title = t("leader.breach.title", lang, n=n, total=total, level=plural, warn=breach["warn"], alarm=breach["alarm"])
    return t("leader.breach", lang, n=n, level=word), f"kpi-breach {tone}", title


_LEVEL_KEYS = frozenset({"leader.level.1", "leader.level.2"})
