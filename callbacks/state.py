"""The view state that lives in the URL (``?area=…&indicator=…&period=…&mode=…&lang=…&layers=…``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from urllib.parse import parse_qs, urlencode

from callbacks import inputs
from layouts.map_layers import layer_keys

MODES = ("daily", "flood", "holiday", "epidemic", "emergency")
#: An area parameter that is not a code at all: kept as a value no region has, so the screen says
#: "unknown area" instead of silently showing the city.
INVALID_AREA = "?"


@dataclass(frozen=True)
class ViewState:
    """One bookmarkable view. Empty strings mean 'the default'."""

    area: str = ""
    indicator: str = ""
    period: str = ""  # YYYY-MM
    mode: str = "daily"
    lang: str = "zh"
    layers: str = ""  # map layer keys joined by commas, registry order; empty: the mode's layers

    def layer_list(self) -> list[str] | None:
        """The map layers the URL names, or None when it names none (the mode's defaults apply)."""
        return self.layers.split(",") if self.layers else None

    def with_(self, **changes: str) -> ViewState:
        """A copy with some fields replaced."""
        return replace(self, **changes)

    def period_date(self) -> date | None:
        """The period as the first day of its month, or None when unset or malformed."""
        try:
            y, m = self.period.split("-")[:2]
            return date(int(y), int(m), 1)
        except ValueError:
            return None


def parse_search(search: str | None) -> ViewState:
    """Read a view state from a URL query string; unknown or malformed parameters fall back to defaults.
    Any value (also a non-string, a NUL, a lone surrogate or megabytes of text) gives a valid state."""
    raw = inputs.text(search)
    if search and isinstance(search, str) and not raw:  # NULs, lone surrogates, megabytes: a bad address
        return ViewState(area=INVALID_AREA)
    try:
        q = {k: v[-1] for k, v in parse_qs(raw.lstrip("?"), max_num_fields=32).items()}
    except ValueError:  # more fields than any view has
        return ViewState(area=INVALID_AREA)
    mode = q.get("mode", "daily")
    lang = q.get("lang", "zh")
    period = q.get("period", "")
    area = q.get("area", "")
    return ViewState(
        area=area if not area or inputs.code(area) else INVALID_AREA,
        indicator=inputs.code(q.get("indicator")) or "",
        period=period if re.fullmatch(r"\d{4}-\d{2}", period) else "",
        mode=mode if mode in MODES else "daily",
        lang=lang if lang in ("zh", "en") else "zh",
        layers=",".join(layer_keys(q.get("layers", ""))),  # unknown keys dropped; none left: the default
    )


def to_search(state: ViewState) -> str:
    """The query string of a view state (defaults left out, stable order)."""
    parts = {"area": state.area, "indicator": state.indicator, "period": state.period}
    if state.mode != "daily":
        parts["mode"] = state.mode
    if state.lang != "zh":
        parts["lang"] = state.lang
    parts["layers"] = state.layers
    return "?" + urlencode({k: v for k, v in parts.items() if v}, safe=",")


def is_past_period(period: date | None, periods: Sequence[date]) -> bool:
    """Whether ``period`` lies before the newest of ``periods`` (newest first): counts of the present
    (open events, open alerts, the ticker) then say "now", since they are not that period's."""
    return bool(period and periods and period < periods[0])
