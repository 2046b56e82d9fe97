"""What the drill-down benchmarks (``bench/drilldown.py``, ``bench/scale.py``) share: a cockpit app on a
database, one drill-down as the browser receives it, and percentiles."""

from __future__ import annotations

import plotly.io as pio

from app import create_app
from callbacks.cockpit import cockpit_view

LAYERS = ["heat", "open"]


def pct(values: list[float], q: float) -> float:
    """q-th percentile (nearest rank) of a list of numbers."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s)) - 1))]


def serialise(view: dict) -> bytes:
    """The callback's outputs as Dash serialises them (plotly's JSON encoder)."""
    parts = [view["figure"], view["breadcrumb"], view["area_title"], view["state"].indicator,
             view["state"].period, view["event_stats"], view["kpi"]]
    return pio.json.to_json_plotly(parts).encode()


def cockpit_app(url: str, cache_type: str):  # noqa: ANN201 - (Dash app, Services, list of codes)
    """A new app on ``url`` with the given result cache, its services, and the headline indicator codes the
    cockpit shows (read from the repository, not through the cache, so that a new app's cache stays empty)."""
    app = create_app({"database_url": url, "cache_type": cache_type})
    services = app.server.config["IOC_SERVICES"]
    return app, services, [i["code"] for i in services.repo.indicators() if i["headline"]]


def drill(services, codes: list[str], area: str) -> bytes:  # noqa: ANN001
    """One drill-down to ``area``: the cockpit callback body plus the serialisation of its outputs."""
    return serialise(cockpit_view(services, f"?area={area}", LAYERS, codes))
